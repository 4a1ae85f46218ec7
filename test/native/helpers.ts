// Shared by the native-vs-js and wasm-vs-js kernel tests: a seeded stream of random inputs, a relative-tolerance
// comparison, and the checks both backends pass against the js reference kernels.
import assert from 'node:assert/strict';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { dropoutHash } from '../../src/tensor/kernels.js';
import type { Activation, DropoutSpec, Kernels } from '../../src/tensor/kernels.js';

export type RandomArray = (n: number, lo?: number, hi?: number) => Float32Array;

/** A linear congruential stream from `seed`: rand() in [0, 1) and arrays uniform in [lo, hi). */
export function lcgRandom(seed: number): {
  rand: () => number;
  randomArray: (n: number, lo?: number, hi?: number) => Float32Array;
} {
  let state = seed;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const randomArray = (n: number, lo = -1, hi = 1): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
    return a;
  };
  return { rand, randomArray };
}

/**
 * |a - b| <= tol * (1 + |b|) everywhere, reporting the worst element. A NaN fails, except NaN in both where
 * `nanPadding` says the kernel must leave padding untouched (NaN-filled outputs).
 */
export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  tol: number,
  what: string,
  nanPadding = false,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const got = actual[i]!,
      want = expected[i]!;
    if (nanPadding && Number.isNaN(want) && Number.isNaN(got)) continue;
    const err = Math.abs(got - want) / (1 + Math.abs(want));
    if (!(err <= worstErr)) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0 && !(worstErr <= tol))
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rel err ${worstErr} > ${tol})`,
    );
}

/** Untouched padding stays NaN in both outputs: NaN against NaN passes. */
const closeOrNaN = (actual: Float32Array, expected: Float32Array, tol: number, what: string): void =>
  assertClose(actual, expected, tol, what, true);

/** linearForward (with and without bias, every fused activation, which equals linear + activation) and linearBackward (with and without dx, db) of `kk` against js on awkward shapes. */
export function checkLinear(kk: Kernels, randomArray: RandomArray): void {
  for (const [m, n, k] of [
    [1, 1, 1],
    [17, 3, 768],
    [1, 768, 17],
    [33, 50, 19],
    [64, 768, 768],
  ] as Array<[number, number, number]>) {
    const x = randomArray(m * k),
      w = randomArray(n * k),
      bias = randomArray(n);
    for (const withBias of [true, false]) {
      const yj = new Float32Array(m * n),
        yn = new Float32Array(m * n).fill(Number.NaN);
      jsKernels.linearForward(x, w, withBias ? bias : null, yj, m, n, k);
      kk.linearForward(x, w, withBias ? bias : null, yn, m, n, k);
      closeOrNaN(yn, yj, 2e-5, `linearForward ${m}x${n}x${k} bias=${withBias}`);
      // The fused activation (inference) equals linear then the activation kernel, in both backends.
      for (const act of ['gelu', 'gelu_new', 'tanh', 'relu', 'identity'] as Activation[]) {
        const fj = new Float32Array(m * n),
          fn = new Float32Array(m * n).fill(Number.NaN);
        jsKernels.linearForward(x, w, withBias ? bias : null, fj, m, n, k, act);
        kk.linearForward(x, w, withBias ? bias : null, fn, m, n, k, act);
        const sep = new Float32Array(m * n);
        jsKernels.activationForward(act, yj, sep, m * n);
        assert.deepEqual(
          fj,
          sep,
          `js linearForward ${m}x${n}x${k} bias=${withBias} ${act}: fused = linear + activation`,
        );
        closeOrNaN(fn, fj, 2e-5, `linearForward ${m}x${n}x${k} bias=${withBias} ${act}`);
      }
    }
    const dy = randomArray(m * n);
    const dw0 = randomArray(n * k),
      db0 = randomArray(n);
    for (const [withDx, withDb] of [
      [true, true],
      [false, false],
      [true, false],
    ]) {
      const dxj = withDx ? new Float32Array(m * k) : null,
        dxn = withDx ? new Float32Array(m * k).fill(Number.NaN) : null;
      const dwj = dw0.slice(),
        dwn = dw0.slice(),
        dbj = withDb ? db0.slice() : null,
        dbn = withDb ? db0.slice() : null;
      jsKernels.linearBackward(dy, x, w, dxj, dwj, dbj, m, n, k);
      kk.linearBackward(dy, x, w, dxn, dwn, dbn, m, n, k);
      const what = `linearBackward ${m}x${n}x${k} dx=${withDx} db=${withDb}`;
      if (dxj && dxn) closeOrNaN(dxn, dxj, 2e-5, `${what} dx`);
      closeOrNaN(dwn, dwj, 2e-5, `${what} dw (+=)`);
      if (dbj && dbn) closeOrNaN(dbn, dbj, 2e-5, `${what} db (+=)`);
    }
  }
}

/** attentionForward / attentionBackward of `kk` against js: fused QKV column blocks with ld > width, a padding mask, dropout; the context without a probs buffer bit for bit. */
export function checkAttention(kk: Kernels, randomArray: RandomArray): void {
  const cases: Array<{ B: number; T: number; H: number; D: number; dropout: DropoutSpec | null }> = [
    { B: 1, T: 1, H: 1, D: 1, dropout: null },
    { B: 2, T: 17, H: 3, D: 5, dropout: null },
    { B: 2, T: 17, H: 3, D: 5, dropout: { p: 0.1, seed: 987654321, firstExample: 0 } },
    { B: 3, T: 33, H: 2, D: 16, dropout: { p: 0.5, seed: -7, firstExample: 11 } },
    { B: 1, T: 128, H: 12, D: 64, dropout: null },
  ];
  for (const { B, T, H, D, dropout } of cases) {
    const hd = H * D,
      ld = 3 * hd + 1,
      ldCtx = hd + 3;
    const qkv = randomArray(B * T * ld, -2, 2);
    const q = qkv.subarray(0),
      k = qkv.subarray(hd),
      v = qkv.subarray(2 * hd);
    const maskBias = new Float32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (t > 0 && t >= T - b * 3) maskBias[b * T + t] = -10000;
    const scale = 1 / Math.sqrt(D);
    const fwd = (kk: Kernels) => {
      const probs = new Float32Array(B * H * T * T),
        ctx = new Float32Array(B * T * ldCtx).fill(7);
      kk.attentionForward(q, k, v, ld, maskBias, probs, ctx, ldCtx, B, T, H, D, scale, dropout);
      return { probs, ctx };
    };
    const fj = fwd(jsKernels),
      fn = fwd(kk);
    const what = `attention B=${B} T=${T} H=${H} D=${D} dropout=${dropout ? dropout.p : 'none'}`;
    closeOrNaN(fn.probs, fj.probs, 1e-5, `${what} probs`);
    closeOrNaN(fn.ctx, fj.ctx, 2e-5, `${what} ctx (padding columns untouched)`);
    // Without a probs buffer (inference): the same context, bit for bit, in both backends.
    for (const [kernels, ref] of [
      [jsKernels, fj],
      [kk, fn],
    ] as const) {
      const ctx = new Float32Array(B * T * ldCtx).fill(7);
      kernels.attentionForward(q, k, v, ld, maskBias, null, ctx, ldCtx, B, T, H, D, scale, dropout);
      assert.deepEqual(ctx, ref.ctx, `${what} ${kernels.name}: ctx without probs`);
    }
    const dctx = randomArray(B * T * ldCtx);
    const bwd = (kk: Kernels) => {
      const g = new Float32Array(B * T * ld).fill(5);
      const dq = g.subarray(0),
        dk = g.subarray(hd),
        dv = g.subarray(2 * hd);
      kk.attentionBackward(dctx, ldCtx, q, k, v, ld, fj.probs, dq, dk, dv, B, T, H, D, scale, dropout);
      return g;
    };
    closeOrNaN(bwd(kk), bwd(jsKernels), 5e-5, `${what} dq/dk/dv`);
  }
}

/** dropoutForward / dropoutBackward of `kk` bit-identical to js, per example (sizes that divide n, a short last example, one example for the whole call), in place; the drop rate and the mask formula. */
export function checkDropout(kk: Kernels, randomArray: RandomArray): void {
  // Example sizes that divide n, that leave a short last example, and one example for the whole call.
  for (const [n, E] of [
    [1, 1],
    [17, 5],
    [100003, 768],
    [100003, 100003],
  ] as const) {
    for (const spec of [
      { p: 0.1, seed: 42, firstExample: 0 },
      { p: 0.5, seed: -123456789, firstExample: 9 },
      { p: 0.9, seed: 0x7fffffff, firstExample: 1 },
      { p: 0, seed: 3, firstExample: 0 },
    ]) {
      const x = randomArray(n);
      const yj = new Float32Array(n),
        yn = new Float32Array(n);
      jsKernels.dropoutForward(x, yj, n, E, spec);
      kk.dropoutForward(x, yn, n, E, spec);
      assert.deepEqual(yn, yj, `dropoutForward n=${n} E=${E} p=${spec.p}`);
      const dj = x.slice(),
        dn = x.slice();
      jsKernels.dropoutBackward(dj, dj, n, E, spec);
      kk.dropoutBackward(dn, dn, n, E, spec);
      assert.deepEqual(dn, dj, `dropoutBackward in place n=${n} E=${E} p=${spec.p}`);
      if (n === 100003 && spec.p > 0) {
        let dropped = 0;
        for (let i = 0; i < n; i++) if (yn[i] === 0) dropped++;
        assert.ok(Math.abs(dropped / n - spec.p) < 0.01, `drop rate ${dropped / n} for p=${spec.p}`);
        const ex = dropoutHash(spec.seed, spec.firstExample);
        assert.equal(yn[5] === 0, dropoutHash(ex, 5) < Math.floor(spec.p * 2 ** 32), 'mask is dropoutHash');
      }
    }
  }
}

type Gemm = Kernels['gemm'];

/**
 * Each named gemm against js: every transpose, ld > cols, alpha / beta (beta = 0 never reads C), A as a subarray
 * view with an offset, and k = 0 (C scaled by beta).
 */
export function checkGemm(gemms: Array<[string, Gemm]>, randomArray: RandomArray, extraShapes: number[][] = []): void {
  const shapes = [
    [1, 1, 1],
    [3, 17, 1],
    [17, 3, 5],
    [1, 768, 17],
    [17, 1, 768],
    [33, 65, 129],
    [128, 96, 64],
  ];
  for (const [m, n, k] of [...shapes, ...extraShapes] as Array<[number, number, number]>) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [alpha, beta] of [
          [1, 0],
          [0.7, 1],
          [-1.25, -0.5],
        ] as const) {
          const [aRows, aCols] = transA ? [k, m] : [m, k];
          const [bRows, bCols] = transB ? [n, k] : [k, n];
          const lda = aCols + 3,
            ldb = bCols + 1,
            ldc = n + 2;
          const a = randomArray(aRows * lda + 5).subarray(5),
            b = randomArray(bRows * ldb);
          const c0 = randomArray(m * ldc);
          if (beta === 0) c0.fill(Number.NaN); // beta = 0 must overwrite, never read C
          const cj = c0.slice();
          jsKernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cj, ldc);
          const what = `gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${k} alpha=${alpha} beta=${beta}`;
          for (const [name, gemm] of gemms) {
            const c = c0.slice();
            gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            closeOrNaN(c, cj, 2e-5, `${name} ${what}`);
          }
        }
      }
    }
  }
  for (const [name, gemm] of gemms) {
    const cz = new Float32Array(6).fill(2);
    gemm(false, false, 2, 3, 0, 1, new Float32Array(0), 1, new Float32Array(0), 3, 0.5, cz, 3);
    assert.deepEqual(cz, new Float32Array(6).fill(1), `${name}: k = 0 scales C by beta`);
  }
}

/** activationForward / activationBackward of every hidden_act against js, serial and parallel sizes, in place. */
export function checkActivations(kk: Kernels, randomArray: RandomArray): void {
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
        yk = new Float32Array(n).fill(Number.NaN);
      jsKernels.activationForward(act, x, yj, n);
      kk.activationForward(act, x, yk, n);
      closeOrNaN(yk, yj, 1e-6, `${act} forward n=${n}`);
      const dxj = new Float32Array(n),
        dxk = new Float32Array(n).fill(Number.NaN);
      jsKernels.activationBackward(act, x, dy, dxj, n);
      kk.activationBackward(act, x, dy, dxk, n);
      closeOrNaN(dxk, dxj, 2e-6, `${act} backward n=${n}`);
      const dxIn = dy.slice();
      kk.activationBackward(act, x, dxIn, dxIn, n); // dx may be dy
      closeOrNaN(dxIn, dxj, 2e-6, `${act} backward n=${n} in place`);
      const inPlace = x.slice();
      kk.activationForward(act, inPlace, inPlace, n); // y may be x
      closeOrNaN(inPlace, yj, 1e-6, `${act} forward in place`);
    }
  }
}

/** layerNormForward (with and without a residual added to x in place) and layerNormBackward (dgamma / dbeta accumulate). */
export function checkLayerNorm(kk: Kernels, randomArray: RandomArray): void {
  for (const [rows, cols] of [
    [1, 1],
    [3, 17],
    [17, 768],
    [64, 768],
    [5, 3],
  ] as Array<[number, number]>) {
    const x = randomArray(rows * cols, -3, 2),
      gamma = randomArray(cols, 0.5, 1.5),
      beta = randomArray(cols),
      residual = randomArray(rows * cols);
    const what = `layerNorm ${rows}x${cols}`;
    const tol = cols === 1 ? 1e-3 : 2e-5;
    const fwd = (k: Kernels, res: Float32Array | null) => {
      const xr = x.slice(),
        y = new Float32Array(rows * cols).fill(Number.NaN),
        mean = new Float32Array(rows),
        rstd = new Float32Array(rows);
      k.layerNormForward(xr, gamma, beta, y, mean, rstd, rows, cols, 1e-12, res);
      return { xr, y, mean, rstd };
    };
    for (const res of [null, residual]) {
      const fj = fwd(jsKernels, res),
        fk = fwd(kk, res);
      const with_ = `${what} residual=${res !== null}`;
      assert.deepEqual(fk.xr, fj.xr, `${with_}: x (+= residual in place)`);
      closeOrNaN(fk.y, fj.y, tol, `${with_} y`);
      closeOrNaN(fk.mean, fj.mean, 1e-6, `${with_} mean`);
      closeOrNaN(fk.rstd, fj.rstd, tol, `${with_} rstd`);
    }
    const fj = fwd(jsKernels, null);
    const dy = randomArray(rows * cols),
      dg0 = randomArray(cols),
      db0 = randomArray(cols);
    const bwd = (k: Kernels) => {
      const dx = new Float32Array(rows * cols).fill(Number.NaN),
        dgamma = dg0.slice(),
        dbeta = db0.slice();
      k.layerNormBackward(dy, x, gamma, fj.mean, fj.rstd, dx, dgamma, dbeta, rows, cols);
      return { dx, dgamma, dbeta };
    };
    const bj = bwd(jsKernels),
      bk = bwd(kk);
    closeOrNaN(bk.dx, bj.dx, 5e-5, `${what} dx`);
    closeOrNaN(bk.dgamma, bj.dgamma, 2e-5, `${what} dgamma`);
    closeOrNaN(bk.dbeta, bj.dbeta, 2e-5, `${what} dbeta`);
  }
}

/**
 * softmaxCrossEntropy (ignore index, with and without dlogits, a BERT-sized vocabulary; a bad label is an error)
 * within `lossTol` of js, and adamwStep / sumSquares / scale on serial and parallel sizes.
 */
export function checkLossAndOptimizer(kk: Kernels, randomArray: RandomArray, lossTol: number): void {
  for (const [n, c] of [
    [1, 1],
    [17, 3],
    [5, 30522],
    [64, 2],
  ] as Array<[number, number]>) {
    const logits = randomArray(n * c, -6, 6);
    const labels = Int32Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -100 : (i * 7919) % c));
    const dj = new Float32Array(n * c).fill(9),
      dk = new Float32Array(n * c).fill(9);
    const rj = jsKernels.softmaxCrossEntropy(logits, labels, n, c, -100, dj, 0.25);
    const rk = kk.softmaxCrossEntropy(logits, labels, n, c, -100, dk, 0.25);
    assert.equal(rk.count, rj.count, `count ${n}x${c}`);
    const close = (loss: number): boolean => Math.abs(loss - rj.lossSum) <= lossTol * (1 + Math.abs(rj.lossSum));
    assert.ok(close(rk.lossSum), `lossSum ${rk.lossSum} vs ${rj.lossSum}`);
    assertClose(dk, dj, 1e-6, `softmaxCrossEntropy ${n}x${c} dlogits`);
    assert.ok(close(kk.softmaxCrossEntropy(logits, labels, n, c, -100, null, 1).lossSum), 'without dlogits');
  }
  assert.throws(
    () => kk.softmaxCrossEntropy(new Float32Array(6), Int32Array.of(1, 3), 2, 3, -100, null, 1),
    /label 3 at row 1/,
  );
  for (const n of [1, 17, 100003]) {
    const p0 = randomArray(n),
      g = randomArray(n, -0.1, 0.1),
      m0 = randomArray(n, -0.01, 0.01),
      v0 = randomArray(n, 0, 1e-4);
    const args = [n, 2e-5, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3] as const;
    const [pj, mj, vj] = [p0.slice(), m0.slice(), v0.slice()];
    const [pk, mk, vk] = [p0.slice(), m0.slice(), v0.slice()];
    jsKernels.adamwStep(pj, g, mj, vj, ...args);
    kk.adamwStep(pk, g, mk, vk, ...args);
    assertClose(pk, pj, 1e-7, `adamw params n=${n}`);
    assertClose(mk, mj, 1e-7, `adamw m n=${n}`);
    assertClose(vk, vj, 1e-7, `adamw v n=${n}`);
    const sj = jsKernels.sumSquares(g, n),
      sk = kk.sumSquares(g, n);
    assert.ok(Math.abs(sk - sj) <= 1e-12 * (1 + sj), `sumSquares ${sk} vs ${sj}`);
    const [xj, xk] = [p0.slice(), p0.slice()];
    jsKernels.scale(xj, n, 0.37);
    kk.scale(xk, n, 0.37);
    assert.deepEqual(xk, xj, `scale n=${n}`);
  }
}

/** Short arrays, a wrong lda, a Float64Array and dropout p = 1 are specific errors, not crashes. */
export function checkArgumentErrors(kk: Kernels): void {
  const f = (n: number) => new Float32Array(n);
  assert.throws(
    () => kk.gemm(false, false, 4, 4, 4, 1, f(15), 4, f(16), 4, 0, f(16), 4),
    /gemm: argument 6 is too short: 15 elements, the shapes need 16/,
  );
  assert.throws(() => kk.gemm(false, false, 4, 4, 4, 1, f(16), 3, f(16), 4, 0, f(16), 4), /lda/);
  assert.throws(
    () => kk.linearForward(new Float64Array(4) as unknown as Float32Array, f(4), null, f(4), 2, 2, 2),
    /must be a Float32Array/,
  );
  assert.throws(() => kk.dropoutForward(f(4), f(4), 4, 4, { p: 1, seed: 1, firstExample: 0 }), /dropout p/);
}

/** The checks every compiled backend passes against js, by test title (test/native and test/wasm run them all). */
export const KERNEL_CHECKS: Array<[string, (kk: Kernels, randomArray: RandomArray) => void]> = [
  ['linearForward (every fused activation) / linearBackward (with and without bias, dx, db)', checkLinear],
  ['activations forward and backward, every hidden_act, serial and parallel sizes, in place', checkActivations],
  ['layerNorm forward (with residual in place) and backward (dgamma/dbeta accumulate)', checkLayerNorm],
  ['attention forward and backward: fused QKV column blocks, padding mask, dropout', checkAttention],
  ['dropout: masks and values bit-identical to js, forward and backward, in place', checkDropout],
  ['arguments are checked: short arrays, lds, types and dropout p are specific errors', checkArgumentErrors],
];

/** The largest |a[i] - b[i]| (the lengths must be equal). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
