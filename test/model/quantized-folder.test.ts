// A q8 model saves as a quantized folder (int8 weights + per-row scales in safetensors, quantization_config in
// config.json) that reloads in q8 with the same output bits and without fp32 copies of its int8 linears.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForSequenceClassification } from '../../src/model/auto.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { tryNativeKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { quantizeWeightsPerChannel } from '../../src/tensor/quant-kernels.js';
import { pipeline } from '../../src/pipelines/pipeline.js';
import type { Kernels } from '../../src/tensor/kernels.js';
import { attentionMask, inputIds } from './batch.js';

const TINY = '../shared/fixtures/hf-tiny/seq_cls3';
const FAMILY = new URL('./fixtures/family/', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'bert-q8-folder-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const FOLDERS: [string, string][] = [
  ['bert', TINY],
  ['distilbert', `${FAMILY}distilbert/seq_cls3`],
  ['electra', `${FAMILY}electra/seq_cls3`],
  ['modernbert', `${FAMILY}modernbert/seq_cls3`],
];
const backends = [jsKernels, tryNativeKernels()].filter((k): k is Kernels => k !== null);

for (const kernels of backends) {
  for (const [family, src] of FOLDERS) {
    test(`${family}: a saved q8 folder reloads in q8 with the bits of quantizing on load (${kernels.name})`, async () => {
      const quantizedOnLoad = await AutoModelForSequenceClassification.fromPretrained(src, { kernels, dtype: 'q8' });
      const expected = quantizedOnLoad.forward({ inputIds, attentionMask }, { grad: false }).logits.data.slice();
      const dir = join(work, `${family}-${kernels.name}`);
      await quantizedOnLoad.save(dir);

      // A CPU without VNNI computes with 7-bit weights: the stored rows are requantized from their dequantized values,
      // which is quantizing on load the folder read as fp32 (on a VNNI CPU the folder's own rows are used as stored).
      if ((kernels.packedLinear?.q8WeightMax ?? 127) !== 127) {
        const dequantized = join(work, `${family}-${kernels.name}-dequantized`);
        await (
          await AutoModelForSequenceClassification.fromPretrained(dir, { kernels, dtype: 'fp32' })
        ).save(dequantized);
        const requantized = await AutoModelForSequenceClassification.fromPretrained(dequantized, {
          kernels,
          dtype: 'q8',
        });
        expected.set(requantized.forward({ inputIds, attentionMask }, { grad: false }).logits.data);
      }
      const reloaded = await AutoModelForSequenceClassification.fromPretrained(dir, { kernels });
      assert.equal(reloaded.dtype, 'q8', 'a q8 folder loads in q8 by default');
      assert.deepEqual(reloaded.loadReport?.missing, []);
      assert.deepEqual(reloaded.loadReport?.unexpected, []);
      const got = reloaded.forward({ inputIds, attentionMask }, { grad: false }).logits.data;
      assert.deepEqual(Array.from(got), Array.from(expected));
      // The int8 linears hold no fp32 values: the flat buffer is smaller by exactly their size.
      const linears = reloaded.parameters().filter((p) => reloaded.store.isExternal(p.name));
      assert.ok(linears.length >= 4 * reloaded.config.numHiddenLayers, `${linears.length} external weights`);
      const saved = linears.reduce((n, p) => n + p.shape[0]! * p.shape[1]!, 0);
      assert.equal(reloaded.store.data.length, quantizedOnLoad.store.data.length - saved);
    });
  }
}

test('the q8 folder: I8 weights + F32 <name>_scale as quantizeWeightsPerChannel gives them, quantization_config', async () => {
  const fp32 = await BertForSequenceClassification.fromPretrained(TINY);
  const q8 = await BertForSequenceClassification.fromPretrained(TINY, { dtype: 'q8' });
  const dir = join(work, 'layout');
  await q8.save(dir);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.quantization_config.quant_method, 'bert-ts-q8');
  assert.equal(config.quantization_config.weight_max, 127);
  const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
  const name = 'bert.encoder.layer.1.attention.self.key.weight';
  const [n, k] = fp32.store.shape(name) as [number, number];
  const want = quantizeWeightsPerChannel(fp32.param(name), n, k, 127);
  const w = tensors.get(name)!;
  const s = tensors.get(`${name}_scale`)!;
  assert.equal(w.dtype, 'I8');
  assert.deepEqual(w.shape, [n, k]);
  assert.equal(s.dtype, 'F32');
  assert.deepEqual(s.shape, [n]);
  assert.deepEqual(Array.from(w.data as Int8Array), Array.from(want.data));
  assert.deepEqual(Array.from(s.data as Float32Array), Array.from(want.scales));
  // Everything outside the encoder linears stays F32 (embeddings, LayerNorms, biases, pooler, classifier).
  const int8 = [...tensors.values()].filter((t) => t.dtype === 'I8').length;
  assert.equal(int8, 6 * fp32.config.numHiddenLayers);
  assert.equal(tensors.get('bert.pooler.dense.weight')!.dtype, 'F32');
  assert.equal(tensors.get('classifier.weight')!.dtype, 'F32');
  // Saved again from the q8 folder: the same int8 bytes (the held weights, not a second rounding).
  const again = join(work, 'layout-again');
  await (await BertForSequenceClassification.fromPretrained(dir)).save(again);
  assert.deepEqual(readFileSync(join(again, 'model.safetensors')), readFileSync(join(dir, 'model.safetensors')));
});

