// quantizeFolder(model, output): a model folder saved as a quantized (q8) folder that fromPretrained reads back in q8.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { copyTokenizerFiles, readSafetensors } from '../io/index.js';
import type { Kernels } from '../tensor/kernels.js';
import { MODEL_CLASSES, type BertArchitecture, type PretrainedModelClass } from './bert.js';
import { readConfig, resolveModelFolder } from './checkpoint.js';
import { InputError } from './errors.js';
import { parseModelDtype, type ModelDtype } from './linear-dtype.js';

export interface QuantizeFolderOptions {
  /** The stored dtype: 'q8' (the only quantized storage; default). */
  dtype?: ModelDtype;
  kernels?: Kernels;
  /** Where load warnings go (default console.warn). */
  warn?: (message: string) => void;
}

export interface QuantizeFolderResult {
  output: string;
  architecture: string;
  /** How many weights were stored as int8 (+ scales), and the file sizes before and after. */
  int8Tensors: number;
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Loads `modelDir` (its config.json architectures' class) in q8 and saves it to `outputDir` with the tokenizer files:
 * the encoder linears as int8 + per-row scales, what the model computes with (see BertPreTrainedModel.save); the
 * other tensors in the folder's float precision (config.json dtype / torch_dtype: float32, float16 or bfloat16).
 */
export async function quantizeFolder(
  modelDir: string,
  outputDir: string,
  options: QuantizeFolderOptions = {},
): Promise<QuantizeFolderResult> {
  const dtype = parseModelDtype(options.dtype ?? 'q8', 'quantizeFolder');
  if (dtype !== 'q8')
    throw new InputError(
      'quantizeFolder',
      (n) => `${n('dtype')} must be 'q8' (the one quantized storage), got '${dtype}'`,
    );
  const dir = resolveModelFolder(modelDir);
  if (existsSync(outputDir) && resolveModelFolder(outputDir) === dir)
    throw new InputError('quantizeFolder', 'the output folder is the model folder: write the quantized one elsewhere');
  const config = readConfig(dir);
  const architecture = config.architectures?.[0] ?? '';
  const cls = MODEL_CLASSES[architecture as BertArchitecture] as PretrainedModelClass | undefined;
  if (!cls)
    throw new InputError(
      'quantizeFolder',
      `${dir}/config.json: architectures ${JSON.stringify(architecture)} is not a bert-ts class`,
    );
  const model = await cls.fromPretrained(dir, { dtype: 'q8', kernels: options.kernels, warn: options.warn });
  // The float tensors keep the folder's precision (a float16 checkpoint stays float16 beside its int8 weights).
  const given = config.extra.dtype ?? config.extra.torch_dtype;
  const precision = given === 'float16' || given === 'bfloat16' ? given : 'float32';
  await model.save(outputDir, { dtype: precision });
  copyTokenizerFiles(dir, outputDir);
  const file = (d: string): string => join(d, 'model.safetensors');
  const int8 = [...readSafetensors(file(outputDir)).tensors.values()].filter((t) => t.dtype === 'I8').length;
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  return {
    output: outputDir,
    architecture: model.architecture,
    int8Tensors: int8,
    bytesBefore: size(file(dir)) || size(join(dir, 'pytorch_model.bin')),
    bytesAfter: size(file(outputDir)),
  };
}
