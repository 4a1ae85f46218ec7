// MultipleNegativesRankingLoss (sentence-transformers' default, InfoNCE): each anchor against every positive of the
// batch and every hard negative, cross-entropy towards its own positive. Forward and backward in one pass.
import { l2NormalizeBackward, l2NormalizeForward } from '../../model/sentence/normalize.js';
import { checkColumns, type EmbeddingColumn, type EmbeddingLossResult, type LossSimilarity } from './types.js';

export interface MnrlOptions {
  /** Multiplies the similarities (1 / temperature); default 20. */
  scale?: number;
  /** cosine (default) or dot product. */
  similarity?: LossSimilarity;
}

/**
 * columns = [anchors, positives, ...hard negatives], each [B, D]. Loss = mean_i -log softmax_j(scale*sim(a_i, d_j))[i]
 * over the B*(columns-1) documents (positives first, then each negative column), as
 * MultipleNegativesRankingLoss.compute_loss_from_embeddings with its defaults (directions query_to_doc, joint).
 */
export function multipleNegativesRankingLoss(
  columns: readonly EmbeddingColumn[],
  options: MnrlOptions = {},
): EmbeddingLossResult {
  checkColumns(columns, 'MultipleNegativesRankingLoss', 2);
  const scale = options.scale ?? 20;
  if (!(scale > 0)) throw new RangeError(`MultipleNegativesRankingLoss: scale must be positive, got ${scale}`);
  const cosine = (options.similarity ?? 'cosine') === 'cosine';
  const B = columns[0]!.rows,
    D = columns[0]!.dim,
    C = columns.length,
    N = B * (C - 1);
  // Normalised copies for cosine (the gradient goes back through the normalisation below).
  const normed = columns.map((c) => (cosine ? l2NormalizeForward(c.data, B, D) : null));
  const q = normed[0]?.y ?? columns[0]!.data;
  const doc = (j: number): Float32Array => {
    const c = 1 + Math.floor(j / B);
    return normed[c]?.y ?? columns[c]!.data;
  };
  const dQ = new Float64Array(B * D);
  const dDocs = Array.from({ length: C - 1 }, () => new Float64Array(B * D));
  const scores = new Float64Array(N);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    let max = -Infinity;
    for (let j = 0; j < N; j++) {
      const d = doc(j),
        r = (j % B) * D;
      let s = 0;
      for (let k = 0; k < D; k++) s += q[i * D + k]! * d[r + k]!;
      scores[j] = scale * s;
      if (scores[j]! > max) max = scores[j]!;
    }
    let z = 0;
    for (let j = 0; j < N; j++) z += Math.exp(scores[j]! - max);
    loss += max + Math.log(z) - scores[i]!;
    // d loss / d score_ij = (softmax_ij - [j == i]) / B; score = scale * <q_i, d_j>.
    for (let j = 0; j < N; j++) {
      const g = ((Math.exp(scores[j]! - max) / z - (j === i ? 1 : 0)) / B) * scale;
      if (g === 0) continue;
      const d = doc(j),
        r = (j % B) * D,
        dd = dDocs[Math.floor(j / B)]!;
      for (let k = 0; k < D; k++) {
        dQ[i * D + k]! += g * d[r + k]!;
        dd[r + k]! += g * q[i * D + k]!;
      }
    }
  }
  const grads = [dQ, ...dDocs].map((g, c) => {
    const g32 = Float32Array.from(g);
    const n = normed[c];
    return n ? l2NormalizeBackward(g32, n.y, n.norms, B, D) : g32;
  });
  return { loss: loss / B, grads };
}