test("a q8 folder read with dtype 'fp32' gets the dequantized weights (int8 * scale) and saves as plain fp32", async () => {
  const dir = join(work, 'dequant');
  await (await BertForSequenceClassification.fromPretrained(TINY, { dtype: 'q8' })).save(dir);
  const fp32 = await BertForSequenceClassification.fromPretrained(dir, { dtype: 'fp32' });
  assert.equal(fp32.dtype, 'fp32');
  const name = 'bert.encoder.layer.0.intermediate.dense.weight';
  const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
  const q = tensors.get(name)!.data as Int8Array;
  const s = tensors.get(`${name}_scale`)!.data as Float32Array;
  const k = fp32.store.shape(name)[1]!;
  const w = fp32.param(name);
  for (let i = 0; i < w.length; i++) assert.equal(w[i], Math.fround(q[i]! * s[Math.floor(i / k)]!));
  const original = await BertForSequenceClassification.fromPretrained(TINY);
  const a = original.forward({ inputIds, attentionMask }, { grad: false }).logits.data;
  const b = fp32.forward({ inputIds, attentionMask }, { grad: false }).logits.data;
  // Only the weights' rounding (1/254 of each row's largest magnitude) separates them: logits move by ~1e-3.
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 0.01, `logit ${i}: ${a[i]} vs ${b[i]}`);
  const out = join(work, 'dequant-saved');
  await fp32.save(out);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config, undefined);
  assert.equal(readSafetensors(join(out, 'model.safetensors')).tensors.get(name)!.dtype, 'F32');
});

test('training a q8 folder is refused with what to do instead', async () => {
  const dir = join(work, 'no-train');
  await (await BertForSequenceClassification.fromPretrained(TINY, { dtype: 'q8' })).save(dir);
  const model = await BertForSequenceClassification.fromPretrained(dir);
  model.forward({ inputIds, attentionMask, labels: [0, 2] });
  assert.throws(() => model.backward(), /quantized \(q8\) folder.*dtype 'fp32'/s);
  assert.throws(
    () => new BertForSequenceClassification(model.config),
    /quantized \(q8\) config has no float32 weights.*fromPretrained/,
  );
});

test('pipeline() of a q8 folder runs in q8 by default, as fromPretrained; dtype fp32 reads it dequantized', async () => {
  const dir = join(work, 'pipeline');
  await (await BertForSequenceClassification.fromPretrained(TINY, { dtype: 'q8' })).save(dir);
  const tokenizer = '../shared/fixtures/hf-tiny/tokenizer';
  const q8 = await pipeline('text-classification', dir, { tokenizer });
  assert.equal(q8.dtype, 'q8');
  assert.equal((await pipeline('text-classification', dir, { tokenizer, dtype: 'fp32' })).dtype, 'fp32');
  const onLoad = await pipeline('text-classification', TINY, { tokenizer, dtype: 'q8' });
  const [a, b] = [await q8('the cat sat on the mat'), await onLoad('the cat sat on the mat')];
  if (process.env.DNNL_MAX_CPU_ISA === undefined) assert.deepEqual(a, b); // the same bits on a VNNI CPU
});

test('on a CPU without VNNI (oneDNN limited to AVX2) a q8 folder runs on rows requantized to 7 bits', () => {
  if (process.env.DNNL_MAX_CPU_ISA !== undefined) return; // this is the child
  // Without the parent runner's NODE_TEST_CONTEXT the child reports in TAP on its stdout.
  const { NODE_TEST_CONTEXT: _runner, ...childEnv } = process.env;
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-name-pattern', '^bert: a saved q8 folder', fileURLToPath(import.meta.url)],
    {
      encoding: 'utf8',
      env: { ...childEnv, DNNL_MAX_CPU_ISA: 'AVX2', ONEDNN_MAX_CPU_ISA: 'AVX2' },
      timeout: 300_000,
    },
  );
  assert.equal(child.status, 0, child.stdout + child.stderr);
  assert.match(child.stdout, /# pass 2\b/);
});
