// bert-ts for the browser (npm run build:browser -> dist/browser/bert-ts.js): the tokenizer, the models, the Trainer,
// finetune / evaluate, pipelines and attention maps, over an in-memory file system that the page fills from fetch
// or a user's file, with the WebAssembly kernels as the backend (useWasmBackend).
export { useWasmBackend, loadWasmBackend, defaultWasmThreads, DEFAULT_WASM_URL } from './wasm.js';
export type { WasmBackendOptions } from './wasm.js';

/**
 * The environment variables the library reads, for a page to set (transformers.js has an `env` too): HF_ENDPOINT (a
 * hub mirror), HF_TOKEN, HF_HUB_OFFLINE before `pipeline(task, 'org/name')` or `fromPretrained('org/name')` download
 * from the hub; BERT_BACKEND is set by useWasmBackend.
 */
export const env: Record<string, string | undefined> = process.env;
export {
  fetchModelFolder,
  fetchDataFile,
  mountUserFile,
  mountFile,
  listFiles,
  readMountedFile,
  gunzip,
  MODEL_FOLDER_FILES,
} from './files.js';
export type { Kernels, Activation, DropoutSpec } from '../../tensor/kernels.js';
export type { Tensor } from '../../tensor/tensor.js';
export { jsKernels } from '../../tensor/js-kernels.js';
export { getKernels, tryWasmKernels } from '../../native/index.js';
export { BertConfig, ConfigError } from '../../model/config.js';
export { InputError, isInputError } from '../../model/errors.js';
export * from '../../model/bert.js';
export * from '../../model/auto.js';
export { AdamW } from '../../train/optim.js';
export { clipGradNorm } from '../../train/clip.js';
export { learningRateAt } from '../../train/schedule.js';
export { BertTokenizer, Tokenizer, TokenizerError } from '../../tokenizer/index.js';
export { ResultTensor } from '../../tensor/result.js';
export { Trainer, TrainingDivergedError } from '../../train/trainer.js';
export type { TrainerModel, TrainerOptions, TrainerResult } from '../../train/trainer.js';
export { EpochSampler } from '../../data/samplers.js';
export { ProgressReporter, trainingCurveSvg } from '../../train/progress.js';
export type { StepRecord, EvalRecord } from '../../train/progress.js';
export { bertTrainerModel, predictBatches } from '../../train/bert-adapter.js';
export { evaluateSequenceClassification } from '../../train/evaluation.js';
export { accuracy, classificationReport } from '../../train/metrics.js';
export { finetune } from '../../train/finetune.js';
export type { FinetuneOptions, FinetuneResult, FinetuneSummary } from '../../train/finetune.js';
export { evaluate } from '../../train/evaluate.js';
export { readTextClassification, readCsvClassification, readJsonlClassification } from '../../data/classification.js';
export type { TextClassificationExample } from '../../data/classification.js';
export { parseCsv } from '../../data/csv.js';
export { collateEncoded, encodedDataset } from '../../data/batching.js';
export { pipeline } from '../../pipelines/pipeline.js';
export { attentionMaps, heatmapSvg, attentionHtml } from '../../pipelines/attention.js';
export type { AttentionMaps } from '../../pipelines/attention.js';
export { readSafetensorsBuffer, encodeSafetensors } from '../../io/index.js';
