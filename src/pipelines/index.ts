// The pipelines' public surface: pipeline(), the worker pool, and the post-processing building blocks.
export {
  pipeline,
  modelTask,
  canonicalTask,
  TASKS,
  type AnyPipeline,
  type CanonicalTask,
  type PipelineBase,
  type TextClassificationPipeline,
  type FillMaskPipeline,
  type TokenClassificationPipeline,
  type QuestionAnsweringPipeline,
  type FeatureExtractionPipeline,
} from './pipeline.js';
export { taskOfModel, checkTaskFitsModel, DEFAULT_MODELS } from './defaults.js';
export { ResultTensor } from '../tensor/result.js';
export { createPipelinePool, createSentencePool, type PipelinePool } from './pool.js';
export type { SentencePredictorArgs } from './sentence-predictor.js';
export { WorkerPool, WorkerError, type WorkerPoolOptions, type WorkerSpec } from './worker.js';
export { aggregateEntities, wordPieceTokensToString } from './aggregation.js';
export { InputError, isInputError } from '../model/errors.js';
export type * from './types.js';
