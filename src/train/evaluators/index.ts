// Evaluators of sentence embeddings and rerankers, with sentence-transformers' metric names; usable standalone
// and from trainEmbeddings / trainReranker (each evaluation of a run).
export { evaluateEmbeddingSimilarity, type SimilarityEvalData } from './similarity.js';
export { evaluateRetrieval, retrievalMetrics, type RetrievalEvalData, type RetrievalCutoffs } from './retrieval.js';
export {
  evaluateReranking,
  crossEncoderScorer,
  embeddingScorer,
  type RerankingSample,
  type PairScorer,
} from './reranking.js';
export type { TextEncoder } from './encoder.js';
