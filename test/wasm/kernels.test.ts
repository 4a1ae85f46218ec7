// Every WebAssembly kernel against the js reference kernels on awkward shapes, with the tolerances of the native
// kernel tests (test/native/kernels.test.ts): NaN-filled outputs, subarray views, in-place calls, fused QKV blocks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import type { Activation, Kernels } from '../../src/tensor/kernels.js';
import { jsPackedLinear } from '../../src/tensor/quant-kernels.js';
import { getKernels, tryWasmKernels, wasmLoadError } from '../../src/native/index.js';
import {
  assertClose as assertCloseTo,
  checkGemm,
  KERNEL_CHECKS,
  checkLossAndOptimizer,
  lcgRandom,
} from '../native/helpers.js';

const wk: Kernels | null = tryWasmKernels();
const skip = wk ? false : `SKIPPED: ${wasmLoadError()}`;
if (skip) process.stderr.write(`test/wasm/kernels.test.ts: ${skip}\n`);

const { randomArray } = lcgRandom(4242);
const assertClose = (actual: Float32Array, expected: Float32Array, tol: number, what: string): void =>
  assertCloseTo(actual, expected, tol, what, true);

function wasm(): Kernels {
  assert.ok(wk, 'wasm kernels');
  return wk;
}

test('backend selection: BERT_BACKEND=wasm / backend option', { skip }, () => {
  assert.equal(getKernels({ backend: 'wasm' }), wasm());
  // test/wasm/relaxed.test.ts reruns this file with BERT_WASM_RELAXED=1: every check below is then the relaxed GEMM's.
  assert.match(wasm().name, process.env.BERT_WASM_RELAXED === '1' ? /^wasm \(relaxed-simd,/ : /^wasm/);
});

test('gemm: all transposes, awkward shapes, ld > cols, alpha/beta, views, k = 0', { skip }, () => {
  checkGemm([['wasm', wasm().gemm.bind(wasm())]], randomArray, [[130, 2100, 300]]); // crosses the MC, NC and KC blocks
});

for (const [title, check] of KERNEL_CHECKS) test(title, { skip }, () => check(wasm(), randomArray));

test('softmaxCrossEntropy, AdamW, sumSquares, scale; add and embeddings are the js kernels', { skip }, () => {
  checkLossAndOptimizer(wasm(), randomArray, 1e-6);
  const [p, g, m, v] = [randomArray(17), randomArray(17), randomArray(17, -0.1, 0.1), randomArray(17, 0, 0.01)];
  const [pw, mw, vw] = [p.slice(), m.slice(), v.slice()];
  jsKernels.adamwStep(p, g, m, v, 17, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.271, 0.003);
  wasm().adamwStep(pw, g, mw, vw, 17, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.271, 0.003);
  assert.deepEqual([pw, mw, vw], [p, m, v], 'adamwStep: the same bits as js (double arithmetic)');
  // Delegated to the js kernels (gather / scatter over the whole table): the same functions.
  assert.equal(wasm().embeddingForward, jsKernels.embeddingForward);
  assert.equal(wasm().embeddingBackward, jsKernels.embeddingBackward);
  assert.equal(wasm().add, jsKernels.add);
});

test(
  'packedLinear: fp32 packed once in the module (block edges, bias, activation); q8 and bf16 as the reference',
  { skip },
  () => {
    const pl = wasm().packedLinear!;
    for (const [m, n, k] of [
      [1, 1, 1],
      [17, 3, 768],
      [5, 2100, 300],
      [128, 768, 768],
    ] as Array<[number, number, number]>) {
      const x = randomArray(m * k),
        w = randomArray(n * k + 3).subarray(3),
        bias = randomArray(n);
      const wCopy = w.slice();
      const packed = pl.pack({ dtype: 'fp32', data: w }, n, k);
      w.fill(0); // packing copied the weight
      for (const act of [undefined, 'gelu'] as Array<Activation | undefined>) {
        for (const b of [bias, null]) {
          const yj = new Float32Array(m * n),
            yw = new Float32Array(m * n).fill(Number.NaN);
          jsKernels.linearForward(x, wCopy, b, yj, m, n, k, act);
          pl.forward(x, packed, b, yw, m, act);
          assertClose(yw, yj, 2e-5, `packed fp32 ${m}x${n}x${k} bias=${b !== null} ${act ?? 'none'}`);
        }
      }
    }
    const [m, n, k] = [9, 33, 70];
    const x = randomArray(m * k),
      bias = randomArray(n);
    const w8 = Int8Array.from(randomArray(n * k), (v) => Math.round(v * 100));
    const scales = randomArray(n, 0.001, 0.01);
    const yj = new Float32Array(m * n),
      yw = new Float32Array(m * n);
    jsPackedLinear.forward(x, jsPackedLinear.pack({ dtype: 'q8', data: w8, scales }, n, k), bias, yj, m);
    pl.forward(x, pl.pack({ dtype: 'q8', data: w8, scales }, n, k), bias, yw, m);
    assert.deepEqual(yw, yj, 'q8 runs on the reference kernels');
  },
);
