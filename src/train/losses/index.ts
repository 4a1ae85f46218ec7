// Training losses of sentence embeddings and rerankers, each with its gradient (for the Trainer to drive).
export { multipleNegativesRankingLoss, type MnrlOptions } from './mnrl.js';
export { coSentLoss } from './cosent.js';
export { matryoshkaLoss } from './matryoshka.js';
export { binaryCrossEntropyWithLogits } from './bce.js';
export {
  embeddingLossForward,
  embeddingLossStep,
  cachedEmbeddingLossForward,
  cachedEmbeddingLossStep,
  type PendingLoss,
  cachedMultipleNegativesRankingLoss,
  type EmbeddingModel,
  type DriverOptions as EmbeddingLossDriverOptions,
} from './cached.js';
export type { EmbeddingColumn, EmbeddingLoss, EmbeddingLossResult, LossSimilarity } from './types.js';
