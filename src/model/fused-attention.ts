// Scaled dot-product attention over a fused QKV buffer [N, 3H] (query, key and value column blocks, as the fused
// projection writes them): the call both encoder blocks (post-LN BERT, pre-LN ModernBERT) make of the kernels.
import type { DropoutSpec, Kernels } from '../tensor/kernels.js';
import type { BertConfig } from './config.js';

type AttentionShape = Pick<BertConfig, 'hiddenSize' | 'numAttentionHeads' | 'headDim'>;

/** ctx [N, H] = softmax(q k^T / sqrt(d) + mask) v per head; `probs` keeps the probabilities for backward. */
export function fusedQkvAttentionForward(
  k: Kernels,
  c: AttentionShape,
  qkv: Float32Array,
  maskBias: Float32Array,
  probs: Float32Array | null,
  ctx: Float32Array,
  B: number,
  T: number,
  dropout: DropoutSpec | null,
): void {
  const H = c.hiddenSize;
  k.attentionForward(
    qkv,
    qkv.subarray(H),
    qkv.subarray(2 * H),
    3 * H,
    maskBias,
    probs,
    ctx,
    H,
    B,
    T,
    c.numAttentionHeads,
    c.headDim,
    1 / Math.sqrt(c.headDim),
    dropout,
  );
}

/** d(ctx) [N, H] in; writes d(qkv) [N, 3H] from the forward's qkv and probabilities (the same dropout). */
export function fusedQkvAttentionBackward(
  k: Kernels,
  c: AttentionShape,
  dCtx: Float32Array,
  qkv: Float32Array,
  probs: Float32Array,
  dQkv: Float32Array,
  B: number,
  T: number,
  dropout: DropoutSpec | null,
): void {
  const H = c.hiddenSize;
  k.attentionBackward(
    dCtx,
    H,
    qkv,
    qkv.subarray(H),
    qkv.subarray(2 * H),
    3 * H,
    probs,
    dQkv,
    dQkv.subarray(H),
    dQkv.subarray(2 * H),
    B,
    T,
    c.numAttentionHeads,
    c.headDim,
    1 / Math.sqrt(c.headDim),
    dropout,
  );
}

/**
 * ctx [B, H] = the attention output of each sequence's first query only (row b*T of the fused qkv [B*T, 3H]) over all
 * T keys: what a sentence-level head reads of the last layer. The scores are rounded to float32 as the kernels keep
 * them (so a row whose keys are all masked gets equal scores and a uniform softmax, as in HF); softmax and the
 * weighted sum of values accumulate in float64.
 */
export function firstQueryAttentionForward(
  c: AttentionShape,
  qkv: Float32Array,
  maskBias: Float32Array,
  ctx: Float32Array,
  B: number,
  T: number,
): void {
  const H = c.hiddenSize,
    D = c.headDim,
    ld = 3 * H,
    scale = Math.fround(1 / Math.sqrt(D));
  const scores = new Float64Array(T),
    acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const base = b * T * ld;
    for (let h = 0; h < c.numAttentionHeads; h++) {
      const q = base + h * D;
      let max = -Infinity;
      for (let s = 0; s < T; s++) {
        const k = base + s * ld + H + h * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qkv[q + d]! * qkv[k + d]!;
        const v = Math.fround(Math.fround(dot * scale) + maskBias[b * T + s]!);
        scores[s] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let s = 0; s < T; s++) sum += scores[s] = Math.exp(scores[s]! - max);
      acc.fill(0);
      for (let s = 0; s < T; s++) {
        const p = scores[s]! / sum,
          v = base + s * ld + 2 * H + h * D;
        if (p === 0) continue;
        for (let d = 0; d < D; d++) acc[d]! += p * qkv[v + d]!;
      }
      ctx.set(acc, b * H + h * D);
    }
  }
}
