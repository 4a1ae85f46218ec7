// The in-page half of bench/browser-forward.ts (bundled by scripts/build-browser.mjs --entry): bert-ts on the
// WebAssembly kernels and onnxruntime-web's WASM backend on the same weights, inputs and thread count (one page per
// count: onnxruntime-web fixes its threads at its first session), one timed call at a time so that the Node side
// interleaves them; and a BERT-mini training step (forward, backward, AdamW). Where the page's kernels run the
// relaxed-SIMD micro-kernel, a second bert-ts engine ('bert-ts-simd128': the same kernels with relaxed: false) runs
// the same forwards, so that relaxed SIMD on and off are compared in the same page.
import { loadWasmBackend, useWasmBackend } from '../src/browser/web/wasm.js';
import { fetchModelFolder } from '../src/browser/web/files.js';
import { BertForSequenceClassification, BertModel } from '../src/model/bert.js';
import type { Kernels } from '../src/tensor/kernels.js';
import { AdamW } from '../src/train/optim.js';
import { benchInputs } from './bert-base.js';

interface OrtTensor {
  data: unknown;
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { numThreads: number; simd?: boolean; wasmPaths: string } };
  Tensor: new (type: string, data: BigInt64Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array, options: object): Promise<OrtSession> };
}

let kernels: Kernels;
let kernelsSimd128: Kernels | null = null;
let ort: Ort;
const bert = new Map<string, BertModel>();
const bertSimd128 = new Map<string, BertModel>();
const sessions = new Map<string, OrtSession>();
let trainer: { model: BertForSequenceClassification; opt: AdamW } | null = null;

export async function init(
  wasmUrl: string,
  ortUrl: string,
  threads: number,
): Promise<{ backend: string; simd128Backend: string | null; isolated: boolean }> {
  kernels = await useWasmBackend(wasmUrl, { threads });
  if (kernels.name.includes('relaxed')) kernelsSimd128 = await loadWasmBackend(wasmUrl, { threads, relaxed: false });
  ort = (await import(/* @vite-ignore */ `${ortUrl}ort.wasm.min.mjs`)) as Ort;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = ortUrl;
  return {
    backend: kernels.name,
    simd128Backend: kernelsSimd128?.name ?? null,
    isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
  };
}

/** Loads the model folder at `modelUrl` (bert-ts) and its ONNX export at `onnxUrl` (onnxruntime-web). */
export async function load(name: string, modelUrl: string, onnxUrl: string): Promise<void> {
  await fetchModelFolder(modelUrl, `/models/${name}`, ['config.json', 'model.safetensors']);
  bert.set(name, await BertModel.fromPretrained(`/models/${name}`, { kernels, warn: () => {} }));
  if (kernelsSimd128)
    bertSimd128.set(
      name,
      await BertModel.fromPretrained(`/models/${name}`, { kernels: kernelsSimd128, warn: () => {} }),
    );
  const bytes = new Uint8Array(await (await fetch(onnxUrl)).arrayBuffer());
  sessions.set(
    name,
    await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }),
  );
}

/** Milliseconds of one forward (last hidden state) of `engine` on `name` at batch x seq; the first output value. */
export async function forward(
  engine: 'bert-ts' | 'bert-ts-simd128' | 'ort',
  name: string,
  batch: number,
  seq: number,
): Promise<{ ms: number; first: number }> {
  const { ids, mask, types } = benchInputs(batch, seq);
  if (engine !== 'ort') {
    const model = (engine === 'bert-ts' ? bert : bertSimd128).get(name)!;
    const inputs = {
      inputIds: { data: ids, shape: [batch, seq] },
      attentionMask: { data: mask, shape: [batch, seq] },
      tokenTypeIds: { data: types, shape: [batch, seq] },
    };
    const t0 = performance.now();
    const out = model.forward(inputs, { grad: false }).lastHiddenState.data;
    return { ms: performance.now() - t0, first: out[0]! };
  }
  const session = sessions.get(name)!;
  const i64 = (a: Int32Array): OrtTensor =>
    new ort.Tensor(
      'int64',
      BigInt64Array.from(a, (v) => BigInt(v)),
      [batch, seq],
    );
  const all: Record<string, OrtTensor> = { input_ids: i64(ids), attention_mask: i64(mask), token_type_ids: i64(types) };
  const feeds = Object.fromEntries(session.inputNames.map((n) => [n, all[n]!]));
  const t0 = performance.now();
  const out = (await session.run(feeds)).last_hidden_state!.data as Float32Array;
  return { ms: performance.now() - t0, first: out[0]! };
}

/** Milliseconds of one training step of a sequence classifier on the folder `name`: forward, backward, AdamW. */
export async function trainStep(name: string, batch: number, seq: number): Promise<number> {
  trainer ??= await (async () => {
    const model = await BertForSequenceClassification.fromPretrained(`/models/${name}`, { kernels, warn: () => {} });
    return { model, opt: new AdamW(model.parameters(), { name: 'adamw', weightDecay: 0.01 }, kernels) };
  })();
  return timedTrainStep(trainer.model, trainer.opt, batch, seq);
}

/** One training step, timed (shared with the Node side, which runs it on the native backend). */
export function timedTrainStep(model: BertForSequenceClassification, opt: AdamW, batch: number, seq: number): number {
  const { ids, mask, types } = benchInputs(batch, seq);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 2);
  const t0 = performance.now();
  model.zeroGrad();
  model.forward(
    {
      inputIds: { data: ids, shape: [batch, seq] },
      attentionMask: { data: mask, shape: [batch, seq] },
      tokenTypeIds: { data: types, shape: [batch, seq] },
      labels: { data: labels, shape: [batch] },
    },
    { train: true },
  );
  model.backward();
  opt.step(1e-5);
  return performance.now() - t0;
}
