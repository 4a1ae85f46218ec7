// The plain TypeScript Kernels: the executable specification every other backend is tested against.
import { dropoutAttentionRowSeed, dropoutExampleSeed, dropoutHash, dropoutThreshold } from './kernels.js';
import type { Activation, DropoutSpec, Kernels } from './kernels.js';
import { erf } from './math.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

// Every index below stays inside the shapes of the Kernels contract (the native binding checks those sizes at its
// boundary), so typed-array reads carry a `!`: erased at compile time, no fallback value enters the arithmetic.

// Scratch buffers reused across calls so that no kernel allocates per element or per call in steady state.
let scratch64 = new Float64Array(1024);
function getScratch(n: number): Float64Array {
  if (scratch64.length < n) scratch64 = new Float64Array(Math.max(n, scratch64.length * 2));
  return scratch64;
}
let rowScratch = new Float64Array(1024);
function getRowScratch(n: number): Float64Array {
  if (rowScratch.length < n) rowScratch = new Float64Array(Math.max(n, rowScratch.length * 2));
  return rowScratch;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function actValue(act: Activation, x: number): number {
  switch (act) {
    case 'gelu':
      return 0.5 * x * (1 + erf(x * SQRT1_2));
    case 'gelu_new':
    case 'gelu_fast':
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'quick_gelu':
      return x * sigmoid(1.702 * x);
    case 'relu':
      return x > 0 ? x : 0;
    case 'silu':
      return x * sigmoid(x);
    case 'tanh':
      return Math.tanh(x);
    case 'identity':
      return x;
  }
}

function actDerivative(act: Activation, x: number): number {
  switch (act) {
    case 'gelu':
      return 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    case 'gelu_new':
    case 'gelu_fast': {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    }
    case 'quick_gelu': {
      const s = sigmoid(1.702 * x);
      return s + x * 1.702 * s * (1 - s);
    }
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'silu': {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    }
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'identity':
      return 1;
  }
}

const gemm: Kernels['gemm'] = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
  // BLAS semantics: beta = 0 overwrites C, so NaN/garbage in C never leaks into the result.
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[ci + j]! *= beta;
  }
  if (alpha === 0 || k === 0) return;
  if (!transA && !transB) {
    // i-k-j: streams rows of B, accumulating rows of C in double precision; 4 rows of C share each row of B.
    const acc = getRowScratch(4 * n);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      acc.fill(0, 0, 4 * n);
      const a0 = i * lda,
        a1 = a0 + lda,
        a2 = a1 + lda,
        a3 = a2 + lda;
      for (let p = 0; p < k; p++) {
        const v0 = a[a0 + p]!,
          v1 = a[a1 + p]!,
          v2 = a[a2 + p]!,
          v3 = a[a3 + p]!;
        const bp = p * ldb;
        for (let j = 0; j < n; j++) {
          const bv = b[bp + j]!;
          acc[j]! += v0 * bv;
          acc[n + j]! += v1 * bv;
          acc[2 * n + j]! += v2 * bv;
          acc[3 * n + j]! += v3 * bv;
        }
      }
      for (let r = 0; r < 4; r++) {
        const ci = (i + r) * ldc;
        for (let j = 0; j < n; j++) c[ci + j]! += alpha * acc[r * n + j]!;
      }
    }
    for (; i < m; i++) {
      acc.fill(0, 0, n);
      const ai = i * lda;
      for (let p = 0; p < k; p++) {
        const av = a[ai + p]!;
        if (av === 0) continue;
        const bp = p * ldb;
        for (let j = 0; j < n; j++) acc[j]! += av * b[bp + j]!;
      }
      const ci = i * ldc;
      for (let j = 0; j < n; j++) c[ci + j]! += alpha * acc[j]!;
    }
  } else if (!transA && transB) {
    // Row-by-row dot products (both operands contiguous); 4 rows of A share each row of B to cut traffic.
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = i * lda,
        a1 = a0 + lda,
        a2 = a1 + lda,
        a3 = a2 + lda;
      for (let j = 0; j < n; j++) {
        const bj = j * ldb;
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let p = 0; p < k; p++) {
          const bv = b[bj + p]!;
          s0 += a[a0 + p]! * bv;
          s1 += a[a1 + p]! * bv;
          s2 += a[a2 + p]! * bv;
          s3 += a[a3 + p]! * bv;
        }
        c[i * ldc + j]! += alpha * s0;
        c[(i + 1) * ldc + j]! += alpha * s1;
        c[(i + 2) * ldc + j]! += alpha * s2;
        c[(i + 3) * ldc + j]! += alpha * s3;
      }
    }
    for (; i < m; i++) {
      const ai = i * lda;
      for (let j = 0; j < n; j++) {
        const bj = j * ldb;
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ai + p]! * b[bj + p]!;
        c[i * ldc + j]! += alpha * s;
      }
    }
  } else if (transA && !transB) {
    // C[i,j] = sum_p A[p,i] B[p,j]: outer products over p, in blocks of C rows so the double scratch stays small.
    const block = Math.max(1, Math.min(m, Math.floor(16384 / Math.max(1, n))));
    const acc = getScratch(block * n);
    for (let i0 = 0; i0 < m; i0 += block) {
      const i1 = Math.min(m, i0 + block);
      acc.fill(0, 0, (i1 - i0) * n);
      // Four rows of B per pass: each accumulator row is loaded and stored once per four products.
      let p = 0;
      for (; p + 4 <= k; p += 4) {
        const ap = p * lda;
        const b0 = p * ldb,
          b1 = b0 + ldb,
          b2 = b1 + ldb,
          b3 = b2 + ldb;
        for (let i = i0; i < i1; i++) {
          const v0 = a[ap + i]!,
            v1 = a[ap + lda + i]!,
            v2 = a[ap + 2 * lda + i]!,
            v3 = a[ap + 3 * lda + i]!;
          const off = (i - i0) * n;
          for (let j = 0; j < n; j++)
            acc[off + j]! += v0 * b[b0 + j]! + v1 * b[b1 + j]! + v2 * b[b2 + j]! + v3 * b[b3 + j]!;
        }
      }
      for (; p < k; p++) {
        const ap = p * lda;
        const bp = p * ldb;
        for (let i = i0; i < i1; i++) {
          const av = a[ap + i]!;
          if (av === 0) continue;
          const off = (i - i0) * n;
          for (let j = 0; j < n; j++) acc[off + j]! += av * b[bp + j]!;
        }
      }
      for (let i = i0; i < i1; i++) {
        const off = (i - i0) * n;
        const ci = i * ldc;
        for (let j = 0; j < n; j++) c[ci + j]! += alpha * acc[off + j]!;
      }
    }
  } else {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[p * lda + i]! * b[j * ldb + p]!;
        c[i * ldc + j]! += alpha * s;
      }
    }
  }
};

