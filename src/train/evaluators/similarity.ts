// Embedding similarity evaluation (sentence-transformers' EmbeddingSimilarityEvaluator, cosine): Pearson and
// Spearman correlation of the cosine similarity of each pair with its gold score.
import { regressionReport } from '../metrics.js';
import { dot, normalizedRows, type TextEncoder } from './encoder.js';

export interface SimilarityEvalData {
  sentences1: readonly string[];
  sentences2: readonly string[];
  scores: readonly number[];
}

/** Returns { pearson_cosine, spearman_cosine } as sentence-transformers names them. */
export function evaluateEmbeddingSimilarity(
  model: TextEncoder,
  data: SimilarityEvalData,
  options: { batchSize?: number } = {},
): Record<string, number> {
  const n = data.sentences1.length;
  if (n < 2 || data.sentences2.length !== n || data.scores.length !== n)
    throw new RangeError(
      `embedding similarity: needs at least 2 pairs with one score each (got ${n}, ${data.sentences2.length}, ${data.scores.length})`,
    );
  const a = normalizedRows(model.encode(data.sentences1, options));
  const b = normalizedRows(model.encode(data.sentences2, options));
  const cosine = a.map((u, i) => dot(u, b[i]!));
  const r = regressionReport(cosine, data.scores);
  return { pearson_cosine: r.pearson, spearman_cosine: r.spearman };
}
