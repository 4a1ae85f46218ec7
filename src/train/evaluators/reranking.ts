// Reranking evaluation (sentence-transformers' CrossEncoderRerankingEvaluator): each query's positives and negatives
// scored by a model, then MAP, MRR@k and nDCG@k of that order, averaged over the queries.
import type { CrossEncoder } from '../../model/sentence/cross-encoder.js';
import { dot, encodeDocuments, encodeQueries, normalizedRows, type TextEncoder } from './encoder.js';

export interface RerankingSample {
  query: string;
  positive: readonly string[];
  negative: readonly string[];
}

/** Scores of documents against one query (higher = more relevant), batched over all queries by the caller. */
export type PairScorer = (pairs: readonly (readonly [string, string])[]) => number[];

/** A cross-encoder's scores (its activation applied; the order is what counts). */
export function crossEncoderScorer(model: CrossEncoder, batchSize = 32): PairScorer {
  return (pairs) => model.predict(pairs, { batchSize }) as number[];
}

/** A bi-encoder's cosine similarity of query and document (sentence-transformers' RerankingEvaluator). */
export function embeddingScorer(model: TextEncoder, batchSize = 32): PairScorer {
  return (pairs) => {
    const q = normalizedRows(
      encodeQueries(
        model,
        pairs.map((p) => p[0]),
        batchSize,
      ),
    );
    const d = normalizedRows(
      encodeDocuments(
        model,
        pairs.map((p) => p[1]),
        batchSize,
      ),
    );
    return q.map((v, i) => dot(v, d[i]!));
  };
}

/** MRR@k, nDCG@k and average precision of one ranking (relevance 0/1 per document, scores without ties). */
function rankingMetrics(isRelevant: readonly number[], scores: readonly number[], k: number): [number, number, number] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || b - a);
  const rel = order.map((i) => isRelevant[i]!);
  const first = rel.slice(0, k).indexOf(1);
  const mrr = first < 0 ? 0 : 1 / (first + 1);
  const dcg = (r: readonly number[]): number => r.slice(0, k).reduce((s, x, i) => s + x / Math.log2(i + 2), 0);
  const ideal = dcg([...isRelevant].sort((a, b) => b - a));
  const ndcg = ideal > 0 ? dcg(rel) / ideal : 0;
  let correct = 0;
  let ap = 0;
  rel.forEach((r, i) => {
    if (r) ap += ++correct / (i + 1);
  });
  return [mrr, ndcg, correct > 0 ? ap / correct : 0];
}

/** Returns { map, mrr@k, ndcg@k } (k default 10) as sentence-transformers names them. */
export function evaluateReranking(
  scorer: PairScorer,
  samples: readonly RerankingSample[],
  options: { atK?: number } = {},
): Record<string, number> {
  const k = options.atK ?? 10;
  if (samples.length === 0) throw new RangeError('reranking: no samples');
  const pairs: [string, string][] = [];
  for (const s of samples) for (const d of [...s.positive, ...s.negative]) pairs.push([s.query, d]);
  const scores = pairs.length > 0 ? scorer(pairs) : [];
  let offset = 0;
  let mrr = 0,
    ndcg = 0,
    map = 0;
  for (const s of samples) {
    const n = s.positive.length + s.negative.length;
    const rel = [...s.positive.map(() => 1), ...s.negative.map(() => 0)];
    const own = scores.slice(offset, offset + n);
    offset += n;
    // A sample without positives scores 0, as sentence-transformers counts it.
    if (s.positive.length === 0) continue;
    const [a, b, c] = rankingMetrics(rel, own, k);
    mrr += a;
    ndcg += b;
    map += c;
  }
  const q = samples.length;
  return { map: map / q, [`mrr@${k}`]: mrr / q, [`ndcg@${k}`]: ndcg / q };
}
