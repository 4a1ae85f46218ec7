// Information retrieval evaluation (sentence-transformers' InformationRetrievalEvaluator, cosine): every query
// against the whole corpus, hits ranked by score (ties by ascending corpus id), then accuracy / precision / recall
// @k, MRR@k, nDCG@k (binary relevance) and MAP@k averaged over the queries.
import { dot, encodeDocuments, encodeQueries, normalizedRows, type TextEncoder } from './encoder.js';

export interface RetrievalEvalData {
  /** Query id -> text. */
  queries: Readonly<Record<string, string>>;
  /** Document id -> text. */
  corpus: Readonly<Record<string, string>>;
  /** Query id -> ids of its relevant documents (every query needs at least one). */
  relevantDocs: Readonly<Record<string, readonly string[]>>;
}

export interface RetrievalCutoffs {
  accuracyAtK?: number[];
  precisionRecallAtK?: number[];
  mrrAtK?: number[];
  ndcgAtK?: number[];
  mapAtK?: number[];
}

const DEFAULTS: Required<RetrievalCutoffs> = {
  accuracyAtK: [1, 3, 5, 10],
  precisionRecallAtK: [1, 3, 5, 10],
  mrrAtK: [10],
  ndcgAtK: [10],
  mapAtK: [100],
};

const dcg = (relevances: readonly number[], k: number): number => {
  let s = 0;
  for (let i = 0; i < Math.min(relevances.length, k); i++) s += relevances[i]! / Math.log2(i + 2);
  return s;
};

/**
 * The metrics of ranked hits (corpus ids, best first) per query against the relevant sets, named as
 * sentence-transformers names them with the score function prefix: `cosine_ndcg@10`, `cosine_recall@5`, ...
 */
export function retrievalMetrics(
  ranked: readonly (readonly string[])[],
  relevant: readonly ReadonlySet<string>[],
  cutoffs: RetrievalCutoffs = {},
  prefix = 'cosine_',
): Record<string, number> {
  const c = { ...DEFAULTS, ...cutoffs };
  const n = ranked.length;
  const sums = new Map<string, number>();
  const add = (key: string, v: number): void => void sums.set(key, (sums.get(key) ?? 0) + v);
  ranked.forEach((hits, q) => {
    const rel = relevant[q]!;
    const isRel = hits.map((id) => (rel.has(id) ? 1 : 0));
    const correctIn = (k: number): number => isRel.slice(0, k).reduce((s: number, x) => s + x, 0);
    for (const k of c.accuracyAtK) add(`accuracy@${k}`, correctIn(k) > 0 ? 1 : 0);
    for (const k of c.precisionRecallAtK) {
      add(`precision@${k}`, correctIn(k) / k);
      add(`recall@${k}`, correctIn(k) / rel.size);
    }
    for (const k of c.mrrAtK) {
      const first = isRel.slice(0, k).indexOf(1);
      add(`mrr@${k}`, first < 0 ? 0 : 1 / (first + 1));
    }
    for (const k of c.ndcgAtK)
      add(`ndcg@${k}`, dcg(isRel.slice(0, k), k) / dcg(new Array<number>(rel.size).fill(1), k));
    for (const k of c.mapAtK) {
      let correct = 0;
      let sum = 0;
      isRel.slice(0, k).forEach((r, rank) => {
        if (r) sum += ++correct / (rank + 1);
      });
      add(`map@${k}`, sum / Math.min(k, rel.size));
    }
  });
  const out: Record<string, number> = {};
  for (const [key, v] of sums) out[prefix + key] = v / n;
  return out;
}

/**
 * Embeds queries and corpus (with the query / document prompts, as encode_query / encode_document), ranks the corpus for each
 * query by cosine similarity and scores the ranking.
 */
export function evaluateRetrieval(
  model: TextEncoder,
  data: RetrievalEvalData,
  options: RetrievalCutoffs & { batchSize?: number } = {},
): Record<string, number> {
  const queryIds = Object.keys(data.queries);
  const corpusIds = Object.keys(data.corpus);
  if (queryIds.length === 0 || corpusIds.length === 0) throw new RangeError('retrieval: no queries or no documents');
  const relevant = queryIds.map((q) => {
    const docs = data.relevantDocs[q];
    if (!docs || docs.length === 0) throw new RangeError(`retrieval: query "${q}" has no relevant documents`);
    return new Set(docs);
  });
  const c = { ...DEFAULTS, ...options };
  const maxK = Math.max(...c.accuracyAtK, ...c.precisionRecallAtK, ...c.mrrAtK, ...c.ndcgAtK, ...c.mapAtK);
  const qv = normalizedRows(
    encodeQueries(
      model,
      queryIds.map((q) => data.queries[q]!),
      options.batchSize,
    ),
  );
  const dv = normalizedRows(
    encodeDocuments(
      model,
      corpusIds.map((d) => data.corpus[d]!),
      options.batchSize,
    ),
  );
  // Ties broken by ascending corpus id, as sentence-transformers sorts by (-score, corpus_id).
  const byId = corpusIds.map((_, i) => i).sort((a, b) => (corpusIds[a]! < corpusIds[b]! ? -1 : 1));
  const idRank = new Int32Array(corpusIds.length);
  byId.forEach((d, r) => (idRank[d] = r));
  const ranked = qv.map((q) => {
    // Float32 scores, as torch computes them, so that near-ties order as in sentence-transformers.
    const scores = Float32Array.from(dv, (d) => dot(q, d));
    return Array.from(scores.keys())
      .sort((a, b) => scores[b]! - scores[a]! || idRank[a]! - idRank[b]!)
      .slice(0, maxK)
      .map((i) => corpusIds[i]!);
  });
  return retrievalMetrics(ranked, relevant, c);
}
