// The Kernels interface: the few hot operations of BERT, implemented in plain TypeScript (js) and natively.
//
// Conventions shared by every implementation:
// - Matrices are row-major Float32Array views; a "[m,k]" argument holds m*k floats starting at index 0 of the
//   view (callers pass `subarray` views for offsets). Linear weights are PyTorch-shaped [out, in].
// - Output arguments are overwritten unless the doc says "+=" (gradient accumulation into parameter grads).
// - Dropout randomness is counter-based and drawn per example, so every backend draws the same mask for the same
//   (seed, example, position) whatever batch holds the example (a data-parallel rank's share, another padding):
//   example b of a call draws from e = dropoutHash(seed, firstExample + b); element c of its slice is kept
//   <=>  dropoutHash(e, c) >= floor(p * 2^32), kept values are scaled by 1 / (1 - p). Attention probabilities
//   [b, h, t, s] use the row seed r = dropoutHash(e, h * 65536 + t) and keep <=> dropoutHash(r, s) >= threshold
//   (independent of the padded length T <= 65536). Backward recomputes the mask from the seed instead of storing it.

/** Activation functions of HF `hidden_act` (`gelu` is the exact erf form, `gelu_new`/`gelu_fast` the tanh forms). */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_fast' | 'quick_gelu' | 'relu' | 'silu' | 'tanh' | 'identity';

/** The trailing arguments of a linear layer: rows m, outputs n, inputs k, the activation fused after the bias. */
export type LinearSizes = [m: number, n: number, k: number, activation?: Activation];

/** The trailing arguments of both attention kernels: the batch, sequence length, heads, head size, score scale, dropout. */
export type AttentionSizes = [
  batch: number,
  seqLen: number,
  heads: number,
  headDim: number,
  scale: number,
  dropout: DropoutSpec | null,
];

/**
 * Dropout of one kernel call: probability p in [0, 1), a 32-bit seed, and the run-wide index of the call's first
 * example (its batch row 0), from which each example's mask is drawn (see the conventions above).
 */
export interface DropoutSpec {
  p: number;
  seed: number;
  firstExample: number;
}

export interface Kernels {
  /** 'js' or 'native' (with the library behind it, e.g. 'native (oneDNN)'). */
  readonly name: string;

  /** C[m,n] = alpha * op(A) @ op(B) + beta * C; op(A) is [m,k] (A stored [k,m] when transA), op(B) is [k,n]. */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;

