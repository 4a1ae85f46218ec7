// The js kernels against naive double-precision formulas and finite differences (no reference to our own output).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsKernels as K } from '../../src/tensor/js-kernels.js';
import { dropoutHash, dropoutThreshold } from '../../src/tensor/kernels.js';
import type { Activation, DropoutSpec } from '../../src/tensor/kernels.js';
import { erf } from '../../src/tensor/math.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 2 - 1;
  };
}
function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * scale;
  return a;
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= tol * Math.max(1, Math.abs(b[i]!)))) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (tol ${tol})`);
  }
}

describe('erf', () => {
  it('matches reference values (C libm erf via Python math.erf) to double precision', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [0.84375, 0.7672256612323416],
      [2.9, 0.9999589021219005],
      [0.3, 0.3286267594591274],
      [1, 0.8427007929497149],
      [1.25, 0.9229001282564582],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [-0.5, -0.5204998778130465],
      [5, 0.9999999999984626],
      [7, 1],
    ];
    for (const [x, v] of table) assert.ok(Math.abs(erf(x) - v) < 1e-15, `erf(${x}) = ${erf(x)}, expected ${v}`);
  });
});

describe('gemm', () => {
  it('computes alpha op(A) op(B) + beta C for every transpose combination and odd sizes with leading dims', () => {
    for (const [m, n, k] of [
      [1, 1, 1],
      [5, 7, 3],
      [6, 9, 13],
      [17, 4, 8],
    ] as const) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const lda = (tA ? m : k) + 2,
            ldb = (tB ? k : n) + 1,
            ldc = n + 3;
          const a = rand((tA ? k : m) * lda, 1),
            b = rand((tB ? n : k) * ldb, 2),
            c = rand(m * ldc, 3);
          const expected = Float64Array.from(c);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++)
                s += (tA ? a[p * lda + i]! : a[i * lda + p]!) * (tB ? b[j * ldb + p]! : b[p * ldb + j]!);
              expected[i * ldc + j] = 0.5 * s + -2 * c[i * ldc + j]!;
            }
          }
          K.gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, -2, c, ldc);
          close(c, expected, 1e-5, `gemm ${tA} ${tB} ${m}x${n}x${k}`);
        }
      }
    }
  });
  it('beta = 0 overwrites NaN in C (BLAS semantics)', () => {
    const c = new Float32Array([NaN, NaN]);
    K.gemm(false, false, 1, 2, 1, 1, new Float32Array([2]), 1, new Float32Array([3, 4]), 2, 0, c, 2);
    assert.deepEqual(Array.from(c), [6, 8]);
  });
});

describe('linear', () => {
  it('forward is x W^T + b and backward matches finite differences of a weighted sum', () => {
    const m = 3,
      n = 5,
      k = 4;
    const x = rand(m * k, 4),
      w = rand(n * k, 5),
      b = rand(n, 6),
      g = rand(m * n, 7);
    const y = new Float32Array(m * n);
    K.linearForward(x, w, b, y, m, n, k);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = b[j]!;
        for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!;
        assert.ok(Math.abs(y[i * n + j]! - s) < 1e-6);
      }
    const dx = new Float32Array(m * k),
      dw = new Float32Array(n * k).fill(1),
      db = new Float32Array(n).fill(1);
    K.linearBackward(g, x, w, dx, dw, db, m, n, k);
    // L = sum g * y: dL/dw[j,p] = sum_i g[i,j] x[i,p] (+1 from the initial fill: gradients accumulate)
    for (let j = 0; j < n; j++)
      for (let p = 0; p < k; p++) {
        let s = 1;
        for (let i = 0; i < m; i++) s += g[i * n + j]! * x[i * k + p]!;
        assert.ok(Math.abs(dw[j * k + p]! - s) < 1e-5, 'dw accumulates');
      }
    for (let j = 0; j < n; j++) {
      let s = 1;
      for (let i = 0; i < m; i++) s += g[i * n + j]!;
      assert.ok(Math.abs(db[j]! - s) < 1e-5, 'db accumulates');
    }
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += g[i * n + j]! * w[j * k + p]!;
        assert.ok(Math.abs(dx[i * k + p]! - s) < 1e-5, 'dx');
      }
  });
});

describe('activations', () => {
  const acts: Activation[] = ['gelu', 'gelu_new', 'gelu_fast', 'quick_gelu', 'relu', 'silu', 'tanh', 'identity'];
  it('forward values follow the HF definitions', () => {
    const x = 0.7;
    const expected: Record<Activation, number> = {
      gelu: 0.5 * x * (1 + erf(x / Math.SQRT2)),
      gelu_new: 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      gelu_fast: 0.5 * x * (1 + Math.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
      quick_gelu: x / (1 + Math.exp(-1.702 * x)),
      relu: x,
      silu: x / (1 + Math.exp(-x)),
      tanh: Math.tanh(x),
      identity: x,
    };
    for (const a of acts) {
      const y = new Float32Array(1);
      K.activationForward(a, Float32Array.of(x), y, 1);
      assert.ok(Math.abs(y[0]! - expected[a]) < 1e-6, `${a}: ${y[0]} vs ${expected[a]}`);
    }
    // gelu(erf) at a known point: 0.5 * 1 * (1 + erf(1/sqrt 2)) = 0.8413447460685429
    const y = new Float32Array(1);
    K.activationForward('gelu', Float32Array.of(1), y, 1);
    assert.ok(Math.abs(y[0]! - 0.8413447460685429) < 1e-7);
  });
  it('backward matches central finite differences', () => {
    const xs = Float32Array.from([-3, -1.2, -0.3, 0.05, 0.4, 1.1, 2.5]);
    for (const a of acts) {
      const dx = new Float32Array(xs.length);
      K.activationBackward(a, xs, new Float32Array(xs.length).fill(1), dx, xs.length);
      for (let i = 0; i < xs.length; i++) {
        const h = 1e-3;
        const f = (v: number): number => {
          const y = new Float32Array(1);
          K.activationForward(a, Float64Array.of(v) as unknown as Float32Array, y, 1);
          return y[0]!;
        };
        const fd = (f(xs[i]! + h) - f(xs[i]! - h)) / (2 * h);
        assert.ok(Math.abs(dx[i]! - fd) < 2e-3, `${a}'(${xs[i]}) = ${dx[i]}, finite difference ${fd}`);
      }
    }
  });
});

