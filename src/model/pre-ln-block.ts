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
 * rotate_half(x) = (-x2, x1) for the halves x1, x2. `inverse` rotates back (the backward of a rotation is its
 * transpose: sin negated).
 */
export function applyRotary(
  qkv: Float32Array,
  N: number,
  T: number,
  c: BertConfig,
  rope: RotaryTable,
  inverse: boolean,
): void {
  const H = c.hiddenSize,
    D = c.headDim,
    half = D / 2,
    heads = c.numAttentionHeads,
    sign = inverse ? -1 : 1;
  for (let r = 0; r < N; r++) {
    const at = (r % T) * half;
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

/**
 * Attention where query t sees only keys s with |t - s| <= window (create_bidirectional_sliding_window_mask, window
 * = local_attention / 2) that are not padding; a key outside gets float32 min once, as HF's boolean mask becomes.
 * Per (example, head): scores = scale * Q K^T (a GEMM), masked softmax, ctx = P V (a GEMM). Dropout on the
 * probabilities draws the attention kernel's masks, so Kernels.attentionBackward (which only reads the probabilities)
 * is its backward.
 */
export function windowedAttentionForward(
  k: Kernels,
  qkv: Float32Array,
  maskBias: Float32Array,
  probs: Float32Array,
  ctx: Float32Array,
  B: number,
  T: number,
  c: BertConfig,
  window: number,
  dropout: DropoutSpec | null,
  dropped: Float32Array,
): void {
  const H = c.hiddenSize,
    D = c.headDim,
    heads = c.numAttentionHeads,
    ld = 3 * H,
    scale = 1 / Math.sqrt(D);
  const thr = dropout ? dropoutThreshold(dropout.p) : 0;
  const keep = dropout ? 1 / (1 - dropout.p) : 1;
  for (let b = 0; b < B; b++) {
    const exSeed = dropout ? dropoutExampleSeed(dropout, b) : 0;
    const rows = b * T * ld;
    for (let h = 0; h < heads; h++) {
      const P = probs.subarray((b * heads + h) * T * T, (b * heads + h + 1) * T * T);
      const q = qkv.subarray(rows + h * D),
        key = qkv.subarray(rows + H + h * D),
        v = qkv.subarray(rows + 2 * H + h * D);
      k.gemm(false, true, T, T, D, scale, q, ld, key, ld, 0, P, T);
      for (let t = 0; t < T; t++) {
        const row = t * T;
        let max = -Infinity;
        for (let s = 0; s < T; s++) {
          const allowed = Math.abs(t - s) <= window && maskBias[b * T + s] === 0;
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
          const rowSeed = dropoutAttentionRowSeed(exSeed, h, t);
          for (let s = 0; s < T; s++) dropped[row + s] = dropoutHash(rowSeed, s) >= thr ? P[row + s]! * keep : 0;
        }
      }
      k.gemm(false, false, T, D, T, 1, dropout ? dropped : P, T, v, ld, 0, ctx.subarray(b * T * H + h * D), H);
    }
  }
}

/** What the block needs from the Backbone running it. */
export interface BlockContext {
  kernels: Kernels;
  config: BertConfig;
  B: number;
  T: number;
  maskBias: Float32Array;
  rope: (l: number) => RotaryTable;
  /** The encoder's linear layer in the model's dtype (Backbone.linear). */
  linear: (x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, n: number, k: number) => void;
  /** The dropout of `site` in this forward (null in eval or for p = 0). */
  drop: (p: number, site: number) => DropoutSpec | null;
  /** Scratch: [B, heads, T, T] twice (probabilities of an inference forward, dropped probabilities), [N, 2I]. */
  scratchProbs: () => Float32Array;
  scratchDropped: () => Float32Array;
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

/** A block's kernels, config and sizes: the batch B x T (N rows), hidden H, intermediate I. */
function blockSizes(ctx: BlockContext): {
  k: Kernels;
  c: BertConfig;
  B: number;
  T: number;
  N: number;
  H: number;
  I: number;
} {
  const c = ctx.config;
  return { k: ctx.kernels, c, B: ctx.B, T: ctx.T, N: ctx.B * ctx.T, H: c.hiddenSize, I: c.intermediateSize };
}

/** ModernBertEncoderLayer.forward: x [N, H] → s.out. Dropout sites 1 + 3l (attention), 2 + 3l (Wo), 3 + 3l (MLP). */
export function preLnLayerForward(
  ctx: BlockContext,
  p: PreLnLayerParams,
  x: Float32Array,
  s: PreLnActs,
  l: number,
): void {
  const { k, c, B, T, N, H, I } = blockSizes(ctx),
    eps = c.layerNormEps;
  let a = x;
  if (p.attnNorm) {
    k.layerNormForward(x, p.attnNorm.weight.w, p.attnNorm.bias.w, s.attnIn, s.attnMean, s.attnRstd, N, H, eps);
    a = s.attnIn;
  }
  ctx.linear(a, p.qkv.weight.w, p.qkv.bias.w, s.qkv, N, 3 * H, H);
  applyRotary(s.qkv, N, T, c, ctx.rope(l), false);
  const dropProbs = ctx.drop(c.attentionProbsDropoutProb, 1 + 3 * l);
  if (c.layerTypes[l] === 'sliding_attention') {
    const probs = s.probs ?? ctx.scratchProbs();
    const window = Math.floor(c.localAttention / 2);
    windowedAttentionForward(k, s.qkv, ctx.maskBias, probs, s.ctx, B, T, c, window, dropProbs, ctx.scratchDropped());
  } else {
    fusedQkvAttentionForward(k, c, s.qkv, ctx.maskBias, s.probs, s.ctx, B, T, dropProbs);
  }
  ctx.linear(s.ctx, p.attnOut.weight.w, p.attnOut.bias.w, s.h1, N, H, H);
  const dropOut = ctx.drop(c.attentionProbsDropoutProb, 2 + 3 * l);
  if (dropOut) k.dropoutForward(s.h1, s.h1, N * H, T * H, dropOut);
  k.add(s.h1, x, N * H);
  k.layerNormForward(s.h1, p.mlpNorm.weight.w, p.mlpNorm.bias.w, s.mlpIn, s.mlpMean, s.mlpRstd, N, H, eps);
  ctx.linear(s.mlpIn, p.wi.weight.w, p.wi.bias.w, s.wi, N, 2 * I, H);
  gegluForward(k, c.activation, s.wi, s.glu, ctx.scratchWide(), N, I);
  const dropMlp = ctx.drop(c.mlpDropout, 3 + 3 * l);
  if (dropMlp) k.dropoutForward(s.glu, s.glu, N * I, T * I, dropMlp);
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
  const { k, c, B, T, N, H, I } = blockSizes(ctx);
  const dH1 = g.dB;
  dH1.set(g.dA.subarray(0, N * H));
  // MLP branch: out = h1 + Wo(dropout(geglu(Wi(mlp_norm(h1))))).
  k.linearBackward(g.dA, s.glu, p.wo.weight.w, g.dI, p.wo.weight.g, p.wo.bias.g, N, H, I);
  const dropMlp = ctx.drop(c.mlpDropout, 3 + 3 * l);
  if (dropMlp) k.dropoutBackward(g.dI, g.dI, N * I, T * I, dropMlp);
  gegluBackward(k, c.activation, s.wi, g.dI, g.dWide, ctx.scratchWide(), N, I);
  k.linearBackward(g.dWide, s.mlpIn, p.wi.weight.w, g.dC, p.wi.weight.g, p.wi.bias.g, N, 2 * I, H);
  const mlpNorm = p.mlpNorm;
  k.layerNormBackward(g.dC, s.h1, mlpNorm.weight.w, s.mlpMean, s.mlpRstd, g.dA, mlpNorm.weight.g, mlpNorm.bias.g, N, H);
  k.add(dH1, g.dA, N * H);
  // Attention branch: h1 = x + dropout(Wo(attention(rotary(Wqkv(attn_norm(x)))))).
  const dropOut = ctx.drop(c.attentionProbsDropoutProb, 2 + 3 * l);
  if (dropOut) k.dropoutBackward(dH1, g.dC, N * H, T * H, dropOut);
  else g.dC.set(dH1.subarray(0, N * H));
  k.linearBackward(g.dC, s.ctx, p.attnOut.weight.w, g.dA, p.attnOut.weight.g, p.attnOut.bias.g, N, H, H);
  const dq = g.dQKV;
  const dropProbs = ctx.drop(c.attentionProbsDropoutProb, 1 + 3 * l);
  fusedQkvAttentionBackward(k, c, g.dA, s.qkv, s.probs!, dq, B, T, dropProbs);
  applyRotary(dq, N, T, c, ctx.rope(l), true);
  const a = p.attnNorm ? s.attnIn : x;
  k.linearBackward(dq, a, p.qkv.weight.w, g.dC, p.qkv.weight.g, p.qkv.bias.g, N, 3 * H, H);
  const norm = p.attnNorm;
  if (norm) k.layerNormBackward(g.dC, x, norm.weight.w, s.attnMean, s.attnRstd, g.dA, norm.weight.g, norm.bias.g, N, H);
  else g.dA.set(g.dC.subarray(0, N * H));
  k.add(g.dA, dH1, N * H);
}
