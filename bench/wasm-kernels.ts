// The WebAssembly kernels against the TypeScript kernels and the native addon: a linear layer's GEMM (BERT-base
// shapes, 128 rows), a BERT-mini forward at 1x128 and a BERT-mini training step at 8x128, backends interleaved
// within each rep, medians reported.
// The wasm rows also show its kernel alone on arguments already in its memory (what the per-call copies cost) and
// packedLinear (the weight packed once, as inference forwards use it). wasm runs at 1 thread and at --wasm-threads
// (default 2: the threaded module on worker_threads). Where the engine validates relaxed SIMD (Node 20: run it with
// --experimental-wasm-relaxed-simd) and BERT_WASM_RELAXED is not 0, every wasm row is measured twice: the SIMD128
// micro-kernel and the relaxed-SIMD one (f32x4.relaxed_madd).
// Usage: node [--experimental-wasm-relaxed-simd] --import tsx bench/wasm-kernels.ts [--reps 7] [--no-js] [--train-js]
//   [--wasm-threads 2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BertForSequenceClassification, BertModel } from '../src/model/bert.js';
import { AdamW } from '../src/train/optim.js';
import { jsKernels } from '../src/tensor/js-kernels.js';
import type { Kernels } from '../src/tensor/kernels.js';
import { createWasmKernels, loadNativeAddon, tryNativeKernels } from '../src/native/index.js';
import { openWasmKernels, relaxedSimdSupported, type WasmKernelExports } from '../src/native/wasm-kernels.js';
import { BERT_BASE_CONFIG, benchInputs, median } from './bert-base.js';
import { bertRunner } from './forward-peer.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    'no-js': { type: 'boolean' },
    'train-js': { type: 'boolean' },
    'wasm-threads': { type: 'string', default: '2' },
  },
});
const reps = Number(values.reps);

const wasmThreads = Number(values['wasm-threads']);
// The micro-kernels to compare: SIMD128 (BERT_WASM_RELAXED=0) and, where the engine has it, relaxed SIMD (=1).
const relaxedModes = relaxedSimdSupported() && process.env.BERT_WASM_RELAXED !== '0' ? ['0', '1'] : ['0'];
function openWith(mode: string, threads: number): { ex: WasmKernelExports; kernels: Kernels } {
  const saved = process.env.BERT_WASM_RELAXED;
  process.env.BERT_WASM_RELAXED = mode;
  try {
    const ex = openWasmKernels(threads);
    return { ex, kernels: createWasmKernels(ex) };
  } finally {
    if (saved === undefined) delete process.env.BERT_WASM_RELAXED;
    else process.env.BERT_WASM_RELAXED = saved;
  }
}
const wasmVariants = relaxedModes.flatMap((mode) => [
  openWith(mode, 1),
  ...(wasmThreads > 1 ? [openWith(mode, wasmThreads)] : []),
]);
const addon = loadNativeAddon();
const native = tryNativeKernels();
const nativeThreads = addon?.info().threads ?? 0;
/** Backends by label; native runs twice, at 1 thread (wasm's) and at its default thread count. */
const backends: Array<{ label: string; kernels: Kernels; threads?: number }> = [
  ...(values['no-js'] ? [] : [{ label: 'js', kernels: jsKernels }]),
  ...wasmVariants.map((v) => ({ label: v.kernels.name, kernels: v.kernels })),
  ...(native && addon
    ? [
        { label: `${native.name} 1 thread`, kernels: native, threads: 1 },
        { label: `${native.name} ${nativeThreads} threads`, kernels: native, threads: nativeThreads },
      ]
    : []),
];
const setThreads = (t?: number): void => {
  if (addon) addon.setNumThreads(t ?? nativeThreads);
};

/** Seconds per call of `fn`, one sample: as many calls as fit in ~0.2 s (at least one). */
function sample(fn: () => void): number {
  fn();
  let calls = 0;
  const t0 = performance.now();
  do {
    fn();
    calls++;
  } while (performance.now() - t0 < 200);
  return (performance.now() - t0) / 1000 / calls;
}

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

const results: Record<string, Record<string, number>> = {};
function record(what: string, label: string, value: number): void {
  (results[what] ??= {})[label] = value;
}