/** Finite-difference check of a scalar function of a Float64 copy of `x` against an analytic gradient. */
function fdCheck(f: (x: Float32Array) => number, x: Float32Array, grad: Float32Array, what: string, tol = 2e-3): void {
  const h = 1e-2;
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + h;
    const up = f(x);
    x[i] = old - h;
    const down = f(x);
    x[i] = old;
    const fd = (up - down) / (2 * h);
    assert.ok(
      Math.abs(grad[i]! - fd) <= tol * Math.max(1, Math.abs(fd)),
      `${what}[${i}]: analytic ${grad[i]} vs finite difference ${fd}`,
    );
  }
}

describe('layerNorm', () => {
  it('normalises rows (biased variance, eps) and its backward matches finite differences', () => {
    const rows = 3,
      cols = 6,
      eps = 1e-5;
    const x = rand(rows * cols, 8, 2),
      gamma = rand(cols, 9),
      beta = rand(cols, 10),
      g = rand(rows * cols, 11);
    const y = new Float32Array(rows * cols),
      mean = new Float32Array(rows),
      rstd = new Float32Array(rows);
    K.layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < cols; j++) mu += x[r * cols + j]!;
      mu /= cols;
      let v = 0;
      for (let j = 0; j < cols; j++) v += (x[r * cols + j]! - mu) ** 2;
      v /= cols;
      for (let j = 0; j < cols; j++) {
        const e = ((x[r * cols + j]! - mu) / Math.sqrt(v + eps)) * gamma[j]! + beta[j]!;
        assert.ok(Math.abs(y[r * cols + j]! - e) < 1e-5);
      }
    }
    const loss = (xx: Float32Array, gg: Float32Array, bb: Float32Array): number => {
      const yy = new Float32Array(rows * cols);
      K.layerNormForward(xx, gg, bb, yy, new Float32Array(rows), new Float32Array(rows), rows, cols, eps);
      let s = 0;
      for (let i = 0; i < yy.length; i++) s += yy[i]! * g[i]!;
      return s;
    };
    const dx = new Float32Array(rows * cols),
      dgamma = new Float32Array(cols),
      dbeta = new Float32Array(cols);
    K.layerNormBackward(g, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
    fdCheck((v) => loss(v, gamma, beta), x, dx, 'dx');
    fdCheck((v) => loss(x, v, beta), gamma, dgamma, 'dgamma');
    fdCheck((v) => loss(x, gamma, v), beta, dbeta, 'dbeta');
  });
});

