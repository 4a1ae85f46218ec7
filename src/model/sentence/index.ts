// Sentence-transformers models: embedders (SentenceTransformer), rerankers (CrossEncoder) and their modules.
export { SentenceTransformer } from './sentence-transformer.js';
export type {
  SentenceTransformerOptions,
  EncodeOptions as SentenceEncodeOptions,
  EmbeddingPass,
} from './sentence-transformer.js';
export { CrossEncoder, rankScores } from './cross-encoder.js';
export type {
  CrossEncoderActivation,
  CrossEncoderOptions,
  PredictOptions as CrossEncoderPredictOptions,
  RankedDocument,
} from './cross-encoder.js';
export {
  SentenceFolderError,
  isSentenceTransformersFolder,
  sentenceFolderKind,
  readModules,
  readSettings,
} from './folder.js';
export type { SentenceModuleSpec, SentenceModelSettings, SimilarityFnName } from './folder.js';
export { POOLING_MODES, poolingForward, poolingBackward, poolingMask } from './pooling.js';
export type { PoolingMode, PoolingCache } from './pooling.js';
export { DenseLayer, denseActivation } from './dense.js';
export type { DenseActivation } from './dense.js';
export { l2NormalizeForward, l2NormalizeBackward } from './normalize.js';
export { similarityMatrix } from './similarity.js';