  /**
   * nn.Linear: y[m,n] = x[m,k] @ w[n,k]^T + bias[n] (bias may be null), then y = act(y) in the same pass when an
   * activation is given (inference: the pre-activation a backward would need is not kept).
   */
  linearForward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    ...sizes: LinearSizes
  ): void;

  /**
   * nn.Linear backward: dx[m,k] = dy[m,n] @ w[n,k] (skipped when dx is null), dw[n,k] += dy^T @ x,
   * db[n] += column sums of dy (skipped when db is null).
   */
  linearBackward(
    dy: Float32Array,
    x: Float32Array,
    w: Float32Array,
    dx: Float32Array | null,
    dw: Float32Array,
    db: Float32Array | null,
    m: number,
    n: number,
    k: number,
  ): void;

  /** y[i] = act(x[i]) for i < n (y may be x). */
  activationForward(act: Activation, x: Float32Array, y: Float32Array, n: number): void;
  /** dx[i] = dy[i] * act'(x[i]) where x is the pre-activation input (dx may be dy). */
  activationBackward(act: Activation, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;

  /**
   * LayerNorm over the last dimension of x[rows, cols]: y = (x - mean) * rstd * gamma + beta.
   * Saves mean[rows] and rstd[rows] = 1 / sqrt(var + eps) (biased variance) for backward.
   * With a residual [rows, cols], x += residual first, in place (x then holds the input backward needs).
   */
  layerNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
    residual?: Float32Array | null,
  ): void;
  /** dx = d LN / dx (overwritten); dgamma += ..., dbeta += ... */
  layerNormBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
  ): void;

  /**
   * Multi-head self-attention core for batch b, head h, query t, key s:
   *   scores = scale * q[b,t,h,:] . k[b,s,h,:] + maskBias[b,s]
   *   probs[b,h,t,:] = softmax(scores)            (saved; before dropout)
   *   ctx[b,t,h,:] = sum_s dropout(probs)[b,h,t,s] * v[b,s,h,:]
   * q, k, v, ctx are [B*T, H*D] with rows `ld` floats apart (ld >= H*D, so q/k/v may be column blocks of one
   * fused QKV output); maskBias is [B,T] (0 for tokens, a large negative number for padding); probs is [B,H,T,T],
   * or null when no one needs the probabilities (inference without output_attentions: they stay in scratch).
   * Dropout (when given) is applied to the probabilities with counter index ((b*H + h)*T + t)*T + s.
   */
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    ld: number,
    maskBias: Float32Array,
    probs: Float32Array | null,
    ctx: Float32Array,
    ldCtx: number,
    ...sizes: AttentionSizes
  ): void;
  /** Backward of attentionForward: writes dq, dk, dv (same layout and ld as q, k, v), overwriting them. */
  attentionBackward(
    dctx: Float32Array,
    ldCtx: number,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    ld: number,
    probs: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    ...sizes: AttentionSizes
  ): void;

  /** dst[i] += src[i] for i < n (residual and gradient accumulation). */
  add(dst: Float32Array, src: Float32Array, n: number): void;

  /** out[i,:] (=, or += when accumulate) table[ids[i],:] for i < n; ids are checked by the caller. */
  embeddingForward(
    ids: Int32Array,
    table: Float32Array,
    out: Float32Array,
    n: number,
    dim: number,
    accumulate: boolean,
  ): void;
  /** dtable[ids[i],:] += dout[i,:] (scatter-add; repeated ids add up). */
  embeddingBackward(ids: Int32Array, dout: Float32Array, dtable: Float32Array, n: number, dim: number): void;

  /**
   * y = dropout(x) with the spec's counter-based mask (y may be x); x holds n / exampleSize examples of exampleSize
   * elements each (the counter restarts at each example).
   */
  dropoutForward(x: Float32Array, y: Float32Array, n: number, exampleSize: number, dropout: DropoutSpec): void;
  /** dx = dropout mask applied to dy, recomputed from the same spec (dx may be dy). */
  dropoutBackward(dy: Float32Array, dx: Float32Array, n: number, exampleSize: number, dropout: DropoutSpec): void;

  /**
   * Softmax cross-entropy over logits[n, c] with integer labels (label === ignoreIndex rows are skipped).
   * Returns the summed loss and the number of counted rows; when dlogits is given it receives
   * (softmax - onehot) * gradScale for counted rows and 0 for ignored rows.
   */
  softmaxCrossEntropy(
    logits: Float32Array,
    labels: Int32Array,
    n: number,
    c: number,
    ignoreIndex: number,
    dlogits: Float32Array | null,
    gradScale: number,
  ): { lossSum: number; count: number };

  /**
   * One AdamW step over n contiguous parameters (torch semantics, decoupled decay):
   *   p -= lr * weightDecay * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
   *   p -= lr * (m / biasCorrection1) / (sqrt(v / biasCorrection2) + eps)
   * biasCorrection1 = 1 - b1^t and biasCorrection2 = 1 - b2^t (pass 1 and 1 for no bias correction).
   */
  adamwStep(
    params: Float32Array,
    grads: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    biasCorrection1: number,
    biasCorrection2: number,
  ): void;

  /** Sum of squares of x[0..n) accumulated in double precision (for global-norm clipping). */
  sumSquares(x: Float32Array, n: number): number;
  /** x[i] *= s for i < n. */
  scale(x: Float32Array, n: number, s: number): void;

  /** Linear layers over packed / int8 / bf16 weights, where the backend has them (src/model/linear-dtype.ts). */
  readonly packedLinear?: PackedLinearKernels;
}