describe('attention', () => {
  const B = 2,
    T = 4,
    Hh = 2,
    D = 3,
    ld = 3 * Hh * D + 1;
  const mask = new Float32Array(B * T);
  mask[B * T - 1] = -3.4028234663852886e38; // last token of the second example is padding
  const scale = 1 / Math.sqrt(D);

  function naive(qkv: Float32Array, drop: DropoutSpec | null): { probs: Float64Array; ctx: Float64Array } {
    const probs = new Float64Array(B * Hh * T * T),
      ctx = new Float64Array(B * T * Hh * D);
    const thr = drop ? dropoutThreshold(drop.p) : 0;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hh; h++)
        for (let t = 0; t < T; t++) {
          const sc: number[] = [];
          for (let s = 0; s < T; s++) {
            let d = 0;
            for (let e = 0; e < D; e++)
              d += qkv[(b * T + t) * ld + h * D + e]! * qkv[(b * T + s) * ld + Hh * D + h * D + e]!;
            sc.push(d * scale + mask[b * T + s]!);
          }
          const mx = Math.max(...sc);
          const ex = sc.map((v) => Math.exp(v - mx));
          const sum = ex.reduce((p, c) => p + c, 0);
          for (let s = 0; s < T; s++) {
            const idx = ((b * Hh + h) * T + t) * T + s;
            const p = ex[s]! / sum;
            probs[idx] = p;
            // The contract's per-example mask: example seed, then the row seed of (head, query), then the key.
            const row = drop ? dropoutHash(dropoutHash(drop.seed, drop.firstExample + b), h * 65536 + t) : 0;
            const pd = drop ? (dropoutHash(row, s) >= thr ? p / (1 - drop.p) : 0) : p;
            for (let e = 0; e < D; e++)
              ctx[(b * T + t) * Hh * D + h * D + e]! += pd * qkv[(b * T + s) * ld + 2 * Hh * D + h * D + e]!;
          }
        }
    return { probs, ctx };
  }

  for (const drop of [null, { p: 0.3, seed: 1234, firstExample: 5 }]) {
    it(`forward matches softmax(QK^T/sqrt d + mask) V and backward matches finite differences (dropout ${drop ? 'on' : 'off'})`, () => {
      const qkv = rand(B * T * ld, 12);
      const HD = Hh * D;
      const probs = new Float32Array(B * Hh * T * T),
        ctx = new Float32Array(B * T * HD);
      const run = (src: Float32Array, p: Float32Array, c: Float32Array): void =>
        K.attentionForward(src, src.subarray(HD), src.subarray(2 * HD), ld, mask, p, c, HD, B, T, Hh, D, scale, drop);
      run(qkv, probs, ctx);
      const ref = naive(qkv, drop);
      close(probs, ref.probs, 1e-6, 'probs');
      close(ctx, ref.ctx, 1e-5, 'ctx');
      // padding gets exactly zero probability
      for (let h = 0; h < Hh; h++)
        for (let t = 0; t < T; t++) assert.equal(probs[((1 * Hh + h) * T + t) * T + T - 1], 0);
      const g = rand(B * T * HD, 13);
      const dqkv = new Float32Array(B * T * ld).fill(7); // the padding column must be left alone
      K.attentionBackward(
        g,
        HD,
        qkv,
        qkv.subarray(HD),
        qkv.subarray(2 * HD),
        ld,
        probs,
        dqkv,
        dqkv.subarray(HD),
        dqkv.subarray(2 * HD),
        B,
        T,
        Hh,
        D,
        scale,
        drop,
      );
      for (let r = 0; r < B * T; r++) assert.equal(dqkv[r * ld + 3 * HD], 7, 'column outside q/k/v untouched');
      const loss = (src: Float32Array): number => {
        const c = new Float32Array(B * T * HD);
        run(src, new Float32Array(B * Hh * T * T), c);
        let s = 0;
        for (let i = 0; i < c.length; i++) s += c[i]! * g[i]!;
        return s;
      };
      const analytic = Float32Array.from(dqkv);
      for (let r = 0; r < B * T; r++) analytic[r * ld + 3 * HD] = 0;
      fdCheck(loss, qkv, analytic, 'dqkv', 5e-3);
    });
  }
});

