// Per-kernel profile of a BERT-base inference forward (random weights, `grad: false`): where the time goes, kernel
// by kernel, and each GEMM shape's rate through the backend beside oneDNN's raw sgemm on the same shape.
// Usage: node --import tsx bench/profile-forward.ts [--shape 1x128] [--reps 7] [--in-situ]
// --in-situ: after every linearForward, time the raw GEMM (x @ w^T, beta 0) on the very same x and w buffers, so the
// fused kernel and the library's sgemm are compared at the same cache state and moment.
import { parseArgs } from 'node:util';
import { BertModel } from '../src/model/bert.js';
import { getKernels, loadNativeAddon } from '../src/native/index.js';
import type { Kernels } from '../src/tensor/kernels.js';
import { BERT_BASE_CONFIG, benchInputs, forwardFlops, median } from './bert-base.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: '1x128' },
    reps: { type: 'string', default: '7' },
    'in-situ': { type: 'boolean', default: false },
  },
});
const inSitu = values['in-situ']!;
const inSituMs = new Map<string, number>();
let inSituY = new Float32Array(0);
const [B, T] = values.shape!.split('x').map(Number) as [number, number];
const reps = Number(values.reps);

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const spent = new Map<string, number>();
const calls = new Map<string, number>();
const base = getKernels({ backend: 'native' });

/** The backend with every kernel call timed (ms per kernel name, and per GEMM shape for linearForward). */
const timed = new Proxy(base, {
  get(target, prop, receiver) {
    const value = Reflect.get(target, prop, receiver) as unknown;
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => {
      const t0 = now();
      const out = (value as (...a: unknown[]) => unknown).apply(target, args);
      let key = String(prop);
      if (key === 'linearForward') key += ` m=${String(args[4])} n=${String(args[5])} k=${String(args[6])}`;
      spent.set(key, (spent.get(key) ?? 0) + now() - t0);
      calls.set(key, (calls.get(key) ?? 0) + 1);
      if (inSitu && prop === 'linearForward') {
        const [x, w, , , m, n, kk] = args as [Float32Array, Float32Array, unknown, unknown, number, number, number];
        if (inSituY.length < m * n) inSituY = new Float32Array(m * n);
        const t1 = now();
        base.gemm(false, true, m, n, kk, 1, x, kk, w, kk, 0, inSituY, n);
        inSituMs.set(key, (inSituMs.get(key) ?? 0) + now() - t1);
      }
      return out;
    };
  },
}) as Kernels;

const model = new BertModel(BERT_BASE_CONFIG, { seed: 1, kernels: timed });
const { ids, mask, types } = benchInputs(B, T);
const inputs = {
  inputIds: { data: ids, shape: [B, T] },
  attentionMask: { data: mask, shape: [B, T] },
  tokenTypeIds: { data: types, shape: [B, T] },
};
model.forward(inputs, { grad: false });
spent.clear();
calls.clear();
inSituMs.clear();
const totals: number[] = [];
for (let r = 0; r < reps; r++) {
  const inSituBefore = [...inSituMs.values()].reduce((a, b) => a + b, 0);
  const t0 = now();
  model.forward(inputs, { grad: false });
  const inSituSpent = [...inSituMs.values()].reduce((a, b) => a + b, 0) - inSituBefore;
  totals.push(now() - t0 - inSituSpent); // the in-situ GEMMs are not part of the forward
}
const total = median(totals);
const gflop = forwardFlops(B, T) / 1e9;
console.log(
  `BERT-base ${B}x${T} forward (grad: false): median ${total.toFixed(1)} ms, ${((gflop / total) * 1e3).toFixed(1)} GFLOP/s, ${(((B * T) / total) * 1e3).toFixed(0)} tokens/s`,
);
const kernelSum = [...spent.values()].reduce((a, b) => a + b, 0) / reps;
console.log(`time outside kernels (JS glue): ${(total - kernelSum).toFixed(1)} ms per forward`);
for (const [key, ms] of [...spent].sort((a, b) => b[1] - a[1])) {
  const raw = inSituMs.get(key);
  const rawNote =
    raw === undefined
      ? ''
      : `   raw sgemm on the same buffers ${(raw / reps).toFixed(2)} ms (linearForward at ${(raw / ms).toFixed(2)} of it)`;
  console.log(
    `${key.padEnd(40)} ${(ms / reps).toFixed(2).padStart(8)} ms  ${((100 * ms) / reps / total).toFixed(1).padStart(5)} %  ${(calls.get(key)! / reps).toFixed(0).padStart(4)} calls${rawNote}`,
  );
}

// Raw sgemm on the linear shapes (x @ w^T), for comparison with linearForward's rate above.
const addon = loadNativeAddon();
if (addon) {
  for (const [n, k] of [
    [768, 768],
    [2304, 768],
    [3072, 768],
    [768, 3072],
  ] as const) {
    const m = B * T;
    const x = new Float32Array(m * k).fill(0.01);
    const w = new Float32Array(n * k).fill(0.02);
    const y = new Float32Array(m * n);
    const times: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const t0 = now();
      base.gemm(false, true, m, n, k, 1, x, k, w, k, 0, y, n);
      times.push(now() - t0);
    }
    const ms = median(times.slice(1));
    console.log(`sgemm m=${m} n=${n} k=${k}: ${ms.toFixed(2)} ms, ${((2 * m * n * k) / ms / 1e6).toFixed(1)} GFLOP/s`);
  }
}
