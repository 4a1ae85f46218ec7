// The weights file of a sentence-transformers module folder: model.safetensors, or pytorch_model.bin (older saves).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readPytorchBin, readSafetensors, type TensorEntry } from '../../io/index.js';
import { SentenceFolderError } from './folder.js';

export function readSafetensorsOrBin(dir: string): { tensors: Map<string, TensorEntry>; file: string } {
  const safetensors = join(dir, 'model.safetensors');
  if (existsSync(safetensors)) return { tensors: readSafetensors(safetensors).tensors, file: safetensors };
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { tensors: readPytorchBin(bin).tensors, file: bin };
  throw new SentenceFolderError(`${dir}: no model.safetensors or pytorch_model.bin for this module`);
}
