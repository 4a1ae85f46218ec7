// `bert quantize` and quantizeFolder(): the q8 folder with the tokenizer files, and the quantization report of the
// written folder against its fp32 original (compareDtypes), equal to `evaluate --dtype q8 --compare fp32` on the
// original because reading the folder gives the bits of quantizing on load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readSafetensors } from '../../src/io/safetensors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeFolder } from '../../src/model/quantize-folder.js';
import { compareDtypes } from '../../src/train/compare-dtypes.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';

const TINY = '../shared/fixtures/hf-tiny';
const work = mkdtempSync(join(tmpdir(), 'bert-quantize-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const model = join(work, 'seq_cls3');
mkdirSync(model);
for (const from of [`${TINY}/seq_cls3`, `${TINY}/tokenizer`])
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(model, f));
const data = join(work, 'seq.jsonl');
const WORDS = ['john', 'lives', 'in', 'paris', 'the', 'cat', 'sat', 'on', 'mat', 'good', 'movie', 'bad', 'day'];
const rows = Array.from({ length: 24 }, (_, i) => ({
  text: Array.from({ length: 3 + (i % 7) }, (_, k) => WORDS[(i * 5 + k * 3) % WORDS.length]).join(' '),
  label: ['negative', 'neutral', 'positive'][i % 3],
}));
writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'quantize', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });

test('bert quantize --data: the folder (tokenizer included) and the report of it against the fp32 original', async () => {
  const out = join(work, 'q8');
  const r = run('--model', model, '--output', out, '--data', data, '--max-length', '32', '--json');
  assert.equal(r.status, 0, r.stderr);
  const printed = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    int8Tensors: number;
    bytesBefore: number;
    bytesAfter: number;
    report: Record<string, unknown>;
  };
  assert.equal(printed.int8Tensors, 12); // 2 layers x (query, key, value, attention output, intermediate, output)
  assert.ok(printed.bytesAfter < printed.bytesBefore, `${printed.bytesAfter} >= ${printed.bytesBefore}`);
  assert.ok(existsSync(join(out, 'vocab.txt')));
  assert.equal((await BertForSequenceClassification.fromPretrained(out)).dtype, 'q8');
  const onLoad = await compareDtypes({ model, data, dtype: 'q8', baseline: 'fp32', maxLength: 32, warn: () => {} });
  for (const key of ['compared', 'agreement', 'maxAbsLogitDiff', 'baselineValue', 'value'] as const)
    assert.equal(printed.report[key], onLoad[key], key);
  assert.ok(onLoad.maxAbsLogitDiff > 0);

  const text = run('--model', model, '--output', join(work, 'q8-text'), '--data', data, '--max-length', '32');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /int8 weights, model\.safetensors [\d.]+ MB -> [\d.]+ MB/);
  assert.match(text.stdout, /q8 vs fp32 on 24 examples:\n {2}top-1 agreement/);
});

test('bert quantize refuses another dtype, a missing flag and writing over the model folder', async () => {
  const bf16 = run('--model', model, '--output', join(work, 'x'), '--dtype', 'bf16');
  assert.equal(bf16.status, 2);
  assert.match(bf16.stderr, /q8 is the only quantized storage/);
  assert.equal(run('--model', model).status, 2);
  await assert.rejects(quantizeFolder(model, model), /the output folder is the model folder/);
  await assert.rejects(quantizeFolder(model, join(work, 'y'), { dtype: 'bf16' }), /must be 'q8'/);
});

test('quantizeFolder keeps the float precision config.json records (float16 beside the int8 weights)', async () => {
  const half = join(work, 'half');
  mkdirSync(half);
  for (const f of readdirSync(model)) copyFileSync(join(model, f), join(half, f));
  const config = JSON.parse(readFileSync(join(half, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(half, 'config.json'), JSON.stringify({ ...config, dtype: 'float16' }));
  const out = join(work, 'half-q8');
  await quantizeFolder(half, out, { warn: () => {} });
  const { tensors } = readSafetensors(join(out, 'model.safetensors'));
  assert.equal(tensors.get('bert.embeddings.LayerNorm.weight')!.dtype, 'F16');
  assert.equal(tensors.get('bert.encoder.layer.0.output.dense.weight')!.dtype, 'I8');
  assert.equal(tensors.get('bert.encoder.layer.0.output.dense.weight_scale')!.dtype, 'F32');
});
