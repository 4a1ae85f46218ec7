// bert-ts public API.
export type { Kernels, Activation, DropoutSpec } from './tensor/kernels.js';
// Model (src/model), tensors, optimizer pieces (src/train/optim, clip, schedule).
export type { Tensor } from './tensor/tensor.js';
export { jsKernels } from './tensor/js-kernels.js';
export { BertConfig } from './model/config.js';
export type { ProblemType, ConfigJson } from './model/config.js';
export {
  BertPreTrainedModel,
  BertModel,
  BertForPreTraining,
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertForQuestionAnswering,
  BertForMultipleChoice,
  MODEL_CLASSES,
} from './model/bert.js';
export type {
  BertArchitecture,
  ModelOptions,
  PretrainedOptions,
  ForwardOptions,
  CommonOutput,
  BertModelOutput,
  PreTrainingOutput,
  LogitsOutput,
  QuestionAnsweringOutput,
} from './model/bert.js';
export type { BertInputs, ArrayInput, ShapedArray } from './model/inputs.js';
export type { Parameter } from './model/params.js';
export { AdamW, hfNoDecay } from './train/optim.js';
export type { AdamWOptions, OptimizableParameter } from './train/optim.js';
export { clipGradNorm } from './train/clip.js';
export { linearWarmupDecay, constantWarmup, LinearSchedule } from './train/schedule.js';
export type { WarmupSchedule } from './train/schedule.js';
// File formats and downloads (src/io): safetensors, PyTorch .bin, JSON, atomic writes, the HF hub cache.
export {
  CheckpointFormatError, UnsafePickleError, HubError, toInt32Array,
  readSafetensors, openSafetensors, writeSafetensors, encodeSafetensors, readPytorchBin,
  readJsonFile, writeFileAtomic, resolveModelPath, downloadHubFile, hfCacheDir,
} from './io/index.js';
export type { DType, TensorData, TensorEntry, SafetensorsContent, SafetensorsFile, WritableTensor, HubOptions } from './io/index.js';
