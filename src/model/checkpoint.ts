// HF checkpoint names ↔ our parameter store: reading a model folder's weights and writing what save_pretrained writes.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, readPytorchBin, readSafetensors, writeFileAtomic, writeSafetensors } from '../io/index.js';
import type { TensorEntry, WritableTensor } from '../io/index.js';
import { BertConfig } from './config.js';
import type { ParameterStore } from './params.js';

/** Reads and validates `dir/config.json`. */
export function readConfig(dir: string): BertConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a model folder (no such directory)`);
  if (!existsSync(path)) throw new Error(`${dir}: no config.json in the model folder`);
  return BertConfig.fromJson(readJsonFile(path, 'model config'), path);
}

/** Reads every tensor of a model folder: model.safetensors (or its shards), else pytorch_model.bin. */
export function readWeights(dir: string): { tensors: Map<string, TensorEntry>; file: string } {
  const st = join(dir, 'model.safetensors');
  if (existsSync(st)) return { tensors: readSafetensors(st).tensors, file: st };
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const j = readJsonFile(index, 'safetensors index') as { weight_map?: Record<string, string> };
    if (!j || typeof j !== 'object' || !j.weight_map || typeof j.weight_map !== 'object') {
      throw new Error(`${index}: no "weight_map" object in the safetensors index`);
    }
    const tensors = new Map<string, TensorEntry>();
    for (const shard of new Set(Object.values(j.weight_map))) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
        throw new Error(`${index}: shard name ${JSON.stringify(shard)} must be a file name inside the model folder`);
      }
      for (const [k, v] of readSafetensors(join(dir, shard)).tensors) tensors.set(k, v);
    }
    return { tensors, file: index };
  }
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { tensors: readPytorchBin(bin).tensors, file: bin };
  throw new Error(`${dir}: no weights file (expected model.safetensors, model.safetensors.index.json or pytorch_model.bin)`);
}

export interface LoadReport {
  /** Parameters absent from the checkpoint (initialised instead). */
  missing: string[];
  /** Checkpoint tensors the model has no use for. */
  unexpected: string[];
}

/** HF's legacy renames: LayerNorm.gamma/beta → weight/bias. */
function modernName(key: string): string {
  return key.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
}

const BACKBONE_ROOTS = ['embeddings.', 'encoder.', 'pooler.'];

/**
 * Copies checkpoint tensors into the store by HF name. `prefix` is the backbone prefix of the model ('bert.' or
 * ''): checkpoints with and without it are both accepted. Shapes must match exactly.
 */
export function loadIntoStore(store: ParameterStore, prefix: string, tensors: Map<string, TensorEntry>, file: string): LoadReport {
  const loaded = new Set<string>();
  const unexpected: string[] = [];
  // Names in the checkpoint that mean the same parameter: prefer the first seen (e.g. cls.predictions.bias over decoder.bias).
  for (const [rawKey, entry] of tensors) {
    let key = modernName(rawKey);
    if (prefix === 'bert.' && BACKBONE_ROOTS.some((r) => key.startsWith(r))) key = prefix + key;
    if (prefix === '' && key.startsWith('bert.')) key = key.slice(5);
    if (key.endsWith('embeddings.position_ids')) continue; // a buffer, not a parameter
    const target = store.resolve(key);
    if (target === undefined) {
      unexpected.push(rawKey);
      continue;
    }
    // The tied decoder weight is the word embedding: the stored copy must not override it.
    if (store.isAlias(key) && loaded.has(target)) continue;
    if (store.isAlias(key) && key.endsWith('decoder.weight')) continue;
    const expected = store.shape(target);
    const shapeOk = entry.shape.length === expected.length && entry.shape.every((d, i) => d === expected[i]);
    if (!shapeOk) {
      throw new Error(
        `${file}: tensor "${rawKey}" has shape [${entry.shape.join(', ')}] but the config expects [${expected.join(', ')}] for ${target}; ` +
          'the weights do not belong to this config.json',
      );
    }
    if (!(entry.data instanceof Float32Array)) {
      throw new Error(`${file}: tensor "${rawKey}" has dtype ${entry.dtype}; parameters must be floating point (F32, F16, BF16)`);
    }
    store.view(target).set(entry.data);
    loaded.add(target);
  }
  const missing = store.order.filter((n) => !loaded.has(n));
  return { missing, unexpected };
}

/**
 * Writes config.json + model.safetensors (F32 unless `dtype` says otherwise) as transformers' save_pretrained does:
 * every parameter by its HF name, the tied decoder weight (and the decoder bias alias) not stored.
 */
export function saveToDir(dir: string, config: BertConfig, store: ParameterStore, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, WritableTensor>();
  for (const name of store.order) tensors.set(name, { dtype, shape: store.shape(name), data: store.view(name) });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config.toJson(), null, 2) + '\n');
}
