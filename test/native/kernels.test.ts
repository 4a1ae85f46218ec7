// Every native kernel against the js reference kernels on random inputs of awkward shapes (1, 3, 17, 768, ...).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import type { Kernels } from '../../src/tensor/kernels.js';
import { loadNativeAddon, nativeLoadError, tryNativeKernels } from '../../src/native/index.js';
import { assertClose as assertCloseTo, checkGemm, KERNEL_CHECKS, checkLossAndOptimizer, lcgRandom } from './helpers.js';

const addon = loadNativeAddon();
const nk: Kernels | null = tryNativeKernels();
const skip = addon ? false : `SKIPPED: native addon not built (${nativeLoadError()})`;
if (skip) process.stderr.write(`test/native/kernels.test.ts: ${skip}\n`);

const { rand, randomArray } = lcgRandom(12345);
/** Untouched padding stays NaN in both outputs: NaN against NaN passes here. */
const assertClose = (actual: Float32Array, expected: Float32Array, tol: number, what: string): void =>
  assertCloseTo(actual, expected, tol, what, true);

function native(): Kernels {
  assert.ok(nk, 'native kernels');
  return nk;
}

test(
  'gemm: all transposes, awkward shapes, ld > cols, alpha/beta, views, k = 0 (and the builtin sgemm)',
  { skip },
  () => {
    checkGemm(
      [
        ['native', native().gemm.bind(native())],
        ['builtin', addon!.sgemmBuiltin.bind(addon)],
      ],
      randomArray,
    );
  },
);

for (const [title, check] of KERNEL_CHECKS) test(title, { skip }, () => check(native(), randomArray));

test('add: dst += src, serial and parallel sizes, subarray views', { skip }, () => {
  for (const n of [1, 17, 100003]) {
    const a = randomArray(n + 5),
      b = randomArray(n + 3);
    const dj = a.slice(),
      dn = a.slice();
    jsKernels.add(dj.subarray(2), b.subarray(1), n);
    native().add(dn.subarray(2), b.subarray(1), n);
    assert.deepEqual(dn, dj, `add n=${n}`);
  }
  assert.throws(() => native().add(new Float32Array(3), new Float32Array(2), 3), /add: argument 1 is too short/);
});

test('embedding forward (=, +=) and backward with repeated ids; bad ids are errors', { skip }, () => {
  for (const [vocab, dim, n] of [
    [1, 1, 1],
    [30, 17, 50],
    [1000, 768, 64],
  ] as Array<[number, number, number]>) {
    const table = randomArray(vocab * dim);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = Math.floor(rand() * Math.min(vocab, 7)); // many repeats
    for (const accumulate of [false, true]) {
      const o0 = randomArray(n * dim),
        oj = o0.slice(),
        on = o0.slice();
      jsKernels.embeddingForward(ids, table, oj, n, dim, accumulate);
      native().embeddingForward(ids, table, on, n, dim, accumulate);
      assertClose(on, oj, 0, `embeddingForward ${vocab}x${dim} n=${n} accumulate=${accumulate}`);
    }
    const dout = randomArray(n * dim),
      d0 = randomArray(vocab * dim),
      dj = d0.slice(),
      dn = d0.slice();
    jsKernels.embeddingBackward(ids, dout, dj, n, dim);
    native().embeddingBackward(ids, dout, dn, n, dim);
    assertClose(dn, dj, 1e-6, `embeddingBackward ${vocab}x${dim} n=${n}`);
  }
  assert.throws(
    () => native().embeddingForward(Int32Array.of(0, 5), new Float32Array(5 * 4), new Float32Array(8), 2, 4, false),
    /id 5 at 1/,
  );
});

test('softmaxCrossEntropy, adamwStep, sumSquares, scale', { skip }, () => {
  checkLossAndOptimizer(native(), randomArray, 1e-9);
});

test('an unknown activation code is an error', { skip }, () => {
  assert.throws(
    () => addon!.linearForward(new Float32Array(4), new Float32Array(4), null, new Float32Array(4), 2, 2, 2, 99),
    /linearForward: argument 7 is not a known activation code/,
  );
});
