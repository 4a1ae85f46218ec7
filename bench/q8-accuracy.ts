// What int8 costs in accuracy, bert-ts beside ONNX Runtime (issue 18): a fine-tuned text- or token-classification
// folder scored on labelled data four ways through the same evaluation code (same reading, encoding, batching and
// metric): bert-ts fp32, bert-ts q8, ORT fp32 (our ONNX export) and ORT q8 (that export dynamically quantized by
// Python onnxruntime's quantize_dynamic, per-channel int8 weights, MatMul only — what transformers.js ships as
// model_quantized.onnx). Each is compared with bert-ts fp32: the metric, top-1 agreement and the largest logit change.
// Usage: node --import tsx bench/q8-accuracy.ts --model DIR --data FILE [--max-length 128] [--batch-size 32]
//          [--samples N] [--python PATH]
// --python: a Python with onnxruntime (default $BERT_BENCH_PYTHON or python3).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { exportOnnxFolder } from '../src/export/folder.js';
import { readConfig } from '../src/model/checkpoint.js';
import { readConllJsonl } from '../src/data/conll.js';
import { readTextClassification } from '../src/data/classification.js';
import { encodedDataset } from '../src/data/batching.js';
import { sampleSubset } from '../src/data/sampling.js';
import { predictionOrder, type BertHeadModel } from '../src/train/bert-adapter.js';
import { evaluate, type EvaluateResult } from '../src/train/evaluate.js';
import { genericLabels } from '../src/train/finetune.js';
import { evaluateSequenceClassification, evaluateTokenClassification } from '../src/train/evaluation.js';
import { argmaxRows } from '../src/train/metrics.js';
import { encodeTextExamples, encodeTokenExamples, loadFinetuneTokenizer } from '../src/train/text-encoding.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { int64Tensor, quantizeOnnx } from './forward-peer.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    'max-length': { type: 'string', default: '128' },
    'batch-size': { type: 'string', default: '32' },
    samples: { type: 'string' },
    python: { type: 'string', default: process.env.BERT_BENCH_PYTHON ?? 'python3' },
  },
});
if (!values.model || !values.data) throw new Error('usage: bench/q8-accuracy.ts --model DIR --data FILE');
const model = values.model;
const data = values.data;
const maxLength = Number(values['max-length']);
const batchSize = Number(values['batch-size']);
const samples = values.samples === undefined ? undefined : Number(values.samples);
const config = readConfig(model);
const task = (config.architectures ?? []).some((a) => a.endsWith('ForTokenClassification'))
  ? 'token-classification'
  : 'text-classification';

type Scored = { metric: number; logits: Float32Array; seconds: number };
const metricName = task === 'token-classification' ? 'f1' : 'accuracy';

function scored(r: EvaluateResult, seconds: number): Scored {
  if (r.task !== 'text-classification' && r.task !== 'token-classification') throw new Error(`unexpected ${r.task}`);
  return { metric: Number(r.metrics[metricName]), logits: r.logits, seconds };
}

async function bertTs(dtype: 'fp32' | 'q8'): Promise<Scored> {
  const t0 = performance.now();
  const r = await evaluate({ model, data, maxLength, batchSize, samples, seed: 42, dtype, warn: () => {} });
  return scored(r, (performance.now() - t0) / 1000);
}

/**
 * ORT's logits for the data, scored by the same evaluation code as bert-ts: the ORT session runs every batch first
 * (asynchronously), then a model that replays those logits in order goes through evaluate*'s synchronous loop.
 */