// 1. linearForward y[128, n] = x[128, k] W^T + b, GFLOP/s.
const m = 128;
for (const [n, k] of [
  [768, 768],
  [3072, 768],
  [768, 3072],
] as Array<[number, number]>) {
  const x = rand(m * k, 1),
    w = rand(n * k, 2),
    bias = rand(n, 3),
    y = new Float32Array(m * n);
  const what = `linearForward ${m}x${n}x${k} GFLOP/s`;
  const flops = 2 * m * n * k;
  // Each module's kernel on arguments placed once in its memory (no copies), at 1 thread; packedLinear (the weight
  // packed once) on every variant.
  const alone = wasmVariants
    .filter((v) => v.ex.threads === 1)
    .map(({ ex, kernels }) => {
      const ptrs = [ex.bk_alloc(4 * m * k), ex.bk_alloc(4 * n * k), ex.bk_alloc(4 * n), ex.bk_alloc(4 * m * n)];
      new Float32Array(ex.memory.buffer, ptrs[0]!, m * k).set(x);
      new Float32Array(ex.memory.buffer, ptrs[1]!, n * k).set(w);
      new Float32Array(ex.memory.buffer, ptrs[2]!, n).set(bias);
      return { ex, label: `${kernels.name} kernel alone (no copies)`, ptrs };
    });
  const packed = wasmVariants.map(({ kernels }) => ({
    kernels,
    label: `${kernels.name} packedLinear (weight packed once)`,
    w: kernels.packedLinear!.pack({ dtype: 'fp32', data: w }, n, k),
  }));
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < reps; r++) {
    for (const b of backends) {
      setThreads(b.threads);
      (samples[b.label] ??= []).push(sample(() => b.kernels.linearForward(x, w, bias, y, m, n, k)));
    }
    for (const p of packed)
      (samples[p.label] ??= []).push(sample(() => p.kernels.packedLinear!.forward(x, p.w, bias, y, m)));
    for (const { ex, label, ptrs } of alone) {
      const [px, pw, pb, py] = ptrs as [number, number, number, number];
      (samples[label] ??= []).push(sample(() => ex.bk_linear_forward(px, pw, pb, py, m, n, k, -1)));
    }
  }
  for (const { ex, ptrs } of alone) for (const p of ptrs) ex.bk_free(p);
  for (const [label, s] of Object.entries(samples)) record(what, label, flops / median(s) / 1e9);
}

// 2. BERT-mini (L-4 H-256 A-4 I-1024, BERT's vocabulary, random weights) forward at 1x128, ms.
const MINI = {
  ...BERT_BASE_CONFIG,
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 1024,
};
const runners = backends.map((b) => ({
  ...b,
  run: bertRunner(new BertModel(MINI, { seed: 7, kernels: b.kernels }), 1, 128),
}));
const fwd: Record<string, number[]> = {};
for (let r = 0; r < reps; r++) {
  for (const b of runners) {
    setThreads(b.threads);
    (fwd[b.label] ??= []).push(sample(() => b.run()));
  }
}
setThreads(undefined);
for (const [label, s] of Object.entries(fwd)) record('BERT-mini forward 1x128 ms', label, median(s) * 1000);

// The outputs agree (same seed, same weights): the largest difference to the js / first backend.
const ref = runners[0]!.run().slice();
for (const b of runners.slice(1)) {
  setThreads(b.threads);
  const out = b.run();
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(out[i]! - ref[i]!));
  record('BERT-mini forward: max |diff| to the first backend', b.label, worst);
}
setThreads(undefined);

// 3. BERT-mini sequence classification training step (forward + backward + AdamW) at 8x128, tokens/s. The js
// kernels take ~20 s a step here: left out unless --train-js.
const TB = 8;
const trainers = backends
  .filter((b) => b.label !== 'js' || values['train-js'])
  .map((b) => {
    const model = new BertForSequenceClassification(
      { ...MINI, architectures: ['BertForSequenceClassification'], num_labels: 2 },
      { seed: 3, kernels: b.kernels },
    );
    const optimizer = new AdamW(model.parameters(), { name: 'adamw', weightDecay: 0.01 }, b.kernels);
    const { ids, mask, types } = benchInputs(TB, 128);
    const inputs = {
      inputIds: { data: ids, shape: [TB, 128] },
      attentionMask: { data: mask, shape: [TB, 128] },
      tokenTypeIds: { data: types, shape: [TB, 128] },
      labels: { data: Int32Array.from({ length: TB }, (_, i) => i % 2), shape: [TB] },
    };
    const step = (): void => {
      model.zeroGrad();
      model.forward(inputs, { train: true });
      model.backward();
      optimizer.step(2e-5);
    };
    return { ...b, step };
  });
const steps: Record<string, number[]> = {};
for (let r = 0; r < Math.max(3, Math.ceil(reps / 2)); r++) {
  for (const b of trainers) {
    setThreads(b.threads);
    (steps[b.label] ??= []).push(sample(b.step));
  }
}
setThreads(undefined);
for (const [label, s] of Object.entries(steps))
  record(`BERT-mini train step ${TB}x128 tokens/s`, label, (TB * 128) / median(s));

const load = loadavg().map((v) => v.toFixed(2));
console.log(JSON.stringify({ reps, loadavg: load, results }, null, 2));
