// Every native kernel against the js reference kernels on random inputs of awkward shapes (1, 3, 17, 768, ...).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import type { Activation, Kernels } from '../../src/tensor/kernels.js';
import { loadNativeAddon, nativeLoadError, tryNativeKernels } from '../../src/native/index.js';
import { assertClose as assertCloseTo, checkAttention, checkDropout, checkLinear, lcgRandom } from './helpers.js';

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

test('gemm: all transposes, awkward shapes, ld > cols, alpha/beta', { skip }, () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 17, 1],
    [17, 3, 5],
    [1, 768, 17],
    [17, 1, 768],
    [33, 65, 129],
    [128, 96, 64],
  ];
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [alpha, beta] of [
          [1, 0],
          [0.7, 1],
          [-1.25, -0.5],
        ] as const) {
          const aRows = transA ? k : m,
            aCols = transA ? m : k,
            bRows = transB ? n : k,
            bCols = transB ? k : n;
          const lda = aCols + 3,
            ldb = bCols + 1,
            ldc = n + 2;
          const a = randomArray(aRows * lda),
            b = randomArray(bRows * ldb);
          const c0 = randomArray(m * ldc);
          if (beta === 0) c0.fill(Number.NaN); // beta = 0 must overwrite, never read C
          const cj = c0.slice(),
            cn = c0.slice(),
            cb = c0.slice();
          jsKernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cj, ldc);
          native().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cn, ldc);
          addon!.sgemmBuiltin(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cb, ldc);
          const what = `gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${k} alpha=${alpha} beta=${beta}`;
          assertClose(cn, cj, 2e-5, what);
          assertClose(cb, cj, 2e-5, `builtin ${what}`);
        }
      }
    }
  }
});

test('gemm: subarray views with offsets and k = 0', { skip }, () => {
  const m = 5,
    n = 7,
    k = 3;
  const bufA = randomArray(100),
    bufB = randomArray(100),
    bufC = randomArray(100);
  const a = bufA.subarray(11, 11 + m * k),
    b = bufB.subarray(3, 3 + k * n);
  const cj = bufC.slice().subarray(9, 9 + m * n),
    cn = bufC.slice().subarray(9, 9 + m * n);
  jsKernels.gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cj, n);
  native().gemm(false, false, m, n, k, 1, a, k, b, n, 0.5, cn, n);
  assertClose(cn, cj, 1e-6, 'gemm on views');
  const cz = randomArray(m * n),
    czj = cz.slice();
  native().gemm(false, false, m, n, 0, 1, a, k, b, n, 0.5, cz, n);
  jsKernels.gemm(false, false, m, n, 0, 1, a, k, b, n, 0.5, czj, n);
  assertClose(cz, czj, 0, 'gemm k=0 scales C by beta');
});

test('linearForward / linearBackward, with and without bias, dx, db', { skip }, () => {
  checkLinear(native(), randomArray);
});

test('activations forward and backward, every hidden_act, serial and parallel sizes', { skip }, () => {
  const acts: Activation[] = ['gelu', 'gelu_new', 'gelu_fast', 'quick_gelu', 'relu', 'silu', 'tanh', 'identity'];
  for (const n of [1, 17, 100003]) {
    const x = randomArray(n, -8, 8);
    x[0] = 0;
    if (n > 2) {
      x[1] = -1e-6;
      x[2] = 1e-6;
    }
    const dy = randomArray(n);
    for (const act of acts) {
      const yj = new Float32Array(n),
        yn = new Float32Array(n);
      jsKernels.activationForward(act, x, yj, n);
      native().activationForward(act, x, yn, n);
      assertClose(yn, yj, 1e-6, `${act} forward n=${n}`);
      const dxj = new Float32Array(n),
        dxn = new Float32Array(n);
      jsKernels.activationBackward(act, x, dy, dxj, n);
      native().activationBackward(act, x, dy, dxn, n);
      assertClose(dxn, dxj, 2e-6, `${act} backward n=${n}`);
      // in place (y may be x)
      const inPlace = x.slice();
      native().activationForward(act, inPlace, inPlace, n);
      assertClose(inPlace, yj, 1e-6, `${act} forward in place`);
    }
  }
});

