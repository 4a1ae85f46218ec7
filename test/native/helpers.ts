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