async function onnxRuntime(onnxPath: string): Promise<Scored> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 0 });
  const tok = await loadFinetuneTokenizer(model);
  const label2id = config.label2id;
  const enc =
    task === 'token-classification'
      ? encodeTokenExamples(tok, pick(await readConllJsonl(data, { label2id, numLabels: config.numLabels })), maxLength)
      : encodeTextExamples(
          tok,
          pick(
            await readTextClassification(data, {
              label2id: genericLabels(config) ? undefined : label2id,
              numLabels: config.numLabels,
            }),
          ),
          maxLength,
        );
  const dataset = encodedDataset(enc, task === 'token-classification' ? 'token' : 'sequence', tok.padId);
  // The batches evaluate* will ask for, in its order (longest first).
  const order = predictionOrder(dataset);
  const replay: Tensor[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const inputs = dataset.collate(order.slice(s, s + batchSize));
    const ids = inputs.inputIds as { data: Int32Array; shape: number[] };
    const shape = ids.shape;
    const column = (t: unknown): Int32Array =>
      (t as { data: Int32Array } | undefined)?.data ?? new Int32Array(ids.data.length);
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor(ids.data, shape) };
    if (session.inputNames.includes('attention_mask'))
      feeds['attention_mask'] = int64Tensor((inputs.attentionMask as { data: Int32Array }).data, shape);
    if (session.inputNames.includes('token_type_ids'))
      feeds['token_type_ids'] = int64Tensor(column(inputs.tokenTypeIds), shape);
    const out = (await session.run(feeds))['logits']!;
    replay.push({ data: out.data as Float32Array, shape: [...out.dims] });
  }
  let next = 0;
  const replayModel = {
    architecture: 'onnxruntime',
    seed: 0,
    forward: () => ({ logits: replay[next++]! }),
  } as unknown as BertHeadModel;
  const labels = enc.map((e) => (e as { label?: number }).label ?? -100);
  const ev =
    task === 'token-classification'
      ? evaluateTokenClassification(
          replayModel,
          dataset,
          enc.map((e) => (e as { tokenLabels?: number[] }).tokenLabels ?? []),
          config.id2label,
          batchSize,
        )
      : evaluateSequenceClassification(
          replayModel,
          dataset,
          labels,
          config.numLabels,
          'single_label_classification',
          batchSize,
        );
  return { metric: Number(ev.metrics[metricName]), logits: ev.logits, seconds: (performance.now() - t0) / 1000 };
}

/** evaluate()'s subset: a seeded sample of `samples` examples (all when unset). */
function pick<T>(examples: T[]): T[] {
  return samples === undefined ? examples : sampleSubset(examples, samples, 42);
}

function compare(name: string, s: Scored, base: Scored): Record<string, unknown> {
  const L = config.numLabels;
  const rows = base.logits.length / L;
  if (s.logits.length !== base.logits.length)
    throw new Error(`${name}: ${s.logits.length} logits vs ${base.logits.length}`);
  const a = argmaxRows(s.logits, rows, L),
    b = argmaxRows(base.logits, rows, L);
  let same = 0,
    maxDiff = 0;
  for (let r = 0; r < rows; r++) if (a[r] === b[r]) same++;
  for (let i = 0; i < s.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(s.logits[i]! - base.logits[i]!));
  return {
    run: name,
    [metricName]: +(s.metric * 100).toFixed(2),
    change_points: +((s.metric - base.metric) * 100).toFixed(2),
    top1_agreement_with_bert_ts_fp32: +((same / rows) * 100).toFixed(2),
    max_abs_logit_diff: +maxDiff.toPrecision(3),
    seconds: +s.seconds.toFixed(1),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-q8acc-'));
try {
  const fp32 = await bertTs('fp32');
  const q8 = await bertTs('q8');
  const { onnxPath } = exportOnnxFolder(model, dir);
  const quantized = join(dir, 'onnx', 'model_quantized.onnx');
  const failed = quantizeOnnx(values.python!, onnxPath, quantized);
  if (failed) throw new Error(failed);
  const ortFp32 = await onnxRuntime(onnxPath);
  const ortQ8 = await onnxRuntime(quantized);
  const units = fp32.logits.length / config.numLabels;
  console.log(
    JSON.stringify({
      model,
      data,
      task,
      maxLength,
      compared: units,
      unit: task === 'token-classification' ? 'labelled words' : 'examples',
    }),
  );
  for (const [name, s] of [
    ['bert-ts fp32', fp32],
    ['bert-ts q8', q8],
    ['ORT fp32', ortFp32],
    ['ORT q8 (quantize_dynamic)', ortQ8],
  ] as Array<[string, Scored]>)
    console.log(JSON.stringify(compare(name, s, fp32)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