test('layerNorm forward and backward (mean, rstd, dgamma/dbeta accumulate)', { skip }, () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 17],
    [17, 768],
    [64, 768],
    [5, 3],
  ] as Array<[number, number]>) {
    const x = randomArray(rows * cols, -3, 2),
      gamma = randomArray(cols, 0.5, 1.5),
      beta = randomArray(cols);
    const eps = 1e-12;
    const out = (k: Kernels) => {
      const y = new Float32Array(rows * cols),
        mean = new Float32Array(rows),
        rstd = new Float32Array(rows);
      k.layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
      return { y, mean, rstd };
    };
    const fj = out(jsKernels),
      fn = out(native());
    const what = `layerNorm ${rows}x${cols}`;
    // With a residual: x += residual in place first, then the same LayerNorm, in both backends.
    const residual = randomArray(rows * cols);
    const summed = x.map((v, i) => Math.fround(v + residual[i]!));
    for (const k of [jsKernels, native()]) {
      const xr = x.slice(),
        y = new Float32Array(rows * cols),
        mean = new Float32Array(rows),
        rstd = new Float32Array(rows);
      k.layerNormForward(xr, gamma, beta, y, mean, rstd, rows, cols, eps, residual);
      assert.deepEqual(xr, summed, `${what} ${k.name}: x += residual in place`);
      const yRef = new Float32Array(rows * cols),
        mRef = new Float32Array(rows),
        rRef = new Float32Array(rows);
      jsKernels.layerNormForward(summed.slice(), gamma, beta, yRef, mRef, rRef, rows, cols, eps);
      assertClose(y, yRef, cols === 1 ? 1e-3 : 2e-5, `${what} ${k.name} with residual: y`);
    }
    assertClose(fn.y, fj.y, cols === 1 ? 1e-3 : 2e-5, `${what} y`);
    assertClose(fn.mean, fj.mean, 1e-6, `${what} mean`);
    assertClose(fn.rstd, fj.rstd, cols === 1 ? 1e-3 : 2e-5, `${what} rstd`);
    const dy = randomArray(rows * cols),
      dg0 = randomArray(cols),
      db0 = randomArray(cols);
    const bwd = (k: Kernels) => {
      const dx = new Float32Array(rows * cols),
        dgamma = dg0.slice(),
        dbeta = db0.slice();
      k.layerNormBackward(dy, x, gamma, fj.mean, fj.rstd, dx, dgamma, dbeta, rows, cols);
      return { dx, dgamma, dbeta };
    };
    const bj = bwd(jsKernels),
      bn = bwd(native());
    assertClose(bn.dx, bj.dx, 5e-5, `${what} dx`);
    assertClose(bn.dgamma, bj.dgamma, 2e-5, `${what} dgamma`);
    assertClose(bn.dbeta, bj.dbeta, 2e-5, `${what} dbeta`);
  }
});

test('attention forward and backward: fused QKV column blocks, padding mask, dropout', { skip }, () => {
  checkAttention(native(), randomArray);
});

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

test('dropout: masks and values bit-identical to js, forward and backward, in place', { skip }, () => {
  checkDropout(native(), randomArray);
});

