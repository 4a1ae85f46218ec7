// The pre-LN encoder layer of the one Backbone (modeling_modernbert.py ModernBertEncoderLayer): LayerNorm, fused QKV,
// rotary positions, global or sliding-window attention, output projection, residual; LayerNorm, GeGLU MLP, residual.
// Forward and backward side by side, composed from the Kernels (GEMMs, LayerNorm, activation, attention, dropout).
import type { Activation, DropoutSpec, Kernels } from '../tensor/kernels.js';
import { dropoutAttentionRowSeed, dropoutExampleSeed, dropoutHash, dropoutThreshold } from '../tensor/kernels.js';
import type { BertConfig } from './config.js';
import type { ParamRef, ParamScope, WeightBias } from './params.js';
import { FLOAT32_MIN } from '../tensor/math.js';
import { fusedQkvAttentionBackward, fusedQkvAttentionForward } from './fused-attention.js';

/** One layer's parameters under `layers.N.` (attn_norm is nn.Identity in layer 0). */
export interface PreLnLayerParams {
  attnNorm: WeightBias | null;
  qkv: WeightBias; // attn.Wqkv [3H, H]: query, key, value rows
  attnOut: WeightBias; // attn.Wo [H, H]
  mlpNorm: WeightBias;
  wi: WeightBias; // mlp.Wi [2I, H]: GeGLU input rows, then gate rows
  wo: WeightBias; // mlp.Wo [H, I]
}

export function declarePreLnLayer(vb: ParamScope, c: BertConfig, l: number): PreLnLayerParams {
  const H = c.hiddenSize,
    I = c.intermediateSize;
  const attnNorm = l === 0 ? null : vb.layerNorm('attn_norm', H, c.normBias);
  const attn = vb.pp('attn');
  const qkv = attn.linear('Wqkv', 3 * H, H, c.attentionBias);
  const attnOut = attn.linear('Wo', H, H, c.attentionBias);
  const mlpNorm = vb.layerNorm('mlp_norm', H, c.normBias);
  const mlp = vb.pp('mlp');
  return {
    attnNorm,
    qkv,
    attnOut,
    mlpNorm,
    wi: mlp.linear('Wi', 2 * I, H, c.mlpBias),
    wo: mlp.linear('Wo', H, I, c.mlpBias),
  };
}

/** The parameters of a layer that live in the store (absent biases excepted). */
export function preLnLayerRefs(p: PreLnLayerParams): ParamRef[] {
  const parts = [p.qkv, p.attnOut, p.mlpNorm, p.wi, p.wo, ...(p.attnNorm ? [p.attnNorm] : [])];
  return parts.flatMap((wb) => [wb.weight, wb.bias]).filter((r) => !r.absent);
}

/** Activations of one layer kept for backward. */
export interface PreLnActs {
  attnIn: Float32Array; // [N, H] attn_norm(x) (layers 1..)
  attnMean: Float32Array;
  attnRstd: Float32Array;
  qkv: Float32Array; // [N, 3H], queries and keys rotated
  probs: Float32Array | null; // [B, heads, T, T]; null in inference sets
  ctx: Float32Array; // [N, H]
  h1: Float32Array; // [N, H] x + attention branch
  mlpIn: Float32Array; // [N, H] mlp_norm(h1)
  mlpMean: Float32Array;
  mlpRstd: Float32Array;
  wi: Float32Array; // [N, 2I] Wi output
  glu: Float32Array; // [N, I] act(input) * gate, after dropout (Wo's input)
  out: Float32Array; // [N, H]
}

export function preLnActs(N: number, B: number, T: number, c: BertConfig, keepProbs: boolean): PreLnActs {
  const H = c.hiddenSize,
    I = c.intermediateSize;
  return {
    attnIn: new Float32Array(N * H),
    attnMean: new Float32Array(N),
    attnRstd: new Float32Array(N),
    qkv: new Float32Array(N * 3 * H),
    probs: keepProbs ? new Float32Array(B * c.numAttentionHeads * T * T) : null,
    ctx: new Float32Array(N * H),
    h1: new Float32Array(N * H),
    mlpIn: new Float32Array(N * H),
    mlpMean: new Float32Array(N),
    mlpRstd: new Float32Array(N),
    wi: new Float32Array(N * 2 * I),
    glu: new Float32Array(N * I),
    out: new Float32Array(N * H),
  };
}

