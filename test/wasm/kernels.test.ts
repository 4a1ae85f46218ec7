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
  checkAttention,
  checkDropout,
  checkLinear,
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
  assert.match(wasm().name, /^wasm/);
});

test('gemm: all transposes, awkward shapes, ld > cols, alpha/beta, views', { skip }, () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 17, 1],
    [17, 3, 5],
    [1, 768, 17],
    [17, 1, 768],
    [33, 65, 129],
    [128, 96, 64],
    [130, 2100, 300], // crosses the MC, NC and KC blocks
  ];
  for (const [m, n, k] of shapes) {
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
          const cj = c0.slice(),
            cw = c0.slice();
          jsKernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cj, ldc);
          wasm().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cw, ldc);
          const what = `gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${k} alpha=${alpha} beta=${beta}`;
          assertClose(cw, cj, 2e-5, what);
        }
      }
    }
  }
  const cz = new Float32Array(6).fill(2);
  wasm().gemm(false, false, 2, 3, 0, 1, new Float32Array(0), 1, new Float32Array(0), 3, 0.5, cz, 3);
  assert.deepEqual(cz, new Float32Array(6).fill(1), 'k = 0 scales C by beta');
});

test('linearForward (every fused activation) / linearBackward (with and without dx, db)', { skip }, () => {
  checkLinear(wasm(), randomArray);
});

test('activations forward and backward, every hidden_act, in place', { skip }, () => {
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
        yw = new Float32Array(n);
      jsKernels.activationForward(act, x, yj, n);
      wasm().activationForward(act, x, yw, n);
      assertClose(yw, yj, 1e-6, `${act} forward n=${n}`);
      const dxj = new Float32Array(n),
        dxw = dy.slice();
      jsKernels.activationBackward(act, x, dy, dxj, n);
      wasm().activationBackward(act, x, dxw, dxw, n); // dx may be dy
      assertClose(dxw, dxj, 2e-6, `${act} backward n=${n} in place`);
      const inPlace = x.slice();
      wasm().activationForward(act, inPlace, inPlace, n);
      assertClose(inPlace, yj, 1e-6, `${act} forward in place`);
    }
  }
});

test('layerNorm forward (with residual in place) and backward (dgamma/dbeta accumulate)', { skip }, () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 17],
    [17, 768],
    [64, 768],
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
        fw = fwd(wasm(), res);
      const with_ = `${what} residual=${res !== null}`;
      assert.deepEqual(fw.xr, fj.xr, `${with_}: x (+= residual in place)`);
      assertClose(fw.y, fj.y, tol, `${with_} y`);
      assertClose(fw.mean, fj.mean, 1e-6, `${with_} mean`);
      assertClose(fw.rstd, fj.rstd, tol, `${with_} rstd`);
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
      bw = bwd(wasm());
    assertClose(bw.dx, bj.dx, 5e-5, `${what} dx`);
    assertClose(bw.dgamma, bj.dgamma, 2e-5, `${what} dgamma`);
    assertClose(bw.dbeta, bj.dbeta, 2e-5, `${what} dbeta`);
  }
});

test('attention forward and backward: fused QKV column blocks, padding mask, dropout', { skip }, () => {
  checkAttention(wasm(), randomArray);
});

test('dropout: masks and values bit-identical to js, forward and backward, in place', { skip }, () => {
  checkDropout(wasm(), randomArray);
});

test('softmaxCrossEntropy, AdamW, sumSquares, scale, add, embeddings', { skip }, () => {
  for (const [n, c] of [
    [1, 1],
    [7, 5],
    [64, 30522],
  ] as Array<[number, number]>) {
    const logits = randomArray(n * c, -6, 6);
    const labels = Int32Array.from({ length: n }, (_, i) => (i % 3 === 2 ? -100 : (i * 7919) % c));
    const dj = new Float32Array(n * c),
      dw = new Float32Array(n * c).fill(Number.NaN);
    const rj = jsKernels.softmaxCrossEntropy(logits, labels, n, c, -100, dj, 0.25);
    const rw = wasm().softmaxCrossEntropy(logits, labels, n, c, -100, dw, 0.25);
    assert.equal(rw.count, rj.count);
    assert.ok(
      Math.abs(rw.lossSum - rj.lossSum) <= 1e-6 * (1 + Math.abs(rj.lossSum)),
      `loss ${rw.lossSum} ${rj.lossSum}`,
    );
    assertClose(dw, dj, 1e-6, `softmaxCrossEntropy ${n}x${c} dlogits`);
    assert.deepEqual(wasm().softmaxCrossEntropy(logits, labels, n, c, -100, null, 1), rw);
  }
  assert.throws(
    () => wasm().softmaxCrossEntropy(new Float32Array(6), Int32Array.of(1, 3), 2, 3, -100, null, 1),
    /label 3 at row 1 is outside/,
  );
  for (const n of [1, 17, 100003]) {
    const p0 = randomArray(n),
      g = randomArray(n),
      m0 = randomArray(n, -0.1, 0.1),
      v0 = randomArray(n, 0, 0.01);
    const args = [n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3] as const;
    const [pj, mj, vj] = [p0.slice(), m0.slice(), v0.slice()];
    const [pw, mw, vw] = [p0.slice(), m0.slice(), v0.slice()];
    jsKernels.adamwStep(pj, g, mj, vj, ...args);
    wasm().adamwStep(pw, g, mw, vw, ...args);
    assert.deepEqual([pw, mw, vw], [pj, mj, vj], `adamwStep n=${n}: the same bits (double arithmetic)`);
    const sj = jsKernels.sumSquares(g, n),
      sw = wasm().sumSquares(g, n);
    assert.ok(Math.abs(sw - sj) <= 1e-12 * sj, `sumSquares n=${n}`);
    const [xj, xw] = [g.slice(), g.slice()];
    jsKernels.scale(xj, n, 0.37);
    wasm().scale(xw, n, 0.37);
    assert.deepEqual(xw, xj, `scale n=${n}`);
  }
  // Delegated to the js kernels (gather / scatter over the whole table): the same functions.
  assert.equal(wasm().embeddingForward, jsKernels.embeddingForward);
  assert.equal(wasm().embeddingBackward, jsKernels.embeddingBackward);
  assert.equal(wasm().add, jsKernels.add);
});

test('arguments are checked: short arrays, lds, types and dropout p are specific errors', { skip }, () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(
    () => wasm().gemm(false, false, 4, 4, 4, 1, f(15), 4, f(16), 4, 0, f(16), 4),
    /gemm: argument 6 is too short: 15 elements, the shapes need 16/,
  );
  assert.throws(() => wasm().gemm(false, false, 4, 4, 4, 1, f(16), 3, f(16), 4, 0, f(16), 4), /lda/);
  assert.throws(
    () => wasm().linearForward(new Float64Array(4) as unknown as Float32Array, f(4), null, f(4), 2, 2, 2),
    /must be a Float32Array/,
  );
  assert.throws(() => wasm().dropoutForward(f(4), f(4), 4, 4, { p: 1, seed: 1, firstExample: 0 }), /dropout p/);
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
