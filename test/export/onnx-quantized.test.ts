// `export-onnx --dtype q8`: onnx/model_quantized.onnx as ONNX Runtime's dynamic quantization writes it, checked
// against ORT's own quantize_dynamic of the same fp32 export (test/export/fixtures/q8, made by
// scripts/fixtures/onnx_quantized.py), against bert-ts q8, and loaded by transformers.js with dtype 'q8'.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { exportOnnxFolder } from '../../src/export/folder.js';
import { AutoModelForSequenceClassification, AutoModelForTokenClassification } from '../../src/model/auto.js';
import { quantizeFolder } from '../../src/model/quantize-folder.js';
import { maxAbsDiff } from '../native/helpers.js';

interface Fixture {
  input_ids: number[][];
  attention_mask: number[][];
  ort_quantized_ops: Record<string, number>;
  bert_ts_quantized_ops: Record<string, number>;
  outputs: Record<'ort_quantized' | 'bert_ts_quantized' | 'fp32', Record<string, number[]>>;
}

const CASES = [
  {
    name: 'bert-seq_cls3',
    model: '../shared/fixtures/hf-tiny/seq_cls3',
    tokenizer: '../shared/fixtures/hf-tiny/tokenizer',
    tokens: false,
  },
  { name: 'distilbert-token_cls5', model: 'test/model/fixtures/family/distilbert/token_cls5', tokens: true },
  { name: 'roberta-seq_cls3', model: 'test/model/fixtures/family/roberta/seq_cls3', tokens: false },
  // ModernBERT: window 6 (and 4, mean pooling, every bias) shorter than the 7 tokens.
  { name: 'modernbert-token_cls5', model: 'test/model/fixtures/family/modernbert/token_cls5', tokens: true },
  { name: 'modernbert-biases-seq_cls3', model: 'test/model/fixtures/family/modernbert-biases/seq_cls3', tokens: false },
];

/**
 * How far two int8 dynamic quantizations of the same model may be apart in the logits (|logits| <= 1.03 here). ORT's
 * quantize_dynamic (uint8 activations per tensor, embeddings and heads quantized too) moves these fixtures' logits from
 * fp32 by at most 0.015, bert-ts q8 (int8 per token, encoder linears only) by at most 0.0017; the bound is twice the
 * larger, while a lost scale, a transposed or unscaled weight or a wrong zero point moves them by the logits' size.
 */
const TOLERANCE = 0.03;

/** Rows of `labels` logits whose argmax differs, skipping rows where `reference`'s top two are within 2 * TOLERANCE. */
function top1Disagreements(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  reference: ArrayLike<number>,
  labels: number,
): number {
  let differ = 0,
    compared = 0;
  for (let r = 0; r < a.length / labels; r++) {
    const row = (x: ArrayLike<number>): number[] => Array.from({ length: labels }, (_, j) => x[r * labels + j]!);
    const argmax = (x: number[]): number => x.indexOf(Math.max(...x));
    const sorted = row(reference).sort((x, y) => y - x);
    if (sorted[0]! - sorted[1]! < 2 * TOLERANCE) continue;
    compared++;
    if (argmax(row(a)) !== argmax(row(b))) differ++;
  }
  assert.ok(compared >= 1, 'every row is a near-tie: nothing compared');
  return differ;
}

const work = mkdtempSync(join(tmpdir(), 'bert-onnx-q8-'));
after(() => rmSync(work, { recursive: true, force: true }));