test('softmaxCrossEntropy: ignore index, with and without dlogits, big vocab; bad labels are errors', { skip }, () => {
  for (const [n, c] of [
    [1, 1],
    [17, 3],
    [5, 30522],
    [64, 2],
  ] as Array<[number, number]>) {
    const logits = randomArray(n * c, -5, 5);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = i % 4 === 3 ? -100 : Math.floor(rand() * c);
    const dj = new Float32Array(n * c).fill(9),
      dn = new Float32Array(n * c).fill(9);
    const rj = jsKernels.softmaxCrossEntropy(logits, labels, n, c, -100, dj, 0.25);
    const rn = native().softmaxCrossEntropy(logits, labels, n, c, -100, dn, 0.25);
    assert.equal(rn.count, rj.count, `count ${n}x${c}`);
    assert.ok(
      Math.abs(rn.lossSum - rj.lossSum) <= 1e-9 * (1 + Math.abs(rj.lossSum)),
      `lossSum ${rn.lossSum} vs ${rj.lossSum}`,
    );
    assertClose(dn, dj, 1e-7, `dlogits ${n}x${c}`);
    const r2 = native().softmaxCrossEntropy(logits, labels, n, c, -100, null, 1);
    assert.ok(Math.abs(r2.lossSum - rj.lossSum) <= 1e-9 * (1 + Math.abs(rj.lossSum)));
  }
  assert.throws(
    () => native().softmaxCrossEntropy(new Float32Array(6), Int32Array.of(1, 3), 2, 3, -100, null, 1),
    /label 3 at row 1/,
  );
});

test('adamwStep, sumSquares, scale', { skip }, () => {
  for (const n of [1, 17, 100003]) {
    const p0 = randomArray(n),
      g = randomArray(n, -0.1, 0.1),
      m0 = randomArray(n, -0.01, 0.01),
      v0 = randomArray(n, 0, 1e-4);
    const pj = p0.slice(),
      mj = m0.slice(),
      vj = v0.slice(),
      pn = p0.slice(),
      mn = m0.slice(),
      vn = v0.slice();
    const args = [2e-5, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3] as const;
    jsKernels.adamwStep(pj, g, mj, vj, n, ...args);
    native().adamwStep(pn, g, mn, vn, n, ...args);
    assertClose(pn, pj, 1e-7, `adamw params n=${n}`);
    assertClose(mn, mj, 1e-7, `adamw m n=${n}`);
    assertClose(vn, vj, 1e-7, `adamw v n=${n}`);
    const sj = jsKernels.sumSquares(g, n),
      sn = native().sumSquares(g, n);
    assert.ok(Math.abs(sn - sj) <= 1e-12 * (1 + sj), `sumSquares ${sn} vs ${sj}`);
    const xj = p0.slice(),
      xn = p0.slice();
    jsKernels.scale(xj, n, 0.37);
    native().scale(xn, n, 0.37);
    assert.deepEqual(xn, xj, `scale n=${n}`);
  }
});

test('arguments are checked: short arrays and wrong types are specific errors, not crashes', { skip }, () => {
  assert.throws(
    () =>
      native().gemm(
        false,
        false,
        4,
        4,
        4,
        1,
        new Float32Array(15),
        4,
        new Float32Array(16),
        4,
        0,
        new Float32Array(16),
        4,
      ),
    /gemm: argument 6 is too short: 15 elements, the shapes need 16/,
  );
  assert.throws(
    () =>
      native().gemm(
        false,
        false,
        4,
        4,
        4,
        1,
        new Float32Array(16),
        3,
        new Float32Array(16),
        4,
        0,
        new Float32Array(16),
        4,
      ),
    /lda/,
  );
  assert.throws(
    () =>
      native().linearForward(
        new Float64Array(4) as unknown as Float32Array,
        new Float32Array(4),
        null,
        new Float32Array(4),
        2,
        2,
        2,
      ),
    /must be a Float32Array/,
  );
  assert.throws(
    () => addon!.linearForward(new Float32Array(4), new Float32Array(4), null, new Float32Array(4), 2, 2, 2, 99),
    /linearForward: argument 7 is not a known activation code/,
  );
  assert.throws(
    () => native().dropoutForward(new Float32Array(4), new Float32Array(4), 4, 4, { p: 1, seed: 1, firstExample: 0 }),
    /dropout p/,
  );
});