/** y = the per-example dropout mask of `dropout` applied to x (forward on activations, backward on gradients). */
function dropoutMask(x: Float32Array, y: Float32Array, n: number, exampleSize: number, dropout: DropoutSpec): void {
  if (!(exampleSize >= 1)) throw new RangeError(`dropout: exampleSize must be >= 1, got ${exampleSize}`);
  const thr = dropoutThreshold(dropout.p);
  const ks = keepScale(dropout.p);
  for (let start = 0, b = 0; start < n; start += exampleSize, b++) {
    const seed = dropoutExampleSeed(dropout, b);
    const end = Math.min(n, start + exampleSize);
    for (let i = start; i < end; i++) y[i] = dropoutHash(seed, i - start) >= thr ? x[i]! * ks : 0;
  }
}

function keepScale(p: number): number {
  return p > 0 ? 1 / (1 - p) : 1;
}

/**
 * Calls `row` for every attention row (example b, head h, query t; hOff = h * headDim) of both attention kernels,
 * with `keep` [T]: the factor of each key's probability under the row's dropout (0 dropped, 1 / (1 - p) kept; all 1
 * without dropout), in double precision as the kernels multiply.
 */
function forEachAttentionRow(
  batch: number,
  heads: number,
  T: number,
  headDim: number,
  dropout: DropoutSpec | null | undefined,
  row: (b: number, h: number, t: number, hOff: number, keep: Float64Array) => void,
): void {
  const keep = new Float64Array(T).fill(1);
  const thr = dropout ? dropoutThreshold(dropout.p) : 0;
  const ks = dropout ? keepScale(dropout.p) : 1;
  for (let b = 0; b < batch; b++) {
    const exSeed = dropout ? dropoutExampleSeed(dropout, b) : 0;
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < T; t++) {
        if (dropout) {
          const rowSeed = dropoutAttentionRowSeed(exSeed, h, t);
          for (let s = 0; s < T; s++) keep[s] = dropoutHash(rowSeed, s) >= thr ? ks : 0;
        }
        row(b, h, t, h * headDim, keep);
      }
    }
  }
}

