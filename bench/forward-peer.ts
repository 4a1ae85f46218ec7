// What the forward benchmarks share: BATCHxSEQ shapes, bert-ts and onnxruntime-node runners on the same inputs,
// ORT sessions with the fair thread settings, and peak RSS measured in a child process.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { BertModel } from '../src/model/bert.js';
import { benchInputs, maxRssMiB } from './bert-base.js';

export const threads = availableParallelism();

/** The flags every peer forward bench takes (its RSS child reuses them): parseArgs options to spread. */
export const PEER_BENCH_FLAGS = {
  child: { type: 'string' },
  onnx: { type: 'string' },
  shape: { type: 'string' },
  reps: { type: 'string', default: '5' },
  'no-rss': { type: 'boolean', default: false },
} as const;

/** "32x128" → [32, 128]; `bench` names the benchmark in the error. */
export function parseShape(s: string, bench: string): [number, number] {
  const [b, t] = s.split('x').map(Number);
  if (b === undefined || t === undefined || !(b > 0 && t > 0)) throw new Error(`${bench}: shape ${s} is not BATCHxSEQ`);
  return [b, t];
}

/**
 * One forward of `model` on the benchmark inputs of shape [B, T], without keeping anything for backward (token type
 * ids only where the model has two or more: RoBERTa's single type is all zeros).
 */
export function bertRunner(model: BertModel, B: number, T: number): () => Float32Array {
  const { ids, mask, types } = benchInputs(B, T);
  const inputs = {
    inputIds: { data: ids, shape: [B, T] },
    attentionMask: { data: mask, shape: [B, T] },
    ...(model.config.typeVocabSize > 1 ? { tokenTypeIds: { data: types, shape: [B, T] } } : {}),
  };
  return () => model.forward(inputs, { grad: false }).lastHiddenState.data;
}

/** Token ids as the int64 tensor the exported graph takes. */
export function int64Tensor(a: Int32Array, shape: number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(a, (v) => BigInt(v)),
    shape,
  );
}

/** One ORT run on the same inputs as bertRunner (int64, as the exported graph takes them; only those it takes). */
export function ortRunner(session: ort.InferenceSession, B: number, T: number): () => Promise<Float32Array> {
  const { ids, mask, types } = benchInputs(B, T);
  const shape = [B, T];
  const all: Record<string, ort.Tensor> = {
    input_ids: int64Tensor(ids, shape),
    attention_mask: int64Tensor(mask, shape),
    token_type_ids: int64Tensor(types, shape),
  };
  const feeds = Object.fromEntries(session.inputNames.map((name) => [name, all[name]!]));
  return async () => (await session.run(feeds)).last_hidden_state!.data as Float32Array;
}

/** ORT with threads = cores; `spin` false turns off its thread pool's busy-waiting (the fair peer on a busy machine). */
export function ortSession(path: string, spin: boolean): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
}

/**
 * Runs `script --child kind --shape shape --onnx onnx ...extra` and returns the peak RSS (MiB) its last line reports.
 */
export function childRss(
  script: string,
  bench: string,
  kind: string,
  shape: string,
  onnx: string,
  extra: string[] = [],
): number {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', script, '--child', kind, '--shape', shape, '--onnx', onnx, ...extra],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${bench}: RSS child ${kind} ${shape} failed:\n${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { rssMiB: number }).rssMiB;
}

/** The RSS child's body: a warm-up and one forward of one runtime at one shape, then its peak RSS as JSON. */
export async function rssChild(run: () => Float32Array | Promise<Float32Array>): Promise<void> {
  await run();
  await run();
  console.log(JSON.stringify({ rssMiB: maxRssMiB() }));
}

export const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/**
 * onnxruntime.quantization.quantize_dynamic of `input` into `output` by `python` (a Python with onnxruntime):
 * per-channel int8 weights of the MatMuls with constant weights, as transformers.js's model_quantized.onnx. Returns
 * the reason when it could not run.
 */
export function quantizeOnnx(python: string, input: string, output: string): string | null {
  const script = [
    'import sys',
    'from onnxruntime.quantization import quantize_dynamic, QuantType',
    "quantize_dynamic(sys.argv[1], sys.argv[2], per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=['MatMul'], extra_options={'MatMulConstBOnly': True})",
  ].join('\n');
  const r = spawnSync(python, ['-c', script, input, output], { encoding: 'utf8' });
  if (r.error) return `${python} did not start (${r.error.message})`;
  if (r.status !== 0) return `${python} quantize_dynamic failed: ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

/** The first `n` texts of a gzipped JSONL file of {"text": ...} rows (IMDb reviews: varying lengths). */
export function jsonlTexts(path: string, n: number): string[] {
  return gunzipSync(readFileSync(path))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, n)
    .map((l) => (JSON.parse(l) as { text: string }).text);
}
