// The file-format layer: safetensors, PyTorch .bin, JSON files, atomic writes (and the hub download).
export { CheckpointFormatError, UnsafePickleError, HubError } from './errors.js';
export {
  type DType,
  type TensorData,
  type TensorEntry,
  DTYPE_SIZE,
  toInt32Array,
  halfToFloat32,
  bfloat16ToFloat32,
  float32ToHalf,
  float32ToBfloat16,
} from './dtypes.js';
export {
  type SafetensorsContent,
  type SafetensorsFile,
  type SafetensorsTensorInfo,
  type WritableTensor,
  MAX_SAFETENSORS_HEADER,
  readSafetensors,
  readSafetensorsBuffer,
  openSafetensors,
  encodeSafetensors,
  writeSafetensors,
} from './safetensors.js';
export {
  writeFileAtomic,
  copyTokenizerFiles,
  TOKENIZER_FILES,
  readJsonFile,
  readTextFile,
  FolderSnapshot,
} from './files.js';
export { type FileIdentity, pathIdentity } from './source.js';
export { readPytorchBin, readPytorchBinBuffer } from './pytorch.js';
export {
  type HubOptions,
  MODEL_FILES,
  resolveModelPath,
  downloadHubFile,
  downloadOptionalHubFile,
  hfCacheDir,
  repoCacheFolder,
} from './hub.js';
