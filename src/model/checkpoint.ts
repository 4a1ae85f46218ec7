// HF checkpoint names ↔ our parameter store: reading a model folder's weights and writing what save_pretrained writes.
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CheckpointFormatError,
  readJsonFile,
  readPytorchBin,
  readSafetensors,
  writeFileAtomic,
  writeSafetensors,
} from '../io/index.js';
import type { FolderSnapshot } from '../io/index.js';
import type { TensorEntry, WritableTensor } from '../io/index.js';
import { BertConfig, configJsonText } from './config.js';
import { BACKBONE_ROOTS } from './family.js';
import type { ParameterStore } from './params.js';
import { Q8_SCALE_SUFFIX, dequantizeWeight, quantizeForStorage, type QuantizedWeight } from './linear-dtype.js';

/**
 * The folder's real path, resolved once: a model reached through a symlink that is swapped while it loads
 * (`current -> v2`, the atomic way to deploy a new version) is then read whole from one version. A path that does
 * not resolve is returned as given, for readConfig to report.
 */
export function resolveModelFolder(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** Reads and validates `dir/config.json` (`snapshot` remembers the version read). */
export function readConfig(dir: string, snapshot?: FolderSnapshot): BertConfig {
  const path = join(dir, 'config.json');
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new CheckpointFormatError(dir, 'not a model folder (no such directory)');
  if (!existsSync(path)) throw new CheckpointFormatError(dir, 'no config.json in the model folder');
  return BertConfig.fromJson(readJsonFile(path, 'model config', snapshot), path);
}

/** Reads every tensor of a model folder: model.safetensors (or its shards), else pytorch_model.bin. */
export function readWeights(
  dir: string,
  snapshot?: FolderSnapshot,
): { tensors: Map<string, TensorEntry>; file: string } {
  const read = (path: string, reader: typeof readSafetensors): Map<string, TensorEntry> => {
    const content = reader(path);
    snapshot?.record(path, content.identity);
    return content.tensors;
  };
  const st = join(dir, 'model.safetensors');
  if (existsSync(st)) return { tensors: read(st, readSafetensors), file: st };
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const j = readJsonFile(index, 'safetensors index', snapshot) as { weight_map?: Record<string, string> };
    if (!j || typeof j !== 'object' || !j.weight_map || typeof j.weight_map !== 'object') {
      throw new CheckpointFormatError(index, 'no "weight_map" object in the safetensors index');
    }
    const tensors = new Map<string, TensorEntry>();
    for (const shard of new Set(Object.values(j.weight_map))) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
        throw new CheckpointFormatError(
          index,
          `shard name ${JSON.stringify(shard)} must be a file name inside the model folder`,
        );
      }
      for (const [k, v] of read(join(dir, shard), readSafetensors)) tensors.set(k, v);
    }
    return { tensors, file: index };
  }
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { tensors: read(bin, readPytorchBin), file: bin };
  throw new CheckpointFormatError(
    dir,
    'no weights file (expected model.safetensors, model.safetensors.index.json or pytorch_model.bin)',
  );
}

/**
 * The tensors of one safetensors file by name as float32: a training state's weights (model, best) and optimizer
 * moments, which the Trainer writes in F32 (float dtypes read as float32); an integer tensor is refused, not misread.
 */
export function readFloat32Tensors(path: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(path).tensors) {
    if (!(t.data instanceof Float32Array))
      throw new CheckpointFormatError(
        path,
        `tensor "${name}" is ${t.dtype}; a training state holds float tensors (F32) only`,
      );
    out.set(name, t.data);
  }
  return out;
}

/** How many values fromPretrained may initialise beyond those the checkpoint holds: 2^24 (64 MiB), or the checkpoint's own size. */
export const MAX_NEW_VALUES = 2 ** 24;

/**
 * Refuses, before anything is allocated, a config.json that describes a model much larger than the checkpoint next
 * to it (e.g. `"num_hidden_layers": 4000` beside a 4-layer checkpoint): such a model would be mostly random
 * initialisation, and the allocation would be sized by an untrusted number. A new head, or a few layers more, fit.
 */
