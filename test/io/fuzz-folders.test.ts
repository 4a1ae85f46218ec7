// Seeded, bounded mutation fuzzing of the tokenizer and model folder readers through fromPretrained
// (longer runs: `npx tsx scripts/fuzz-io.ts 60 1 folders`), and the hostile sizes a config.json can ask for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runIoFuzz } from './helpers/fuzz-io.js';
import { folderFuzzTargets } from './helpers/fuzz-folders.js';
import { CheckpointFormatError } from '../../src/io/index.js';
import { ConfigError } from '../../src/model/config.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { BertTokenizer, TokenizerError } from '../../src/tokenizer/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

const TINY = '../shared/fixtures/hf-tiny';

test(
  'mutated tokenizer.json / tokenizer_config.json / vocab.txt / config.json / weights only raise typed errors, quickly',
  { timeout: 120_000 },
  async () => {
    const { targets, cleanup } = folderFuzzTargets();
    try {
      const before = process.memoryUsage().rss;
      const report = await runIoFuzz(targets, 20261126, 60);
      const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
      assert.deepEqual(report.failures, [], JSON.stringify(report.failures.slice(0, 3), null, 1));
      assert.equal(report.cases, targets.length * 60);
      assert.ok(
        report.accepted > report.cases / 10,
        `some mutations must load (${report.accepted} of ${report.cases}), else the fuzzer tests nothing`,
      );
      assert.ok(
        report.rejected > report.cases / 3,
        `most mutations should be rejected (${report.rejected} of ${report.cases})`,
      );
      assert.ok(grownMb < 512, `memory grew by ${grownMb.toFixed(0)} MB`);
    } finally {
      cleanup();
    }
  },
);

