// The callable tokenizer (tokenizer(text, { text_pair, padding, truncation, max_length, ... })) against what HF
// transformers' tokenizer __call__ returns for the same arguments (test/tokenizer/fixtures/call-hf.json, written by
// scripts/fixtures/tokenizer_call.py), as arrays and as transformers.js-style int64 tensors.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AutoTokenizer } from '../../src/model/auto.js';
import { BertTokenizer, TokenizerError, type AnyTokenizerCallOptions } from '../../src/tokenizer/index.js';
import { ResultTensor } from '../../src/tensor/result.js';
import { TINY_DIR } from './helpers/oracle.js';

interface Case {
  name: string;
  folder: string;
  text: string | string[];
  options: Record<string, unknown>;
  expected?: Record<string, number[] | number[][]>;
  error?: string;
}
const hf = JSON.parse(readFileSync(new URL('fixtures/call-hf.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  distilbert_keys: string[];
};
const tmp = mkdtempSync(join(tmpdir(), 'bert-ts-call-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const camel = (options: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );

test('AutoTokenizer.from_pretrained gives a callable tokenizer (both spellings)', async () => {
  const a = await AutoTokenizer.from_pretrained(TINY_DIR);
  const b = await AutoTokenizer.fromPretrained(TINY_DIR);
  assert.ok(a instanceof BertTokenizer);
  assert.equal(typeof a, 'function');
  assert.deepEqual(a('Hello world!').input_ids.tolist(), b('Hello world!').input_ids.tolist());
  assert.equal(BertTokenizer.from_pretrained(TINY_DIR).vocabSize, a.vocabSize);
  await assert.rejects(
    AutoTokenizer.fromPretrained(TINY_DIR, { revison: 'main' } as never),
    /unknown option "revison"/,
  );
});

for (const c of hf.cases) {
  test(`as HF: ${c.name}`, async () => {
    const tok = await AutoTokenizer.fromPretrained(TINY_DIR);
    for (const options of [c.options, camel(c.options)]) {
      const call = () => tok(c.text, { ...options, return_tensor: false } as AnyTokenizerCallOptions);
      if (c.error) {
        assert.throws(call, TokenizerError);
        continue;
      }
      const got = call();
      assert.deepEqual({ ...got }, c.expected, JSON.stringify(options));
      // The default (transformers.js): [batch, length] int64 tensors, a single text being a batch of one.
      const rows = (x: number[] | number[][]) => (Array.isArray(x[0]) ? (x as number[][]) : [x as number[]]);
      const lengths = new Set(rows(c.expected!['input_ids']!).map((r) => r.length));
      if (lengths.size !== 1) {
        assert.throws(() => tok(c.text, options as AnyTokenizerCallOptions), /padding: true/);
        continue;
      }
      const tensors = tok(c.text, options as AnyTokenizerCallOptions);
      for (const [key, want] of Object.entries(c.expected!)) {
        const t = tensors[key as 'input_ids'];
        assert.ok(t instanceof ResultTensor);
        assert.equal(t.type, 'int64');
        assert.deepEqual(t.dims, [rows(want).length, rows(want)[0]!.length]);
        assert.deepEqual(Array.from(t.data, Number), rows(want).flat());
      }
    }
  });
}

test('token_type_ids follow HF model_input_names (tokenizer_class DistilBertTokenizer has none)', () => {
  const dir = join(tmp, 'distil');
  cpSync(TINY_DIR, dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, tokenizer_class: 'DistilBertTokenizer' }));
  assert.deepEqual(Object.keys(BertTokenizer.fromPretrained(dir)('Hello')).sort(), hf.distilbert_keys);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, model_input_names: ['input_ids'] }));
  assert.deepEqual(Object.keys(BertTokenizer.fromPretrained(dir)('Hello')).sort(), ['attention_mask', 'input_ids']);
});

test('truncation without max_length or model_max_length truncates nothing, as HF', () => {
  // The default model's tokenizer without its model_max_length.
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-no-max-'));
  for (const f of ['vocab.txt', 'tokenizer.json']) copyFileSync(join('assets/default-model', f), join(dir, f));
  const cfg = JSON.parse(readFileSync('assets/default-model/tokenizer_config.json', 'utf8')) as Record<string, unknown>;
  delete cfg['model_max_length'];
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
  const tok = BertTokenizer.fromPretrained(dir);
  rmSync(dir, { recursive: true });
  assert.equal(tok.modelMaxLength, undefined);
  const text = 'word '.repeat(600);
  assert.equal(tok(text, { truncation: true }).input_ids.dims[1], 602);
  assert.equal(tok(text, { truncation: true, max_length: 8 }).input_ids.dims[1], 8);
});

test('bad options are refused, naming the known ones', async () => {
  const tok = await AutoTokenizer.fromPretrained(TINY_DIR);
  assert.throws(() => tok('x', { top_k: 1 } as never), /unknown option "top_k"; known: text_pair \/ textPair/);
  assert.throws(() => tok('x', { max_length: 4, maxLength: 4 } as never), /given twice/);
  assert.throws(() => tok('x', { padding: 'yes' } as never), /padding must be/);
  assert.throws(() => tok(['a', 'b'], { text_pair: 'c' }), /text_pair must be an array/);
  assert.throws(() => tok([]), /empty array/);
  assert.throws(() => tok(3 as never), /must be a string/);
});

test('ResultTensor.tolist nests by dims', () => {
  const t = new ResultTensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 1, 3]);
  assert.deepEqual(t.tolist(), [[[1, 2, 3]], [[4, 5, 6]]]);
  assert.equal(t.size, 6);
  assert.deepEqual(t.shape, [2, 1, 3]);
  assert.throws(() => new ResultTensor('float32', new Float32Array(5), [2, 3]), /hold 6 values/);
});
