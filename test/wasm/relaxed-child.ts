// Run by test/wasm/relaxed.test.ts in a child Node with relaxed SIMD on: one GEMM through the SIMD128 and the
// relaxed-SIMD micro-kernels (BERT_WASM_RELAXED=0, then 1), printed as JSON (names, whether the bits differ, the
// largest difference from the js reference for each).
import { createWasmKernels } from '../../src/native/index.js';
import { openWasmKernels } from '../../src/native/wasm-kernels.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { lcgRandom } from '../native/helpers.js';

const { randomArray } = lcgRandom(99);
const [m, n, k] = [37, 61, 515]; // edge tiles in both directions, k across the KC block
const a = randomArray(m * k),
  b = randomArray(k * n);
const reference = new Float32Array(m * n);
jsKernels.gemm(false, false, m, n, k, 1, a, k, b, n, 0, reference, n);

const results: Record<string, { name: string; c: Float32Array }> = {};
for (const mode of ['0', '1']) {
  process.env.BERT_WASM_RELAXED = mode;
  const kernels = createWasmKernels(openWasmKernels(1));
  const c = new Float32Array(m * n);
  kernels.gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
  results[mode] = { name: kernels.name, c };
}
const maxDiff = (c: Float32Array): number => c.reduce((d, x, i) => Math.max(d, Math.abs(x - reference[i]!)), 0);
const [off, on] = [results['0']!, results['1']!];
process.stdout.write(
  JSON.stringify({
    names: [off.name, on.name],
    bitsDiffer: off.c.some((x, i) => x !== on.c[i]),
    maxDiff: [maxDiff(off.c), maxDiff(on.c)],
  }),
);