export function checkConfigFitsWeights(
  config: BertConfig,
  configPath: string,
  tensors: Map<string, TensorEntry>,
  file: string,
): void {
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  const needed = config.parameterCount();
  if (needed > 2 * held + MAX_NEW_VALUES) {
    throw new CheckpointFormatError(
      configPath,
      `describes a model of ${needed} parameters but ${file} holds only ${held} values; this config.json does not belong to ` +
        `these weights (fromPretrained initialises at most ${MAX_NEW_VALUES} + the checkpoint's size in new values)`,
    );
  }
}

export interface LoadReport {
  /** Parameters absent from the checkpoint (initialised instead). */
  missing: string[];
  /** Checkpoint tensors the model has no use for. */
  unexpected: string[];
  /** Parameters whose checkpoint shape did not fit (a head resized for a new label count): initialised instead. */
  mismatched: { name: string; checkpoint: number[]; model: number[] }[];
}

/** What a model class declares it may leave missing or unexpected without a warning (HF `_keys_to_ignore_on_load_*`). */
export interface KeysToIgnoreOnLoad {
  readonly keysToIgnoreOnLoadMissing: readonly RegExp[];
  readonly keysToIgnoreOnLoadUnexpected: readonly RegExp[];
}

/** The parameters a load initialised afresh that the class does not declare ignorable (resized heads aside). */
export function newlyInitialized(
  report: LoadReport,
  ignore: KeysToIgnoreOnLoad = { keysToIgnoreOnLoadMissing: [], keysToIgnoreOnLoadUnexpected: [] },
): string[] {
  const resized = new Set(report.mismatched.map((m) => m.name));
  return report.missing.filter((n) => !resized.has(n) && !ignore.keysToIgnoreOnLoadMissing.some((r) => r.test(n)));
}

/**
 * The warnings of one load, worded as HF's from_pretrained words them: the one place every loader reports through.
 * Names the class declares as ignorable (`ignore`) are left out; an empty list means a clean load.
 */
export function loadWarnings(
  report: LoadReport,
  architecture: string,
  dir: string,
  ignore: KeysToIgnoreOnLoad = { keysToIgnoreOnLoadMissing: [], keysToIgnoreOnLoadUnexpected: [] },
): string[] {
  const warnings: string[] = [];
  const missing = newlyInitialized(report, ignore);
  const unexpected = report.unexpected.filter((n) => !ignore.keysToIgnoreOnLoadUnexpected.some((r) => r.test(n)));
  if (unexpected.length > 0) {
    warnings.push(
      `Some weights of the model checkpoint at ${dir} were not used when initializing ${architecture}: [${unexpected.join(', ')}]`,
    );
  }
  if (missing.length > 0) {
    warnings.push(
      `Some weights of ${architecture} were not initialized from the model checkpoint at ${dir} and are newly initialized: ` +
        `[${missing.join(', ')}]. You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`,
    );
  }
  if (report.mismatched.length > 0) {
    const shapes = report.mismatched.map(
      (m) => `${m.name}: checkpoint [${m.checkpoint.join(', ')}] -> model [${m.model.join(', ')}]`,
    );
    warnings.push(
      `Some weights of ${architecture} were not initialized from the model checkpoint at ${dir} and are newly initialized ` +
        `(re-initialized because their shapes did not match): ${shapes.join('; ')}. You should probably TRAIN this model on a down-stream task.`,
    );
  }
  return warnings;
}

/** HF's legacy renames: LayerNorm.gamma/beta → weight/bias. */
function modernName(key: string): string {
  return key.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
}

/**
 * Copies checkpoint tensors into the store by HF name. `prefix` is the backbone prefix of the model (`basePrefix`,
 * the family's 'bert.', 'roberta.', ..., or '' for the bare model): checkpoints with and without it are both
 * accepted. Shapes must match exactly, except for the parameters `resizable` accepts: those are left to initialise
 * and listed in `mismatched`.
 */
