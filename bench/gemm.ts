// GEMM benchmark: BERT-base GEMM shapes through bert-ts's kernels (gemm, linearForward) beside the library's raw sgemm.
import { loadNativeAddon, nativeLoadError, getKernels } from '../src/native/index.js';
import type { Kernels } from '../src/tensor/kernels.js';

interface Row {
  shape: string;
  op: string;
  gflops: number;
  ms: number;
  ratioToReference: number;
}

const reps = Number(process.env.BENCH_REPS ?? 7);
const addon = loadNativeAddon();
if (!addon) {
  console.error(`bench/gemm: ${nativeLoadError()}`);
  process.exit(1);
}
const kernels: Kernels = getKernels({ backend: 'native' });

function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// Runs the contenders round-robin (one rep of each in turn) so that load from other processes hits all alike.
function timeAll(fns: Array<() => void>): number[] {
  for (const fn of fns) fn(); // warm-up: page faults, oneDNN kernel generation
  const times: number[][] = fns.map(() => []);
  for (let r = 0; r < reps; r++) {
    fns.forEach((fn, i) => {
      const t0 = process.hrtime.bigint();
      fn();
      times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  }
  return times.map(median);
}

// [m, n, k] as in y[m,n] = x[m,k] @ w[n,k]^T: QKV/output projections, FFN up, FFN down (32 x 128 tokens).
const shapes: Array<[number, number, number]> = [
  [4096, 768, 768],
  [4096, 3072, 768],
  [4096, 768, 3072],
];
const rows: Row[] = [];
for (const [m, n, k] of shapes) {
  const x = randomArray(m * k, 1),
    w = randomArray(n * k, 2),
    bias = randomArray(n, 3),
    y = new Float32Array(m * n);
  const flops = 2 * m * n * k;
  const shape = `${m}x${n}x${k}`;
  const ops: Array<[string, () => void]> = [
    [
      `sgemmReference (${addon.info().library})`,
      () => addon.sgemmReference(false, true, m, n, k, 1, x, k, w, k, 0, y, n),
    ],
    ['kernels.gemm (NT)', () => kernels.gemm(false, true, m, n, k, 1, x, k, w, k, 0, y, n)],
    ['kernels.gemm (NN)', () => kernels.gemm(false, false, m, n, k, 1, x, k, w, n, 0, y, n)],
    ['kernels.linearForward (+bias)', () => kernels.linearForward(x, w, bias, y, m, n, k)],
  ];
  if (process.env.BENCH_BUILTIN === '1')
    ops.push(['sgemmBuiltin', () => addon.sgemmBuiltin(false, true, m, n, k, 1, x, k, w, k, 0, y, n)]);
  const ms = timeAll(ops.map(([, fn]) => fn));
  // timeAll returns one median per function, in order: ms[i] belongs to ops[i], ms[0] is the reference.
  ops.forEach(([op], i) => {
    const t = ms[i]!;
    rows.push({ shape, op, ms: t, gflops: flops / t / 1e6, ratioToReference: ms[0]! / t });
  });
}

console.log(JSON.stringify({ bench: 'gemm', ...addon.info(), reps, rows }));
console.log(
  `\n${'shape (m x n x k)'.padEnd(18)} ${'op'.padEnd(34)} ${'ms'.padStart(8)} ${'GFLOP/s'.padStart(9)} ${'vs ref'.padStart(7)}`,
);
for (const r of rows) {
  console.log(
    `${r.shape.padEnd(18)} ${r.op.padEnd(34)} ${r.ms.toFixed(2).padStart(8)} ${r.gflops.toFixed(1).padStart(9)} ${r.ratioToReference.toFixed(3).padStart(7)}`,
  );
}