/** A copy of hf-tiny seq_cls3 whose config.json has `changes` applied (the weights are linked, not copied). */
function modelWithConfig(changes: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-config-'));
  const config = { ...JSON.parse(readFileSync(join(TINY, 'seq_cls3/config.json'), 'utf8')), ...changes };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  symlinkSync(resolve(TINY, 'seq_cls3/model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

const HOSTILE: Array<[string, Record<string, unknown>, RegExp]> = [
  ['vocab_size 1e12', { vocab_size: 1e12 }, /"vocab_size" must be an integer in \[1, 16777216\], found 1000000000000/],
  ['hidden_size 2^31', { hidden_size: 2 ** 31 }, /"hidden_size" must be an integer in \[1, 65536\]/],
  ['num_hidden_layers 1e9', { num_hidden_layers: 1e9 }, /"num_hidden_layers" must be an integer in \[0, 1024\]/],
  [
    'max_position_embeddings 2^53',
    { max_position_embeddings: 2 ** 53 },
    /"max_position_embeddings" must be an integer in \[1, 1048576\]/,
  ],
  ['intermediate_size 1e10', { intermediate_size: 1e10 }, /"intermediate_size" must be an integer in \[1, 262144\]/],
  [
    'num_labels 1e9 (no id2label)',
    { num_labels: 1e9, id2label: undefined, label2id: undefined },
    /"num_labels" must be an integer in \[1, 1048576\]/,
  ],
  [
    'every size at its limit',
    {
      vocab_size: 2 ** 24,
      hidden_size: 2 ** 16,
      num_attention_heads: 2 ** 16,
      num_hidden_layers: 1024,
      intermediate_size: 2 ** 18,
    },
    /the model would have .* parameters .*the limit is 1073741824/,
  ],
  [
    'layer_norm_eps 1e999 (Infinity)',
    { layer_norm_eps: '__INF__' },
    /"layer_norm_eps" must be a finite positive number, found Infinity/,
  ],
  [
    '1000 layers of intermediate size 8192 beside a 2-layer checkpoint',
    { num_hidden_layers: 1000, intermediate_size: 8192 },
    /describes a model of \d+ parameters but .*model\.safetensors holds only \d+ values/,
  ],
  [
    'id2label with a gap',
    { id2label: { 0: 'a', 2: 'c' }, label2id: undefined },
    /config\.json: id2label ids must be 0\.\.1, found 2/,
  ],
];

for (const [what, changes, message] of HOSTILE) {
  test(`config.json with ${what}: refused before any allocation, with the file named`, async () => {
    const dir = modelWithConfig(changes);
    try {
      const text = readFileSync(join(dir, 'config.json'), 'utf8').replace('"__INF__"', '1e999');
      writeFileSync(join(dir, 'config.json'), text);
      const before = process.memoryUsage().rss;
      const started = performance.now();
      await assert.rejects(
        BertForSequenceClassification.fromPretrained(dir, { kernels: jsKernels, warn: () => {} }),
        (err: unknown) => {
          assert.ok(
            err instanceof ConfigError || err instanceof CheckpointFormatError,
            `typed error expected, got ${String(err)}`,
          );
          assert.match((err as Error).message, /config\.json/);
          assert.match((err as Error).message, message);
          return true;
        },
      );
      assert.ok(performance.now() - started < 2000, `refused in ${(performance.now() - started).toFixed(0)} ms`);
      assert.ok(process.memoryUsage().rss - before < 256 * 2 ** 20, 'nothing large was allocated');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a tokenizer.json with 10,000 added tokens loads in linear time (was quadratic: 8,000 took 7.5 s)', () => {
  const doc = JSON.parse(readFileSync(join(TINY, 'tokenizer/tokenizer.json'), 'utf8')) as { added_tokens: unknown[] };
  for (let i = 0; i < 10_000; i++) {
    doc.added_tokens.push({
      id: 5000 + i,
      content: `<t${i}>`,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: i % 2 === 0,
      special: i % 3 === 0,
    });
  }
  const started = performance.now();
  const tokenizer = BertTokenizer.fromTokenizerJson(JSON.stringify(doc));
  const ms = performance.now() - started;
  assert.ok(ms < 2000, `loaded in ${ms.toFixed(0)} ms`);
  assert.equal(
    tokenizer.encode('a <t7> b <t9998>', null, { addSpecialTokens: false }).inputIds.filter((id) => id >= 1881).length,
    2,
    'both added tokens found',
  );
});

test("padding 'max_length' to a huge model_max_length from the folder is refused, not allocated", () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-tok-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(TINY, 'tokenizer/tokenizer.json')));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e14 }));
    const tokenizer = BertTokenizer.fromPretrained(dir);
    assert.throws(
      () => tokenizer.encode('hello', null, { padding: 'max_length' }),
      (err: unknown) => {
        assert.ok(err instanceof TokenizerError, String(err));
        assert.match((err as Error).message, /model_max_length 100000000000000 .* give maxLength/);
        return true;
      },
    );
    assert.equal(tokenizer.encode('hello', null, { padding: 'max_length', maxLength: 8 }).inputIds.length, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 300 MB config.json or tokenizer.json (sparse) is refused by size before it is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-big-'));
  try {
    writeFileSync(join(dir, 'config.json'), '');
    truncateSync(join(dir, 'config.json'), 300 * 2 ** 20);
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(dir, { kernels: jsKernels, warn: () => {} }),
      (err: unknown) => {
        assert.ok(err instanceof CheckpointFormatError, String(err));
        assert.match(
          (err as Error).message,
          /config\.json: model config is 314572800 bytes; text files over 268435456 bytes \(256 MiB\) are refused/,
        );
        return true;
      },
    );
    writeFileSync(join(dir, 'tokenizer.json'), '');
    truncateSync(join(dir, 'tokenizer.json'), 300 * 2 ** 20);
    assert.throws(
      () => BertTokenizer.fromPretrained(dir),
      (err: unknown) => {
        assert.ok(err instanceof TokenizerError, String(err));
        assert.match(
          (err as Error).message,
          /tokenizer\.json: 314572800 bytes; tokenizer files over 256 MiB are refused/,
        );
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