describe('embeddings, dropout, cross-entropy, adamw, reductions', () => {
  it('gathers rows (optionally accumulating) and scatter-adds repeated ids', () => {
    const table = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 rows of 2
    const ids = Int32Array.from([2, 0, 2]);
    const out = new Float32Array(6).fill(1);
    K.embeddingForward(ids, table, out, 3, 2, true);
    assert.deepEqual(Array.from(out), [6, 7, 2, 3, 6, 7]);
    K.embeddingForward(ids, table, out, 3, 2, false);
    assert.deepEqual(Array.from(out), [5, 6, 1, 2, 5, 6]);
    const d = new Float32Array(6);
    K.embeddingBackward(ids, Float32Array.from([1, 1, 2, 2, 3, 3]), d, 3, 2);
    assert.deepEqual(Array.from(d), [2, 2, 0, 0, 4, 4]);
  });
  it('dropout keeps about 1-p of the values, scales them by 1/(1-p), and is a function of (seed, example, index)', () => {
    const n = 20000,
      E = 400,
      p = 0.25;
    const spec = { p, seed: 42, firstExample: 3 };
    const x = new Float32Array(n).fill(1),
      y = new Float32Array(n),
      y2 = new Float32Array(n);
    K.dropoutForward(x, y, n, E, spec);
    K.dropoutForward(x, y2, n, E, spec);
    assert.deepEqual(y, y2);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] !== 0) {
        kept++;
        assert.ok(Math.abs(y[i]! - 1 / (1 - p)) < 1e-6);
      }
      const example = Math.floor(i / E);
      assert.equal(y[i] !== 0, dropoutHash(dropoutHash(42, 3 + example), i - example * E) >= dropoutThreshold(p));
    }
    assert.ok(Math.abs(kept / n - (1 - p)) < 0.02, `kept fraction ${kept / n}`);
    const other = new Float32Array(n);
    K.dropoutForward(x, other, n, E, { ...spec, seed: 43 });
    assert.notDeepEqual(other, y);
    const dx = new Float32Array(n);
    K.dropoutBackward(x, dx, n, E, spec);
    assert.deepEqual(dx, y);
    // An example's mask does not depend on the call that holds it: examples 7..49 alone draw what they drew above.
    const tail = new Float32Array(n - 4 * E);
    K.dropoutForward(x, tail, n - 4 * E, E, { ...spec, firstExample: 7 });
    assert.deepEqual(tail, y.subarray(4 * E));
  });
  it('attention dropout of an example does not depend on its batch or its padding', () => {
    // Example 1 of a batch of 2 (length 6) equals the same example alone, padded to 9, with firstExample 1.
    const Hh = 2,
      D = 3,
      HD = Hh * D,
      ldq = 3 * HD;
    const drop = { p: 0.4, seed: 99, firstExample: 0 };
    const T = 6,
      T2 = 9;
    const qkv = Float32Array.from({ length: 2 * T * ldq }, (_, i) => Math.sin(i * 0.37));
    const ctx = new Float32Array(2 * T * HD);
    K.attentionForward(
      qkv,
      qkv.subarray(HD),
      qkv.subarray(2 * HD),
      ldq,
      new Float32Array(2 * T),
      null,
      ctx,
      HD,
      2,
      T,
      Hh,
      D,
      0.5,
      drop,
    );
    const alone = new Float32Array(T2 * ldq);
    alone.set(qkv.subarray(T * ldq));
    const mask = new Float32Array(T2).fill(-3.4028234663852886e38, T);
    const ctx2 = new Float32Array(T2 * HD);
    K.attentionForward(
      alone,
      alone.subarray(HD),
      alone.subarray(2 * HD),
      ldq,
      mask,
      null,
      ctx2,
      HD,
      1,
      T2,
      Hh,
      D,
      0.5,
      { ...drop, firstExample: 1 },
    );
    for (let i = 0; i < T * HD; i++) assert.ok(Math.abs(ctx2[i]! - ctx[T * HD + i]!) < 1e-6, `ctx ${i}`);
  });
  it('softmax cross-entropy gives -log softmax[label], skips ignored rows and scales the gradient', () => {
    const logits = Float32Array.from([1, 2, 3, 0, 0, 0, 5, 1, -1]);
    const labels = Int32Array.from([2, -100, 0]);
    const d = new Float32Array(9).fill(9);
    const { lossSum, count } = K.softmaxCrossEntropy(logits, labels, 3, 3, -100, d, 0.5);
    const lse = (a: number[]): number => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    assert.equal(count, 2);
    assert.ok(Math.abs(lossSum - (lse([1, 2, 3]) - 3 + (lse([5, 1, -1]) - 5))) < 1e-9);
    assert.deepEqual(Array.from(d.slice(3, 6)), [0, 0, 0]);
    const sm = [1, 2, 3].map((v) => Math.exp(v - lse([1, 2, 3])));
    close(d.slice(0, 3), [sm[0]! * 0.5, sm[1]! * 0.5, (sm[2]! - 1) * 0.5], 1e-6, 'dlogits');
    assert.throws(() => K.softmaxCrossEntropy(logits, Int32Array.from([3, 0, 0]), 3, 3, -100, null, 1), /outside/);
  });
  it('adamw follows torch.optim.AdamW for two steps (decoupled decay, bias correction)', () => {
    const p = Float32Array.from([0.5, -1]),
      g = Float32Array.from([0.1, -0.2]);
    const m = new Float32Array(2),
      v = new Float32Array(2);
    const lr = 0.01,
      b1 = 0.9,
      b2 = 0.999,
      eps = 1e-8,
      wd = 0.1;
    const ref = [0.5, -1],
      rm = [0, 0],
      rv = [0, 0];
    for (let t = 1; t <= 2; t++) {
      K.adamwStep(p, g, m, v, 2, lr, b1, b2, eps, wd, 1 - b1 ** t, 1 - b2 ** t);
      for (let i = 0; i < 2; i++) {
        ref[i] = ref[i]! * (1 - lr * wd);
        rm[i] = b1 * rm[i]! + (1 - b1) * g[i]!;
        rv[i] = b2 * rv[i]! + (1 - b2) * g[i]! ** 2;
        ref[i] = ref[i]! - (lr * (rm[i]! / (1 - b1 ** t))) / (Math.sqrt(rv[i]! / (1 - b2 ** t)) + eps);
      }
    }
    close(p, ref, 1e-6, 'params');
    close(m, rm, 1e-7, 'm');
    close(v, rv, 1e-9, 'v');
  });
  it('sumSquares and scale', () => {
    assert.equal(K.sumSquares(Float32Array.from([3, 4, 100]), 2), 25);
    const x = Float32Array.from([1, 2, 3]);
    K.scale(x, 2, 2);
    assert.deepEqual(Array.from(x), [2, 4, 3]);
  });
});