/** cos and sin of position t times frequency j, [T, headDim / 2]. */
export interface RotaryTable {
  cos: Float32Array;
  sin: Float32Array;
}

/** ModernBertRotaryEmbedding's inv_freq (rope_type "default") in float32 as torch computes it: 1 / theta^(2j / D). */
export function rotaryInverseFrequencies(D: number, theta: number): Float32Array {
  const f = Math.fround;
  return Float32Array.from({ length: D / 2 }, (_, j) => 1 / f(Math.pow(theta, f((2 * j) / D))));
}

/** cos and sin of the angles t * inv_freq[j] (float32 products, as torch's), positions t < T. */
export function rotaryTable(T: number, D: number, theta: number): RotaryTable {
  const half = D / 2,
    f = Math.fround;
  const cos = new Float32Array(T * half),
    sin = new Float32Array(T * half);
  const invFreqs = rotaryInverseFrequencies(D, theta);
  for (let j = 0; j < half; j++) {
    const invFreq = invFreqs[j]!;
    for (let t = 0; t < T; t++) {
      const angle = f(t * invFreq);
      cos[t * half + j] = Math.cos(angle);
      sin[t * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * apply_rotary_pos_emb on the query and key columns of qkv [N, 3H] in place: per head, x * cos + rotate_half(x) * sin,
 * rotate_half(x) = (-x2, x1) for the halves x1, x2. Row r is at position `positions[r]` (null: r % T, padded rows).
 * `inverse` rotates back (the backward of a rotation is its transpose: sin negated).
 */
export function applyRotary(
  qkv: Float32Array,
  N: number,
  T: number,
  c: BertConfig,
  rope: RotaryTable,
  inverse: boolean,
  positions: Int32Array | null = null,
): void {
  const H = c.hiddenSize,
    D = c.headDim,
    half = D / 2,
    heads = c.numAttentionHeads,
    sign = inverse ? -1 : 1;
  for (let r = 0; r < N; r++) {
    const at = (positions ? positions[r]! : r % T) * half;
    for (let part = 0; part < 2; part++) {
      for (let h = 0; h < heads; h++) {
        const base = r * 3 * H + part * H + h * D;
        for (let j = 0; j < half; j++) {
          const co = rope.cos[at + j]!,
            si = sign * rope.sin[at + j]!;
          const x1 = qkv[base + j]!,
            x2 = qkv[base + j + half]!;
          qkv[base + j] = x1 * co - x2 * si;
          qkv[base + j + half] = x2 * co + x1 * si;
        }
      }
    }
  }
}

/** Hidden size, head size, heads, the fused qkv row stride and the score scale of the attention. */
function attentionSizes(c: BertConfig): { H: number; D: number; heads: number; ld: number; scale: number } {
  return {
    H: c.hiddenSize,
    D: c.headDim,
    heads: c.numAttentionHeads,
    ld: 3 * c.hiddenSize,
    scale: 1 / Math.sqrt(c.headDim),
  };
}

/**
 * Attention where query t sees only keys s with |t - s| <= window (create_bidirectional_sliding_window_mask, window
 * = local_attention / 2) that are not padding; a key outside gets float32 min once, as HF's boolean mask becomes.
 * One example of T rows: `qkv` and `ctx` start at its first row, `maskBias` [T] is its padding mask, `probs` receives
 * its [heads, T, T] probabilities. Per head: scores = scale * Q K^T (a GEMM), masked softmax, ctx = P V (a GEMM).
 * Dropout on the probabilities draws the attention kernel's masks (`exampleSeed`: dropoutExampleSeed of the example),
 * so Kernels.attentionBackward (which only reads the probabilities) is its backward.
 */
export function windowedAttentionForward(
  k: Kernels,
  qkv: Float32Array,
  maskBias: Float32Array,
  probs: Float32Array,
  ctx: Float32Array,
  T: number,
  c: BertConfig,
  window: number,
  dropout: DropoutSpec | null,
  exampleSeed: number,
  dropped: Float32Array,
): void {
  const { H, D, heads, ld, scale } = attentionSizes(c);
  const thr = dropout ? dropoutThreshold(dropout.p) : 0;
  const keep = dropout ? 1 / (1 - dropout.p) : 1;
  for (let h = 0; h < heads; h++) {
    const P = probs.subarray(h * T * T, (h + 1) * T * T);
    const q = qkv.subarray(h * D),
      key = qkv.subarray(H + h * D),
      v = qkv.subarray(2 * H + h * D);
    k.gemm(false, true, T, T, D, scale, q, ld, key, ld, 0, P, T);
    for (let t = 0; t < T; t++) {
      const row = t * T;
      let max = -Infinity;
      for (let s = 0; s < T; s++) {
        const allowed = Math.abs(t - s) <= window && maskBias[s] === 0;
        if (!allowed) P[row + s] = FLOAT32_MIN + P[row + s]!;
        if (P[row + s]! > max) max = P[row + s]!;
      }
      let sum = 0;
      for (let s = 0; s < T; s++) {
        const e = Math.exp(P[row + s]! - max);
        P[row + s] = e;
        sum += e;
      }
      for (let s = 0; s < T; s++) P[row + s] = P[row + s]! / sum;
      if (dropout) {
        const rowSeed = dropoutAttentionRowSeed(exampleSeed, h, t);
        for (let s = 0; s < T; s++) dropped[row + s] = dropoutHash(rowSeed, s) >= thr ? P[row + s]! * keep : 0;
      }
    }
    k.gemm(false, false, T, D, T, 1, dropout ? dropped : P, T, v, ld, 0, ctx.subarray(h * D), H);
  }
}

/** Query rows per block of the banded sliding-window attention. */
const BAND_ROWS = 64;

/** Floats of the banded attention's scratch for a window: one block of scores. */
export function bandScratchSize(window: number): number {
  return BAND_ROWS * (BAND_ROWS + 2 * window);
}

/**
 * windowedAttentionForward's inference form (no probabilities kept, no dropout), for one example of T rows: each
 * block of BAND_ROWS queries scores only the keys within `window` of it (a GEMM of the block's rows by the keys of
 * its band), so the work and the scratch grow with T x window instead of T x T. Keys outside the window get exactly
 * zero probability in the full form too (float32 min, then exp underflows), so the probabilities are the same; a
 * query whose whole window is padding sees every key equal in the full form (min + score rounds to min), a
 * uniform 1 / T over all T keys, which it gets here as well.
 */
export function bandedWindowedAttentionForward(
  k: Kernels,
  qkv: Float32Array,
  maskBias: Float32Array,
  ctx: Float32Array,
  T: number,
  c: BertConfig,
  window: number,
  scratch: Float32Array,
): void {
  const { H, D, heads, ld, scale } = attentionSizes(c);
  const allMasked: number[] = [];
  const meanV = new Float32Array(D);
  for (let h = 0; h < heads; h++) {
    const q = h * D,
      key = H + h * D,
      v = 2 * H + h * D;
    let meanReady = false;
    for (let t0 = 0; t0 < T; t0 += BAND_ROWS) {
      const t1 = Math.min(T, t0 + BAND_ROWS),
        s0 = Math.max(0, t0 - window),
        s1 = Math.min(T, t1 + window),
        span = s1 - s0,
        rows = t1 - t0;
      const S = scratch.subarray(0, rows * span);
      k.gemm(
        false,
        true,
        rows,
        span,
        D,
        scale,
        qkv.subarray(t0 * ld + q),
        ld,
        qkv.subarray(s0 * ld + key),
        ld,
        0,
        S,
        span,
      );
      allMasked.length = 0;
      for (let t = t0; t < t1; t++) {
        const row = (t - t0) * span;
        let max = -Infinity;
        for (let s = s0; s < s1; s++) {
          const i = row + s - s0;
          if (Math.abs(t - s) > window || maskBias[s] !== 0) S[i] = FLOAT32_MIN + S[i]!;
          if (S[i]! > max) max = S[i]!;
        }
        if (max === FLOAT32_MIN) {
          allMasked.push(t); // written after the GEMM, which this zero row leaves at 0
          S.fill(0, row, row + span);
          continue;
        }
        let sum = 0;
        for (let i = row; i < row + span; i++) {
          const e = Math.exp(S[i]! - max);
          S[i] = e;
          sum += e;
        }
        for (let i = row; i < row + span; i++) S[i] = S[i]! / sum;
      }
      k.gemm(
        false,
        false,
        rows,
        D,
        span,
        1,
        S,
        span,
        qkv.subarray(s0 * ld + v),
        ld,
        0,
        ctx.subarray(t0 * H + h * D),
        H,
      );
      // A query whose whole window is padding: every key of the row is masked, each probability 1 / T.
      if (allMasked.length > 0 && !meanReady) {
        meanV.fill(0);
        for (let s = 0; s < T; s++) for (let d = 0; d < D; d++) meanV[d] = meanV[d]! + qkv[s * ld + v + d]! / T;
        meanReady = true;
      }
      for (const t of allMasked) ctx.set(meanV, t * H + h * D);
    }
  }
}

/**
 * An unpadded batch (transformers' unpad_input, for right-padded rows): the attended tokens of every example one
 * after another, N rows in all, so that the linear layers, norms and GeGLU skip the padding and each example's
 * attention spans its own length.
 */
export interface Packing {
  /** Each example's first packed row and length, [B]. */
  starts: Int32Array;
  lengths: Int32Array;
  /** Each packed row's position in its sequence (the rotary angle), [N]. */
  positions: Int32Array;
  /** Where each example's [heads, L, L] probabilities start in a probabilities buffer, [B]. */
  probsStarts: Int32Array;
  /** Packed rows in all. */
  N: number;
  /** A zero padding mask of the longest length. */
  zeros: Float32Array;
}

/**
 * The packing of a batch whose every row attends to a prefix of its T tokens (maskBias 0 then float32 min), with at
 * least one padding token; null otherwise (no padding, or a row with padding before a token: the padded rows run).
 */
export function packingOf(maskBias: Float32Array, B: number, T: number, heads: number): Packing | null {
  const lengths = new Int32Array(B);
  let N = 0;
  for (let b = 0; b < B; b++) {
    let L = 0;
    while (L < T && maskBias[b * T + L] === 0) L++;
    for (let t = L; t < T; t++) if (maskBias[b * T + t] === 0) return null;
    lengths[b] = L;
    N += L;
  }
  if (N === B * T) return null;
  const starts = new Int32Array(B),
    probsStarts = new Int32Array(B),
    positions = new Int32Array(N);
  for (let b = 0, at = 0, pAt = 0; b < B; b++) {
    const L = lengths[b]!;
    starts[b] = at;
    probsStarts[b] = pAt;
    for (let t = 0; t < L; t++) positions[at + t] = t;
    at += L;
    pAt += heads * L * L;
  }
  return { starts, lengths, positions, probsStarts, N, zeros: new Float32Array(T) };
}

/** What the block needs from the Backbone running it. */
export interface BlockContext {
  kernels: Kernels;
  config: BertConfig;
  B: number;
  T: number;
  maskBias: Float32Array;
  /** The unpadded batch the block runs on (N = packed.N rows), or null (B * T padded rows). */
  packed: Packing | null;
  rope: (l: number) => RotaryTable;
  /** The encoder's linear layer in the model's dtype (Backbone.linear). */
  linear: (x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, n: number, k: number) => void;
  /** The dropout of `site` in this forward (null in eval or for p = 0). */
  drop: (p: number, site: number) => DropoutSpec | null;
  /** Scratch: [B, heads, T, T] twice (sliding-window probabilities kept for no backward, dropped probabilities), [N, 2I]. */
  scratchProbs: () => Float32Array;
  scratchDropped: () => Float32Array;
  /** Scratch of the banded sliding-window attention (bandScratchSize of the config's window). */
  scratchBand: () => Float32Array;
  scratchWide: () => Float32Array;
}

/** Scratch buffers of backward (views of the Backbone's BackwardScratch). */
export interface BlockGrads {
  dA: Float32Array; // [N, H] d(out) in, d(x) out
  dB: Float32Array; // [N, H]
  dC: Float32Array; // [N, H]
  dI: Float32Array; // [N, I]
  dQKV: Float32Array; // [N, 3H]
  dWide: Float32Array; // [N, 2I]
}

/** The GeGLU: glu[n, i] = act(wi[n, i]) * wi[n, I + i]; `actAll` [N, 2I] receives act of every column. */
function gegluForward(
  k: Kernels,
  act: Activation,
  wi: Float32Array,
  glu: Float32Array,
  actAll: Float32Array,
  N: number,
  I: number,
): void {
  k.activationForward(act, wi, actAll, N * 2 * I);
  for (let n = 0; n < N; n++) {
    const w = n * 2 * I,
      o = n * I;
    for (let i = 0; i < I; i++) glu[o + i] = actAll[w + i]! * wi[w + I + i]!;
  }
}

/** d(glu) [N, I] → d(wi) [N, 2I]: d input = d glu * gate * act'(input), d gate = d glu * act(input). */
function gegluBackward(
  k: Kernels,
  act: Activation,
  wi: Float32Array,
  dGlu: Float32Array,
  dWi: Float32Array,
  actAll: Float32Array,
  N: number,
  I: number,
): void {
  for (let n = 0; n < N; n++) {
    const w = n * 2 * I,
      o = n * I;
    for (let i = 0; i < I; i++) {
      dWi[w + i] = dGlu[o + i]! * wi[w + I + i]!;
      dWi[w + I + i] = 0;
    }
  }
  k.activationBackward(act, wi, dWi, dWi, N * 2 * I);
  k.activationForward(act, wi, actAll, N * 2 * I);
  for (let n = 0; n < N; n++) {
    const w = n * 2 * I,
      o = n * I;
    for (let i = 0; i < I; i++) dWi[w + I + i] = dGlu[o + i]! * actAll[w + i]!;
  }
}

/** A block's kernels, config and sizes: the batch B x T (N rows: B * T, or the packed tokens), hidden H, intermediate I. */
function blockSizes(ctx: BlockContext): {
  k: Kernels;
  c: BertConfig;
  T: number;
  N: number;
  H: number;
  I: number;
} {
  const c = ctx.config;
  const N = ctx.packed ? ctx.packed.N : ctx.B * ctx.T;
  return { k: ctx.kernels, c, T: ctx.T, N, H: c.hiddenSize, I: c.intermediateSize };
}

/** Example b's first row, length and where its [heads, L, L] probabilities start: packed, or padded (b * T, T). */
function exampleRows(ctx: BlockContext, b: number): { row: number; L: number; probsAt: number } {
  const p = ctx.packed,
    T = ctx.T;
  if (p) return { row: p.starts[b]!, L: p.lengths[b]!, probsAt: p.probsStarts[b]! };
  return { row: b * T, L: T, probsAt: b * ctx.config.numAttentionHeads * T * T };
}

/** The dropout of example b of a call whose batch row 0 is `d`'s (the same masks as in the padded batch). */
function exampleDropout(d: DropoutSpec | null, b: number): DropoutSpec | null {
  return d ? { ...d, firstExample: d.firstExample + b } : null;
}

/**
 * Dropout (or its backward) on `width` columns of the block's rows, src → dst: one kernel call over the padded rows,
 * or one per example of a packed batch, each drawing the masks its padded rows would.
 */
function rowDropout(
  ctx: BlockContext,
  backward: boolean,
  src: Float32Array,
  dst: Float32Array,
  width: number,
  d: DropoutSpec,
): void {
  const k = ctx.kernels,
    p = ctx.packed;
  const run = (x: Float32Array, y: Float32Array, n: number, exampleSize: number, spec: DropoutSpec): void =>
    backward ? k.dropoutBackward(x, y, n, exampleSize, spec) : k.dropoutForward(x, y, n, exampleSize, spec);
  if (!p) return run(src, dst, ctx.B * ctx.T * width, ctx.T * width, d);
  for (let b = 0; b < ctx.B; b++) {
    const { row, L } = exampleRows(ctx, b),
      at = row * width,
      n = L * width;
    if (n > 0) run(src.subarray(at, at + n), dst.subarray(at, at + n), n, n, exampleDropout(d, b)!);
  }
}

/** Layer l's attention over the rotated qkv: global (the attention kernel) or sliding-window, padded or packed. */
function attentionForward(ctx: BlockContext, s: PreLnActs, l: number, dropout: DropoutSpec | null): void {
  const { k, c, T, H } = blockSizes(ctx),
    p = ctx.packed;
  if (c.layerTypes[l] !== 'sliding_attention' && !p)
    return fusedQkvAttentionForward(k, c, s.qkv, ctx.maskBias, s.probs, s.ctx, ctx.B, T, dropout);
  const window = Math.floor(c.localAttention / 2);
  // Inference keeps no probabilities: the banded form, whose work grows with T x window.
  const probs = s.probs ?? (dropout ? ctx.scratchProbs() : null);
  for (let b = 0; b < ctx.B; b++) {
    const { row, L, probsAt } = exampleRows(ctx, b);
    if (L === 0) continue;
    const qkv = s.qkv.subarray(row * 3 * H),
      out = s.ctx.subarray(row * H);
    if (c.layerTypes[l] !== 'sliding_attention') {
      const P = s.probs ? s.probs.subarray(probsAt) : null;
      fusedQkvAttentionForward(k, c, qkv, p!.zeros, P, out, 1, L, exampleDropout(dropout, b));
      continue;
    }
    const mask = p ? p.zeros : ctx.maskBias.subarray(b * T, (b + 1) * T);
    if (!probs) {
      bandedWindowedAttentionForward(k, qkv, mask, out, L, c, window, ctx.scratchBand());
      continue;
    }
    const seed = dropout ? dropoutExampleSeed(dropout, b) : 0;
    const P = probs.subarray(probsAt);
    windowedAttentionForward(k, qkv, mask, P, out, L, c, window, dropout, seed, ctx.scratchDropped());
  }
}

/** Backward of attentionForward (either kind: the kernel's backward reads only the probabilities): d(ctx) → d(qkv). */
function attentionBackward(
  ctx: BlockContext,
  s: PreLnActs,
  dCtx: Float32Array,
  dQkv: Float32Array,
  dropout: DropoutSpec | null,
): void {
  const { k, c, T, H } = blockSizes(ctx);
  if (!ctx.packed) return fusedQkvAttentionBackward(k, c, dCtx, s.qkv, s.probs!, dQkv, ctx.B, T, dropout);
  for (let b = 0; b < ctx.B; b++) {
    const { row, L, probsAt } = exampleRows(ctx, b);
    if (L === 0) continue;
    const [dc, q, P, dq] = [
      dCtx.subarray(row * H),
      s.qkv.subarray(row * 3 * H),
      s.probs!.subarray(probsAt),
      dQkv.subarray(row * 3 * H),
    ];
    fusedQkvAttentionBackward(k, c, dc, q, P, dq, 1, L, exampleDropout(dropout, b));
  }
}

/** ModernBertEncoderLayer.forward: x [N, H] → s.out. Dropout sites 1 + 3l (attention), 2 + 3l (Wo), 3 + 3l (MLP). */
export function preLnLayerForward(
  ctx: BlockContext,
  p: PreLnLayerParams,
  x: Float32Array,
  s: PreLnActs,
  l: number,
): void {
  const { k, c, T, N, H, I } = blockSizes(ctx),
    eps = c.layerNormEps;
  let a = x;
  if (p.attnNorm) {
    k.layerNormForward(x, p.attnNorm.weight.w, p.attnNorm.bias.w, s.attnIn, s.attnMean, s.attnRstd, N, H, eps);
    a = s.attnIn;
  }
  ctx.linear(a, p.qkv.weight.w, p.qkv.bias.w, s.qkv, N, 3 * H, H);
  applyRotary(s.qkv, N, T, c, ctx.rope(l), false, ctx.packed?.positions ?? null);
  attentionForward(ctx, s, l, ctx.drop(c.attentionProbsDropoutProb, 1 + 3 * l));
  ctx.linear(s.ctx, p.attnOut.weight.w, p.attnOut.bias.w, s.h1, N, H, H);
  const dropOut = ctx.drop(c.attentionProbsDropoutProb, 2 + 3 * l);
  if (dropOut) rowDropout(ctx, false, s.h1, s.h1, H, dropOut);
  k.add(s.h1, x, N * H);
  k.layerNormForward(s.h1, p.mlpNorm.weight.w, p.mlpNorm.bias.w, s.mlpIn, s.mlpMean, s.mlpRstd, N, H, eps);
  ctx.linear(s.mlpIn, p.wi.weight.w, p.wi.bias.w, s.wi, N, 2 * I, H);
  gegluForward(k, c.activation, s.wi, s.glu, ctx.scratchWide(), N, I);
  const dropMlp = ctx.drop(c.mlpDropout, 3 + 3 * l);
  if (dropMlp) rowDropout(ctx, false, s.glu, s.glu, I, dropMlp);
  ctx.linear(s.glu, p.wo.weight.w, p.wo.bias.w, s.out, N, H, I);
  k.add(s.out, s.h1, N * H);
}

/** Backward of preLnLayerForward: g.dA holds d(out) and receives d(x); parameter gradients accumulate. */
export function preLnLayerBackward(
  ctx: BlockContext,
  p: PreLnLayerParams,
  x: Float32Array,
  s: PreLnActs,
  l: number,
  g: BlockGrads,
): void {
  const { k, c, T, N, H, I } = blockSizes(ctx);
  const dH1 = g.dB;
  dH1.set(g.dA.subarray(0, N * H));
  // MLP branch: out = h1 + Wo(dropout(geglu(Wi(mlp_norm(h1))))).
  k.linearBackward(g.dA, s.glu, p.wo.weight.w, g.dI, p.wo.weight.g, p.wo.bias.g, N, H, I);
  const dropMlp = ctx.drop(c.mlpDropout, 3 + 3 * l);
  if (dropMlp) rowDropout(ctx, true, g.dI, g.dI, I, dropMlp);
  gegluBackward(k, c.activation, s.wi, g.dI, g.dWide, ctx.scratchWide(), N, I);
  k.linearBackward(g.dWide, s.mlpIn, p.wi.weight.w, g.dC, p.wi.weight.g, p.wi.bias.g, N, 2 * I, H);
  const mlpNorm = p.mlpNorm;
  k.layerNormBackward(g.dC, s.h1, mlpNorm.weight.w, s.mlpMean, s.mlpRstd, g.dA, mlpNorm.weight.g, mlpNorm.bias.g, N, H);
  k.add(dH1, g.dA, N * H);
  // Attention branch: h1 = x + dropout(Wo(attention(rotary(Wqkv(attn_norm(x)))))).
  const dropOut = ctx.drop(c.attentionProbsDropoutProb, 2 + 3 * l);
  if (dropOut) rowDropout(ctx, true, dH1, g.dC, H, dropOut);
  else g.dC.set(dH1.subarray(0, N * H));
  k.linearBackward(g.dC, s.ctx, p.attnOut.weight.w, g.dA, p.attnOut.weight.g, p.attnOut.bias.g, N, H, H);
  const dq = g.dQKV;
  attentionBackward(ctx, s, g.dA, dq, ctx.drop(c.attentionProbsDropoutProb, 1 + 3 * l));
  applyRotary(dq, N, T, c, ctx.rope(l), true, ctx.packed?.positions ?? null);
  const a = p.attnNorm ? s.attnIn : x;
  k.linearBackward(dq, a, p.qkv.weight.w, g.dC, p.qkv.weight.g, p.qkv.bias.g, N, 3 * H, H);
  const norm = p.attnNorm;
  if (norm) k.layerNormBackward(g.dC, x, norm.weight.w, s.attnMean, s.attnRstd, g.dA, norm.weight.g, norm.bias.g, N, H);
  else g.dA.set(g.dC.subarray(0, N * H));
  k.add(g.dA, dH1, N * H);
}