/** The counter-based hash behind dropout (murmur3 finaliser of index mixed with seed), as an unsigned 32-bit int. */
export function dropoutHash(seed: number, index: number): number {
  let h = (index ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed example `b` of a dropout call draws its mask from. */
export function dropoutExampleSeed(dropout: DropoutSpec, b: number): number {
  return dropoutHash(dropout.seed, (dropout.firstExample + b) >>> 0);
}

/** The seed of attention-probability row (head h, query t) of an example whose seed is `exampleSeed`. */
export function dropoutAttentionRowSeed(exampleSeed: number, h: number, t: number): number {
  return dropoutHash(exampleSeed, (h * 65536 + t) >>> 0);
}

/** Elements whose hash is below this are dropped. */
export function dropoutThreshold(p: number): number {
  return Math.min(0xffffffff, Math.floor(p * 4294967296));
}

/** Weight formats of packed linear layers (the dtype names transformers.js uses for models). */
export type LinearDtype = 'fp32' | 'q8' | 'bf16';

/**
 * A linear weight [n, k] (PyTorch [out, in]) in the form a backend packs: fp32; int8 per output channel with
 * scales[n] (w ~= data * scales[row], see quantizeWeightsPerChannel in quant-kernels.ts); or bfloat16 bits.
 */
export type LinearWeights =
  | { dtype: 'fp32'; data: Float32Array }
  | { dtype: 'q8'; data: Int8Array; scales: Float32Array }
  | { dtype: 'bf16'; data: Uint16Array };

/** A weight packed by PackedLinearKernels.pack: opaque, its memory is released with it. */
export interface PackedLinear {
  readonly dtype: LinearDtype;
  readonly n: number;
  readonly k: number;
}

/**
 * Linear layers over weights prepared once (reordered into the GEMM kernel's layout, int8 or bf16). The js
 * reference of every dtype is `jsPackedLinear` in src/tensor/quant-kernels.ts, which defines the arithmetic.
 */
export interface PackedLinearKernels {
  /** null where `dtype` runs on this machine, else why not (what the CPU or the build lacks). */
  unsupported(dtype: LinearDtype): string | null;
  /** The largest |int8 weight| q8 weights may have here: 127 with VNNI (exact int32 sums), else 63. */
  readonly q8WeightMax: number;
  pack(weights: LinearWeights, n: number, k: number): PackedLinear;
  /**
   * y[m,n] = act(x[m,k] @ W^T + bias[n]) with W the packed weight (bias may be null). q8: each row of x is
   * quantized to int8 on the fly (symmetric, scale max|x_i| / 127), the int32 products are dequantized with the
   * row and column scales in the bias pass. bf16: x is rounded to bfloat16, products are summed in float32.
   */
  forward(
    x: Float32Array,
    packed: PackedLinear,
    bias: Float32Array | null,
    y: Float32Array,
    m: number,
    activation?: Activation,
  ): void;
}

// Version of the parameters held in each buffer: the kernels that write parameters (adamwStep) bump it, so
// packed copies made from an older version are rebuilt. WeakMap: a buffer's entry goes with the buffer.
const weightVersions = new WeakMap<ArrayBufferLike, number>();

/** Marks the values in `data`'s buffer as changed, so that packed copies of them are rebuilt before the next use. */
export function markWeightsChanged(data: ArrayBufferView): void {
  weightVersions.set(data.buffer, (weightVersions.get(data.buffer) ?? 0) + 1);
}

/** The version of the values in `data`'s buffer (0 until markWeightsChanged is first called on it). */
export function weightsVersion(data: ArrayBufferView): number {
  return weightVersions.get(data.buffer) ?? 0;
}
