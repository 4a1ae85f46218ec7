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