for (const c of CASES) {
  it(`${c.name}: model_quantized.onnx agrees with ORT's quantize_dynamic, bert-ts q8 and transformers.js`, async () => {
    const fx = JSON.parse(readFileSync(`test/export/fixtures/q8/${c.name}.json`, 'utf8')) as Fixture;
    // ORT's quantize_dynamic writes the same quantization nodes for its MatMuls.
    for (const op of ['DynamicQuantizeLinear', 'MatMulInteger'])
      assert.ok(fx.ort_quantized_ops[op]! > 0 && fx.bert_ts_quantized_ops[op]! > 0, op);

    const out = join(work, c.name);
    const result = exportOnnxFolder(c.model, out, { dtype: 'q8', tokenizerDir: c.tokenizer });
    assert.equal(result.quantizedPath, join(out, 'onnx', 'model_quantized.onnx'));
    const session = await ort.InferenceSession.create(result.quantizedPath!);
    const [B, T] = [fx.input_ids.length, fx.input_ids[0]!.length];
    const int64 = (rows: number[][]): ort.Tensor =>
      new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [B, T]);
    const zeros = fx.input_ids.map((r) => r.map(() => 0));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(fx.input_ids),
      attention_mask: int64(fx.attention_mask),
    };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = int64(zeros);
    const got = (await session.run(feeds)).logits!.data as Float32Array;
    const labels = got.length / (c.tokens ? B * T : B);

    // The graph as Python's ORT ran it when the fixture was made (a changed export shows here first).
    assert.ok(maxAbsDiff(got, fx.outputs.bert_ts_quantized.logits!) < 1e-5, 'vs the fixture run of this graph');
    const ortQuantized = fx.outputs.ort_quantized.logits!;
    const fp32 = fx.outputs.fp32.logits!;
    assert.ok(maxAbsDiff(got, fp32) > 0, 'the quantized graph computes something other than fp32');
    const vsOrt = maxAbsDiff(got, ortQuantized);
    assert.ok(vsOrt <= TOLERANCE, `vs ORT quantize_dynamic: max |diff| ${vsOrt}`);
    assert.equal(top1Disagreements(got, ortQuantized, fp32, labels), 0, 'top-1 vs ORT quantize_dynamic');

    const Auto = c.tokens ? AutoModelForTokenClassification : AutoModelForSequenceClassification;
    // The graph computes every position (transformers' eager path): ModernBERT too, with unpad false.
    const ours = (await Auto.fromPretrained(c.model, { dtype: 'q8', unpad: false })).forward({
      inputIds: fx.input_ids,
      attentionMask: fx.attention_mask,
    }).logits.data;
    const vsBertTs = maxAbsDiff(got, ours);
    assert.ok(vsBertTs <= TOLERANCE, `vs bert-ts q8: max |diff| ${vsBertTs}`);
    assert.equal(top1Disagreements(got, ours, fp32, labels), 0, 'top-1 vs bert-ts q8');

    const { env, Tensor, ...tjs } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = dirname(out);
    const Tjs = c.tokens ? tjs.AutoModelForTokenClassification : tjs.AutoModelForSequenceClassification;
    const model = await Tjs.from_pretrained(basename(out), { dtype: 'q8', device: 'cpu' });
    const tensor = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [B, T]);
    const viaTjs = (await model({
      input_ids: tensor(fx.input_ids),
      attention_mask: tensor(fx.attention_mask),
      ...(feeds.token_type_ids ? { token_type_ids: tensor(zeros) } : {}),
    })) as { logits: { data: Float32Array } };
    assert.ok(maxAbsDiff(viaTjs.logits.data, got) < 1e-6, 'transformers.js runs model_quantized.onnx');
  });
}

it('a q8 folder exports: its int8 weights in model_quantized.onnx (the same graph), model.onnx dequantized', async () => {
  const c = CASES[0]!;
  const q8 = join(work, 'q8-folder');
  await quantizeFolder(c.model, q8, { warn: () => {} });
  const fromFp32 = exportOnnxFolder(c.model, join(work, 'from-fp32'), { dtype: 'q8', tokenizerDir: c.tokenizer });
  const fromQ8 = exportOnnxFolder(q8, join(work, 'from-q8'), { dtype: 'q8', tokenizerDir: c.tokenizer });
  assert.deepEqual(readFileSync(fromQ8.quantizedPath!), readFileSync(fromFp32.quantizedPath!));
  const config = JSON.parse(readFileSync(join(work, 'from-q8', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.quantization_config, undefined, 'the ONNX folder config describes no safetensors quantization');
  assert.notDeepEqual(readFileSync(fromQ8.onnxPath), readFileSync(fromFp32.onnxPath));
});

it('bert export-onnx --dtype q8 writes both graphs and names them; another --dtype is a usage error', () => {
  const c = CASES[0]!;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export-onnx', '--model', c.model, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
    });
  const out = join(work, 'cli');
  const ok = run('--tokenizer', c.tokenizer!, '--output', out, '--dtype', 'q8');
  assert.equal(ok.status, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout.trim().split('\n').pop()!) as { onnx: string; quantized: string };
  assert.equal(summary.quantized, join(out, 'onnx', 'model_quantized.onnx'));
  assert.ok(existsSync(summary.onnx) && existsSync(summary.quantized));
  const bad = run('--output', join(work, 'cli-bad'), '--dtype', 'q4');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--dtype q4 is not one of fp32, q8/);
});