export function loadIntoStore(
  store: ParameterStore,
  prefix: string,
  basePrefix: string,
  tensors: Map<string, TensorEntry>,
  file: string,
  options: {
    resizable?: (name: string) => boolean;
    /** Receives the int8 weight of every external parameter (a q8 model of a quantized folder), by HF name. */
    quantized?: Map<string, QuantizedWeight>;
  } = {},
): LoadReport {
  const loaded = new Set<string>();
  // A q8 folder's weight `<name>` is I8 with its per-row scales in `<name>_scale` (see linear-dtype.ts).
  const scaleOf = (key: string): Float32Array | null => {
    const t = tensors.get(key + Q8_SCALE_SUFFIX);
    return t && t.data instanceof Float32Array ? t.data : null;
  };
  const unexpected: string[] = [];
  const mismatched: LoadReport['mismatched'] = [];
  // Names in the checkpoint that mean the same parameter: prefer the first seen (e.g. cls.predictions.bias over decoder.bias).
  for (const [rawKey, entry] of tensors) {
    let key = modernName(rawKey);
    if (prefix !== '' && BACKBONE_ROOTS.some((r) => key.startsWith(r))) key = prefix + key;
    if (prefix === '' && key.startsWith(basePrefix)) key = key.slice(basePrefix.length);
    if (key.endsWith('embeddings.position_ids')) continue; // a buffer, not a parameter
    if (rawKey.endsWith(Q8_SCALE_SUFFIX) && tensors.get(rawKey.slice(0, -Q8_SCALE_SUFFIX.length))?.dtype === 'I8')
      continue; // read with its weight
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
    if (!shapeOk && options.resizable?.(target) === true) {
      // HF's ignore_mismatched_sizes, for the parameters the caller allows (a head under a new label count).
      mismatched.push({ name: target, checkpoint: [...entry.shape], model: [...expected] });
      continue;
    }
    if (!shapeOk) {
      throw new CheckpointFormatError(
        file,
        `tensor "${rawKey}" has shape [${entry.shape.join(', ')}] but the config expects [${expected.join(', ')}] for ${target}; ` +
          'the weights do not belong to this config.json',
      );
    }
    const [n = 1, k = 1] = expected.length === 2 ? expected : [1, expected[0] ?? 1];
    const scales = entry.data instanceof Int8Array ? scaleOf(rawKey) : null;
    if (scales && expected.length === 2 && scales.length === n) {
      const q = { data: entry.data as Int8Array, scales };
      if (store.isExternal(target) && options.quantized) options.quantized.set(target, q);
      else dequantizeWeight(q, n, k, store.view(target));
      loaded.add(target);
      continue;
    }
    if (!(entry.data instanceof Float32Array)) {
      throw new CheckpointFormatError(
        file,
        `tensor "${rawKey}" has dtype ${entry.dtype}; parameters must be floating point (F32, F16, BF16)` +
          (entry.dtype === 'I8' ? `, or I8 with F32 per-row scales in "${rawKey}${Q8_SCALE_SUFFIX}"` : ''),
      );
    }
    if (store.isExternal(target) && options.quantized) {
      options.quantized.set(target, quantizeForStorage(entry.data, n, k)); // a float weight in a quantized folder
    } else store.view(target).set(entry.data);
    loaded.add(target);
  }
  const missing = store.order.filter((n) => !loaded.has(n));
  return { missing, unexpected, mismatched };
}

/**
 * Writes config.json + model.safetensors (F32 unless `dtype` says otherwise) as transformers' save_pretrained does:
 * every parameter by its HF name, the tied decoder weight (and the decoder bias alias) not stored. The parameters in
 * `quantized` are written as a q8 folder stores them: `<name>` I8 and `<name>_scale` F32.
 */
export function saveToDir(
  dir: string,
  config: BertConfig,
  store: ParameterStore,
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
  quantized: Map<string, QuantizedWeight> = new Map(),
): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, WritableTensor>();
  for (const name of store.order) {
    const shape = store.shape(name);
    const q = quantized.get(name);
    if (!q) tensors.set(name, { dtype, shape, data: store.view(name) });
    else {
      tensors.set(name, { dtype: 'I8', shape, data: q.data });
      tensors.set(name + Q8_SCALE_SUFFIX, { dtype: 'F32', shape: [shape[0]!], data: q.scales });
    }
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), configJsonText(config.toJson()));
}
