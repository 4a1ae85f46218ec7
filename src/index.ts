// bert-ts public API.
export type { Kernels, Activation, DropoutSpec } from './tensor/kernels.js';
// Model (src/model), tensors, optimizer pieces (src/train/optim, clip, schedule).
export type { Tensor } from './tensor/tensor.js';
export { jsKernels } from './tensor/js-kernels.js';
export { BertConfig, ConfigError, CONFIG_LIMITS, MAX_PARAMETERS } from './model/config.js';
export { InputError, isInputError } from './model/errors.js';
export type { ProblemType, ConfigJson } from './model/config.js';
// Every model class, MODEL_CLASSES and their option and output types.
export * from './model/bert.js';
export type { BertInputs, ArrayInput, ShapedArray } from './model/inputs.js';
// AutoConfig, AutoModel and AutoModelFor* (transformers' and transformers.js's entry points).
export * from './model/auto.js';
export type { Parameter } from './model/params.js';
export { DataError } from './data/errors.js';
export { AdamW, decays as decaysWeight, isOptimizerName } from './train/optim.js';
export type { NamedParameter, OptimizerName, OptimizerOptions } from './train/optim.js';
export { clipGradNorm } from './train/clip.js';
export { learningRateAt, warmupStepsFromRatio, isScheduleName } from './train/schedule.js';
export type { ScheduleName, ScheduleSpec } from './train/schedule.js';
export { BertTokenizer, Tokenizer, TokenizerError } from './tokenizer/index.js';
export { ResultTensor } from './tensor/result.js';
export type { ResultTensorType, NestedList } from './tensor/result.js';
export type {
  AddedToken,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  FlatBatchEncoding,
  BatchEncoding,
  TokenizerCallOptions,
  TokenizerCallOptionsCamel,
  AnyTokenizerCallOptions,
  NormalizerSpec,
  SpecialTokenNames,
  TruncationStrategy,
  VocabOptions,
} from './tokenizer/index.js';
// Fine-tuning (src/train, src/data): trainer, optimizers, schedules, checkpoints, metrics, progress, readers.
export { Trainer, TrainingDivergedError } from './train/trainer.js';
export type {
  TrainerModel,
  TrainerOptions,
  TrainerResult,
  TrainerParameter,
  StopReason,
  LossTerm,
} from './train/trainer.js';
export { EpochSampler, epochBatches, shareRange } from './data/samplers.js';
export type {
  IndexedDataset,
  Sampler,
  SampledBatch,
  SampledShare,
  SamplerPosition,
  EpochSamplerOptions,
} from './data/samplers.js';
export { getDistributed, singleProcess, DistributedError, rankProgress } from './train/distributed.js';
export type { Distributed } from './train/distributed.js';
export { saveTrainingState, loadTrainingState, latestTrainingStateDir } from './train/training-state.js';
export type { TrainingState } from './train/training-state.js';
export {
  accuracy,
  argmaxRows,
  classificationReport,
  multiLabelReport,
  regressionReport,
  extractEntities,
  entityReport,
  squadMetrics,
  squadScore,
  normalizeAnswer,
} from './train/metrics.js';
export type {
  ClassificationReport,
  MultiLabelReport,
  RegressionReport,
  EntityReport,
  Entity,
  ClassMetrics,
} from './train/metrics.js';
export { ProgressReporter, trainingCurveSvg } from './train/progress.js';
export { bertTrainerModel, predictBatches } from './train/bert-adapter.js';
export * from './train/evaluation.js';
export { readSquad, readSwag, qaTrainFeatures } from './data/squad.js';
export type { QaExample, ChoiceExample, QaFeature } from './data/squad.js';
export { answerQuestions } from './data/qa-spans.js';
export type { QaDecodeOptions, QaTokenizer } from './data/qa-spans.js';
export { loadForFinetuning } from './train/finetune-model.js';
export { finetune, genericLabels, taskOfConfig, FINETUNE_TASKS } from './train/finetune.js';
export type { FinetuneOptions, FinetuneResult, FinetuneSummary, FinetuneTask } from './train/finetune.js';
export { evaluate } from './train/evaluate.js';
export type { EvaluateOptions, EvaluateResult } from './train/evaluate.js';
export { compareDtypes, formatDtypeComparison } from './train/compare-dtypes.js';
export { quantizeFolder } from './model/quantize-folder.js';
export type { QuantizeFolderOptions, QuantizeFolderResult } from './model/quantize-folder.js';
export type { CompareDtypesOptions, DtypeComparison } from './train/compare-dtypes.js';
export { trainVocab } from './train/train-vocab.js';
export type { TrainVocabOptions, TrainVocabSummary } from './train/train-vocab.js';
export { attentionMaps, attentionHtml } from './pipelines/attention.js';
export type { AttentionMaps } from './pipelines/attention.js';
export { loadWarnings } from './model/checkpoint.js';
export type { LoadReport, KeysToIgnoreOnLoad } from './model/checkpoint.js';
export * from './data/classification.js';
export { parseCsv } from './data/csv.js';
export { readConllJsonl, alignFirstWordPiece, CONLL2003_LABELS } from './data/conll.js';
export type { TokenClassificationExample } from './data/conll.js';
export { sampleSubset } from './data/sampling.js';
export { collateEncoded, collateChoices, encodedDataset, choicesDataset } from './data/batching.js';
export type { EncodedExample, EncodedChoices } from './data/batching.js';
// File formats and downloads (src/io): safetensors, PyTorch .bin, JSON, atomic writes, the HF hub cache.
export {
  CheckpointFormatError,
  UnsafePickleError,
  HubError,
  toInt32Array,
  readSafetensors,
  openSafetensors,
  writeSafetensors,
  encodeSafetensors,
  readPytorchBin,
  readJsonFile,
  writeFileAtomic,
  resolveModelPath,
  downloadHubFile,
  hfCacheDir,
} from './io/index.js';
export type {
  DType,
  TensorData,
  TensorEntry,
  SafetensorsContent,
  SafetensorsFile,
  WritableTensor,
  HubOptions,
} from './io/index.js';
// Sentence embeddings and rerankers (src/model/sentence, src/train/losses): sentence-transformers folders, the
// losses with their gradients.
export * from './model/sentence/index.js';
export * from './train/losses/index.js';
// Training sentence embeddings and rerankers, and their evaluators (src/train, src/data/pairs).
export { trainEmbeddings, retrievalFromPairs } from './train/train-embeddings.js';
export type { TrainEmbeddingsOptions } from './train/train-embeddings.js';
export { trainReranker, rerankingSamples } from './train/train-reranker.js';
export type { TrainRerankerOptions } from './train/train-reranker.js';
export type { SentenceRunOptions, SentenceRunResult, SentenceRunSummary } from './train/sentence-training.js';
export {
  sentenceTrainerModel,
  crossEncoderTrainerModel,
  embeddingDataset,
  rerankerDataset,
  EMBEDDING_LOSSES,
} from './train/sentence-adapter.js';
export type { EmbeddingBatch, EmbeddingLossName, EmbeddingLossSpec } from './train/sentence-adapter.js';
export * from './train/evaluators/index.js';
export { readEmbeddingPairs, readRerankerPairs, readDataRows } from './data/pairs.js';
export type { EmbeddingPairs, EmbeddingPairsOptions, RerankerPairs, RerankerPairsOptions } from './data/pairs.js';
// Inference (src/pipelines, src/server): transformers.js-style pipelines, the worker pool, the HTTP server.
export {
  pipeline,
  modelTask,
  taskOfModel,
  DEFAULT_MODELS,
  canonicalTask,
  TASKS,
  createPipelinePool,
  createSentencePool,
  WorkerPool,
  WorkerError,
} from './pipelines/index.js';
export type {
  AnyPipeline,
  TextClassificationPipeline,
  FillMaskPipeline,
  TokenClassificationPipeline,
  QuestionAnsweringPipeline,
  FeatureExtractionPipeline,
  PipelinePool,
  PipelineOptions,
  LabelScore,
  FillMaskResult,
  TokenEntity,
  GroupedEntity,
  QaAnswer,
  QaInput,
  TextInput,
  Task,
  EitherSpelling,
} from './pipelines/index.js';
export {
  createServer,
  createModelServer,
  SERVE_TASKS,
  inputsRoute,
  rerankRoute,
  DynamicBatcher,
  ServerError,
  taskParameters,
} from './server/index.js';
export type {
  BertServer,
  ServerOptions,
  ModelServer,
  ModelServerOptions,
  ServeTask,
  ServedRoute,
  PredictBatch,
  RequestParameters,
  CallOptions,
} from './server/index.js';
// Native backend (src/native) and ONNX export (src/export).
export { getKernels, tryNativeKernels, loadNativeAddon, nativeLoadError, nativeAddonPath } from './native/index.js';
export type { BackendChoice, GetKernelsOptions, NativeAddon } from './native/index.js';
export { exportBertOnnx, OnnxExportError, resolveOnnxHead } from './export/onnx.js';
export type { NamedTensor, OnnxHead, OnnxExportOptions } from './export/onnx.js';
export { exportOnnxFolder } from './export/folder.js';
// Pre-training (src/tokenizer/trainer*, src/data/sentences, pretraining*, shards): vocabulary training, instances,
// binary shards, the gather-first BertForPreTraining and the pre-training loop.
export { trainWordPiece, WordCounter, BERT_SPECIAL_TOKENS } from './tokenizer/trainer.js';
export type { WordPieceTrainerOptions, TrainerProgress, TrainedWordPiece } from './tokenizer/trainer.js';
export { bertWordSplitter } from './tokenizer/trainer-words.js';
export { saveBertTokenizerFiles, bertTokenizerJson, bertTokenizerConfig } from './tokenizer/trainer-files.js';
export { splitSentences } from './data/sentences.js';
export {
  pretrainingVocab,
  createTrainingInstances,
  createInstancesFromDocument,
  maskTokens,
  maskDynamically,
  truncateSeqPair,
} from './data/pretraining.js';
export type {
  PretrainingVocab,
  PretrainingInstance,
  TokenizedDocument,
  InstanceOptions,
  MaskingOptions,
  CreateInstancesOptions,
} from './data/pretraining.js';
export { readCorpusDocuments, readCorpusTexts, detectCorpusFormat } from './data/pretraining-input.js';
export type { CorpusFormat, CorpusDocument, CorpusReadOptions } from './data/pretraining-input.js';
export { createPretrainingData } from './data/pretraining-dataset.js';
export type { CreatePretrainingDataOptions, SentenceTokenizer } from './data/pretraining-dataset.js';
export { ShardWriter, readShard, readShardHeader, readDataset, readDatasetManifest } from './data/shards.js';
export type { ShardHeader, PretrainingDatasetManifest } from './data/shards.js';
export { collatePretraining } from './data/batching.js';
export type { PretrainingBatch, BatchInputs } from './data/batching.js';
export { pretrainingForward, pretrainingTrainerModel, loadPretrainingModel } from './train/pretrain-model.js';
export type { PretrainingStepOutput, PretrainingForwardOptions } from './train/pretrain-model.js';
export { pretrain, PRETRAIN_PRESETS, PRETRAIN_OBJECTIVES, presetConfig } from './train/pretrain.js';
export type {
  PretrainOptions,
  PretrainResult,
  PretrainPreset,
  PretrainObjective,
  PretrainArchitecture,
  PretrainMetrics,
} from './train/pretrain.js';
export { maskedLmForward, maskedLmTrainerModel, evaluateMaskedLm } from './train/pretrain-mlm.js';
export type { MaskedLmStepOutput, MaskedLmEvaluation } from './train/pretrain-mlm.js';
export { ElectraPretraining, evaluateElectra, generatorConfig } from './train/electra.js';
export type { ElectraStepOutput, ElectraForwardOptions, ElectraEvaluation } from './train/electra.js';
export { evaluatePretraining, readEvalInstances } from './train/pretrain-eval.js';
export type { PretrainEvaluation } from './train/pretrain-eval.js';
export { PretrainingStream } from './train/pretrain-stream.js';
export type { PretrainingStreamOptions } from './train/pretrain-stream.js';