export const jsKernels: Kernels = {
  name: 'js',

  gemm,

  linearForward(x, w, bias, y, m, n, k, activation) {
    gemm(false, true, m, n, k, 1, x, k, w, k, 0, y, n);
    if (bias) {
      for (let i = 0; i < m; i++) {
        const yi = i * n;
        for (let j = 0; j < n; j++) y[yi + j]! += bias[j]!;
      }
    }
    if (activation && activation !== 'identity') for (let i = 0; i < m * n; i++) y[i] = actValue(activation, y[i]!);
  },

  linearBackward(dy, x, w, dx, dw, db, m, n, k) {
    if (dx) gemm(false, false, m, k, n, 1, dy, n, w, k, 0, dx, k);
    gemm(true, false, n, k, m, 1, dy, n, x, k, 1, dw, k);
    if (db) {
      const acc = getRowScratch(n);
      acc.fill(0, 0, n);
      for (let i = 0; i < m; i++) {
        const di = i * n;
        for (let j = 0; j < n; j++) acc[j]! += dy[di + j]!;
      }
      for (let j = 0; j < n; j++) db[j]! += acc[j]!;
    }
  },

  activationForward(act, x, y, n) {
    for (let i = 0; i < n; i++) y[i] = actValue(act, x[i]!);
  },

  activationBackward(act, x, dy, dx, n) {
    for (let i = 0; i < n; i++) dx[i] = dy[i]! * actDerivative(act, x[i]!);
  },

  layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps, residual) {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      if (residual) for (let j = 0; j < cols; j++) x[off + j]! += residual[off + j]!;
      let s = 0;
      for (let j = 0; j < cols; j++) s += x[off + j]!;
      const mu = s / cols;
      let v = 0;
      for (let j = 0; j < cols; j++) {
        const d = x[off + j]! - mu;
        v += d * d;
      }
      const rs = 1 / Math.sqrt(v / cols + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) y[off + j] = (x[off + j]! - mu) * rs * gamma[j]! + beta[j]!;
    }
  },

  layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const off = r * cols;
      const mu = mean[r]!;
      const rs = rstd[r]!;
      let sumD = 0,
        sumDX = 0;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[off + j]! - mu) * rs;
        const dxhat = dy[off + j]! * gamma[j]!;
        sumD += dxhat;
        sumDX += dxhat * xhat;
      }
      const meanD = sumD / cols,
        meanDX = sumDX / cols;
      for (let j = 0; j < cols; j++) {
        const xhat = (x[off + j]! - mu) * rs;
        const g = dy[off + j]!;
        dgamma[j]! += g * xhat;
        dbeta[j]! += g;
        dx[off + j] = rs * (g * gamma[j]! - meanD - xhat * meanDX);
      }
    }
  },

  attentionForward(q, k, v, ld, maskBias, probs, ctx, ldCtx, batch, seqLen, heads, headDim, scale, dropout) {
    const T = seqLen;
    const row = getRowScratch(T);
    forEachAttentionRow(batch, heads, T, headDim, dropout, (b, h, t, hOff, keep) => {
      const qOff = (b * T + t) * ld + hOff;
      let max = -Infinity;
      for (let s = 0; s < T; s++) {
        const kOff = (b * T + s) * ld + hOff;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qOff + d]! * k[kOff + d]!;
        const sc = dot * scale + maskBias[b * T + s]!;
        row[s] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      for (let s = 0; s < T; s++) {
        const e = Math.exp(row[s]! - max);
        row[s] = e;
        sum += e;
      }
      const pOff = ((b * heads + h) * T + t) * T;
      const cOff = (b * T + t) * ldCtx + hOff;
      for (let d = 0; d < headDim; d++) ctx[cOff + d] = 0;
      for (let s = 0; s < T; s++) {
        const p = row[s]! / sum;
        if (probs) probs[pOff + s] = p;
        const pd = p * keep[s]!;
        if (pd === 0) continue;
        const vOff = (b * T + s) * ld + hOff;
        for (let d = 0; d < headDim; d++) ctx[cOff + d]! += pd * v[vOff + d]!;
      }
    });
  },

  attentionBackward(dctx, ldCtx, q, k, v, ld, probs, dq, dk, dv, batch, seqLen, heads, headDim, scale, dropout) {
    const T = seqLen;
    const dp = getRowScratch(T);
    for (let r = 0; r < batch * T; r++) {
      const off = r * ld;
      for (let j = 0; j < heads * headDim; j++) {
        dq[off + j] = 0;
        dk[off + j] = 0;
        dv[off + j] = 0;
      }
    }
    forEachAttentionRow(batch, heads, T, headDim, dropout, (b, h, t, hOff, keep) => {
      const pOff = ((b * heads + h) * T + t) * T;
      const cOff = (b * T + t) * ldCtx + hOff;
      let dot = 0;
      for (let s = 0; s < T; s++) {
        const vOff = (b * T + s) * ld + hOff;
        const p = probs[pOff + s]!;
        const m = keep[s]!;
        // d(ctx)/d(dropped p) and d(ctx)/dv
        let g = 0;
        for (let d = 0; d < headDim; d++) g += dctx[cOff + d]! * v[vOff + d]!;
        const pd = p * m;
        if (pd !== 0) for (let d = 0; d < headDim; d++) dv[vOff + d]! += pd * dctx[cOff + d]!;
        dp[s] = g * m;
        dot += p * dp[s]!;
      }
      const qOff = (b * T + t) * ld + hOff;
      for (let s = 0; s < T; s++) {
        const ds = probs[pOff + s]! * (dp[s]! - dot) * scale;
        if (ds === 0) continue;
        const kOff = (b * T + s) * ld + hOff;
        for (let d = 0; d < headDim; d++) {
          dq[qOff + d]! += ds * k[kOff + d]!;
          dk[kOff + d]! += ds * q[qOff + d]!;
        }
      }
    });
  },

  add(dst, src, n) {
    for (let i = 0; i < n; i++) dst[i]! += src[i]!;
  },

  embeddingForward(ids, table, out, n, dim, accumulate) {
    for (let i = 0; i < n; i++) {
      const src = ids[i]! * dim;
      const dst = i * dim;
      if (accumulate) for (let j = 0; j < dim; j++) out[dst + j]! += table[src + j]!;
      else for (let j = 0; j < dim; j++) out[dst + j] = table[src + j]!;
    }
  },

  embeddingBackward(ids, dout, dtable, n, dim) {
    for (let i = 0; i < n; i++) {
      const dst = ids[i]! * dim;
      const src = i * dim;
      for (let j = 0; j < dim; j++) dtable[dst + j]! += dout[src + j]!;
    }
  },

  dropoutForward(x, y, n, exampleSize, dropout) {
    dropoutMask(x, y, n, exampleSize, dropout);
  },

  dropoutBackward(dy, dx, n, exampleSize, dropout) {
    dropoutMask(dy, dx, n, exampleSize, dropout);
  },

  softmaxCrossEntropy(logits, labels, n, c, ignoreIndex, dlogits, gradScale) {
    let lossSum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const off = i * c;
      const label = labels[i];
      if (label === ignoreIndex) {
        if (dlogits) dlogits.fill(0, off, off + c);
        continue;
      }
      if (label === undefined || !(label >= 0 && label < c)) {
        throw new RangeError(
          `softmaxCrossEntropy: label ${label} at row ${i} is outside [0, ${c}) and is not the ignore index ${ignoreIndex}`,
        );
      }
      let max = -Infinity;
      for (let j = 0; j < c; j++) if (logits[off + j]! > max) max = logits[off + j]!;
      let sum = 0;
      for (let j = 0; j < c; j++) sum += Math.exp(logits[off + j]! - max);
      const lse = max + Math.log(sum);
      lossSum += lse - logits[off + label]!;
      count++;
      if (dlogits) {
        for (let j = 0; j < c; j++) dlogits[off + j] = Math.exp(logits[off + j]! - lse) * gradScale;
        dlogits[off + label]! -= gradScale;
      }
    }
    return { lossSum, count };
  },

  adamwStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, biasCorrection1, biasCorrection2) {
    const decay = 1 - lr * weightDecay;
    const stepSize = lr / biasCorrection1;
    const bc2Sqrt = Math.sqrt(biasCorrection2);
    for (let i = 0; i < n; i++) {
      const g = grads[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * g;
      const vi = beta2 * v[i]! + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  },

  sumSquares(x, n) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      s += xi * xi;
    }
    return s;
  },

  scale(x, n, s) {
    for (let i = 0; i < n; i++) x[i]! *= s;
  },
};
