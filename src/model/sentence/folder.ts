// Reads a sentence-transformers folder's description: modules.json and each module's config, in both the legacy
// layout (sentence-transformers <= 5.3) and the one >= 5.4 writes; config_sentence_transformers.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  downloadHubFile,
  downloadOptionalHubFile,
  readJsonFile,
  resolveModelPath,
  type HubOptions,
} from '../../io/index.js';
import { denseActivation, DENSE_ACTIVATION_NAMES, type DenseActivation } from './dense.js';
import { isPoolingMode, POOLING_MODES, type PoolingMode } from './pooling.js';

/** A folder that does not describe a model this library can run (what, where, what to do). */
export class SentenceFolderError extends Error {
  override readonly name = 'SentenceFolderError';
}

export interface TransformerModuleSpec {
  kind: 'transformer';
  /** Folder of the transformer weights and tokenizer, relative to the model folder ('' = the folder itself). */
  path: string;
  /** sentence_bert_config.json's max_seq_length (legacy layout); undefined: the tokenizer's model_max_length. */
  maxSeqLength: number | undefined;
  doLowerCase: boolean;
}
export interface PoolingModuleSpec {
  kind: 'pooling';
  path: string;
  embeddingDimension: number;
  modes: PoolingMode[];
  includePrompt: boolean;
}
export interface DenseModuleSpec {
  kind: 'dense';
  path: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: DenseActivation;
}
export interface NormalizeModuleSpec {
  kind: 'normalize';
  path: string;
}
export type SentenceModuleSpec = TransformerModuleSpec | PoolingModuleSpec | DenseModuleSpec | NormalizeModuleSpec;

/** config_sentence_transformers.json (every field optional in the file). */
export interface SentenceModelSettings {
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  similarityFnName: SimilarityFnName | null;
  /** CrossEncoder: the torch class path of activation_fn. */
  activationFn: string | null;
  modelType: string | null;
}

export type SimilarityFnName = 'cosine' | 'dot' | 'euclidean' | 'manhattan';
const SIMILARITY_FNS: readonly SimilarityFnName[] = ['cosine', 'dot', 'euclidean', 'manhattan'];

// Module types by the names modules.json gives them: the legacy `sentence_transformers.models.X` and the class
// paths sentence-transformers >= 5.4 writes (with and without the submodule).
const MODULE_KINDS: Record<string, SentenceModuleSpec['kind']> = {
  'sentence_transformers.models.Transformer': 'transformer',
  'sentence_transformers.models.Pooling': 'pooling',
  'sentence_transformers.models.Dense': 'dense',
  'sentence_transformers.models.Normalize': 'normalize',
  'sentence_transformers.base.modules.transformer.Transformer': 'transformer',
  'sentence_transformers.base.modules.Transformer': 'transformer',
  'sentence_transformers.sentence_transformer.modules.pooling.Pooling': 'pooling',
  'sentence_transformers.sentence_transformer.modules.Pooling': 'pooling',
  'sentence_transformers.base.modules.dense.Dense': 'dense',
  'sentence_transformers.base.modules.Dense': 'dense',
  'sentence_transformers.base.modules.normalize.Normalize': 'normalize',
  'sentence_transformers.base.modules.Normalize': 'normalize',
};

type Json = Record<string, unknown>;

function readObject(path: string, what: string): Json {
  const value = readJsonFile(path, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SentenceFolderError(`${path}: ${what} must be a JSON object`);
  return value as Json;
}

function positiveInt(cfg: Json, key: string, file: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new SentenceFolderError(`${file}: "${key}" must be a positive integer, found ${JSON.stringify(v)}`);
  return v;
}

/** True when the folder is a sentence-transformers model (has modules.json). */
export function isSentenceTransformersFolder(dir: string): boolean {
  return existsSync(join(dir, 'modules.json'));
}

/** modules.json's entries (type and path) in idx order. */
function moduleEntries(file: string): { type: string; path: string }[] {
  const list = readJsonFile(file, 'modules.json');
  if (!Array.isArray(list) || list.length === 0)
    throw new SentenceFolderError(`${file}: expected a non-empty list of modules`);
  const entries = list.map((entry, i) => {
    const e = entry as Json;
    if (typeof e !== 'object' || e === null || typeof e['type'] !== 'string' || typeof e['path'] !== 'string')
      throw new SentenceFolderError(`${file}: module ${i} needs a "type" and a "path" string`);
    return { idx: typeof e['idx'] === 'number' ? e['idx'] : i, type: e['type'], path: e['path'] };
  });
  return entries.sort((a, b) => a.idx - b.idx);
}

/**
 * A local folder for a sentence-transformers model or cross-encoder: a folder as it is; a hub id downloaded into the
 * HF cache with what sentence-transformers reads — modules.json, config_sentence_transformers.json,
 * sentence_bert_config.json, the transformer's config, tokenizer and weights (at the root or in its module folder),
 * each Pooling / Dense module's config.json and each Dense module's weights. A repo without modules.json is
 * downloaded as a plain model (a cross-encoder of sentence-transformers 4.x - 5.3).
 */
export async function resolveSentenceModelPath(model: string, options: HubOptions = {}): Promise<string> {
  if (existsSync(model)) return resolveModelPath(model, options);
  const modulesFile = await downloadOptionalHubFile(model, 'modules.json', options);
  await downloadOptionalHubFile(model, 'config_sentence_transformers.json', options);
  if (modulesFile === null) return resolveModelPath(model, options);
  await downloadOptionalHubFile(model, 'sentence_bert_config.json', options);
  for (const { type, path } of moduleEntries(modulesFile)) {
    // An unknown type is left for readModules to refuse, naming it.
    const kind = MODULE_KINDS[type];
    const dir = path.replace(/\/+$/, '');
    if (kind === 'transformer') {
      await resolveModelPath(model, { ...options, subfolder: dir || undefined });
      if (dir) await downloadOptionalHubFile(model, `${dir}/sentence_bert_config.json`, options);
    } else if (kind === 'pooling' || kind === 'dense') {
      await downloadHubFile(model, `${dir}/config.json`, options);
      if (kind === 'dense' && (await downloadOptionalHubFile(model, `${dir}/model.safetensors`, options)) === null)
        await downloadHubFile(model, `${dir}/pytorch_model.bin`, options);
    }
  }
  return dirname(modulesFile);
}

/**
 * What a folder holds as sentence-transformers sees it: 'cross-encoder' (config_sentence_transformers.json's
 * model_type CrossEncoder, or the 4.x - 5.3 marks in config.json), 'sentence-transformer' (modules.json), else null.
 */
export function sentenceFolderKind(dir: string): 'sentence-transformer' | 'cross-encoder' | null {
  if (readSettings(dir).modelType === 'CrossEncoder') return 'cross-encoder';
  const configFile = join(dir, 'config.json');
  if (existsSync(configFile)) {
    const config = readObject(configFile, 'model config');
    if ('sentence_transformers' in config || 'sbert_ce_default_activation_function' in config) return 'cross-encoder';
  }
  return isSentenceTransformersFolder(dir) ? 'sentence-transformer' : null;
}

/** The modules of a folder in modules.json order, each with its configuration read and checked. */
export function readModules(dir: string): SentenceModuleSpec[] {
  const file = join(dir, 'modules.json');
  return moduleEntries(file).map(({ type, path }) => {
    const kind = MODULE_KINDS[type];
    if (kind === undefined) {
      throw new SentenceFolderError(
        `${file}: module type "${type}" (at "${path}") is not supported; supported: Transformer, Pooling, Dense, Normalize`,
      );
    }
    const moduleDir = join(dir, path);
    if (kind === 'transformer') return transformerSpec(dir, path);
    if (kind === 'normalize') return { kind, path };
    const cfgFile = join(moduleDir, 'config.json');
    const cfg = readObject(cfgFile, `${type} config`);
    return kind === 'pooling' ? poolingSpec(cfg, cfgFile, path) : denseSpec(cfg, cfgFile, path);
  });
}

function transformerSpec(dir: string, path: string): TransformerModuleSpec {
  const file = join(dir, path, 'sentence_bert_config.json');
  const cfg = existsSync(file) ? readObject(file, 'sentence_bert_config.json') : {};
  const max = cfg['max_seq_length'];
  if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 1))
    throw new SentenceFolderError(`${file}: "max_seq_length" must be a positive integer, found ${JSON.stringify(max)}`);
  return {
    kind: 'transformer',
    path,
    maxSeqLength: typeof max === 'number' ? max : undefined,
    doLowerCase: cfg['do_lower_case'] === true,
  };
}

// The legacy booleans in the order Pooling concatenates them (pooling.py's _LEGACY_POOLING_MODE_KWARGS).
const LEGACY_POOLING_KEYS: readonly [string, PoolingMode][] = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];

function poolingSpec(cfg: Json, file: string, path: string): PoolingModuleSpec {
  const dimKey = 'embedding_dimension' in cfg ? 'embedding_dimension' : 'word_embedding_dimension';
  const embeddingDimension = positiveInt(cfg, dimKey, file);
  let modes: PoolingMode[];
  const raw = cfg['pooling_mode'];
  if (raw !== undefined) {
    const list = Array.isArray(raw) ? raw : [raw];
    for (const m of list) {
      if (!isPoolingMode(m))
        throw new SentenceFolderError(
          `${file}: unknown pooling_mode ${JSON.stringify(m)}; supported: ${POOLING_MODES.join(', ')}`,
        );
    }
    modes = list as PoolingMode[];
  } else {
    modes = LEGACY_POOLING_KEYS.filter(([key]) => cfg[key] === true).map(([, mode]) => mode);
    // sentence-transformers falls back to mean when no boolean is set.
    if (modes.length === 0) modes = ['mean'];
  }
  if (modes.length === 0) throw new SentenceFolderError(`${file}: pooling_mode is an empty list`);
  return { kind: 'pooling', path, embeddingDimension, modes, includePrompt: cfg['include_prompt'] !== false };
}

function denseSpec(cfg: Json, file: string, path: string): DenseModuleSpec {
  for (const key of ['module_input_name', 'module_output_name']) {
    const v = cfg[key];
    if (v !== undefined && v !== null && v !== 'sentence_embedding')
      throw new SentenceFolderError(
        `${file}: Dense with ${key} "${String(v)}" is not supported (only sentence_embedding)`,
      );
  }
  if (cfg['use_residual'] === true) throw new SentenceFolderError(`${file}: Dense with use_residual is not supported`);
  const name = cfg['activation_function'] ?? 'torch.nn.modules.activation.Tanh';
  const activation = typeof name === 'string' ? denseActivation(name) : undefined;
  if (activation === undefined) {
    throw new SentenceFolderError(
      `${file}: activation_function ${JSON.stringify(name)} is not supported; supported: ${DENSE_ACTIVATION_NAMES.join(', ')}`,
    );
  }
  return {
    kind: 'dense',
    path,
    inFeatures: positiveInt(cfg, 'in_features', file),
    outFeatures: positiveInt(cfg, 'out_features', file),
    bias: cfg['bias'] !== false,
    activation,
  };
}

/** config_sentence_transformers.json, or the defaults when the folder has none. */
export function readSettings(dir: string): SentenceModelSettings {
  const file = join(dir, 'config_sentence_transformers.json');
  const settings: SentenceModelSettings = {
    prompts: {},
    defaultPromptName: null,
    similarityFnName: null,
    activationFn: null,
    modelType: null,
  };
  if (!existsSync(file)) return settings;
  const cfg = readObject(file, 'config_sentence_transformers.json');
  const prompts = cfg['prompts'];
  if (prompts !== undefined && prompts !== null) {
    if (typeof prompts !== 'object' || Array.isArray(prompts))
      throw new SentenceFolderError(`${file}: "prompts" must be an object of name -> prompt text`);
    for (const [name, text] of Object.entries(prompts as Json)) {
      if (typeof text !== 'string')
        throw new SentenceFolderError(`${file}: prompt "${name}" must be a string, found ${JSON.stringify(text)}`);
      settings.prompts[name] = text;
    }
  }
  const def = cfg['default_prompt_name'];
  if (typeof def === 'string') {
    if (!(def in settings.prompts))
      throw new SentenceFolderError(`${file}: default_prompt_name "${def}" is not one of the prompts`);
    settings.defaultPromptName = def;
  }
  const sim = cfg['similarity_fn_name'];
  if (sim !== undefined && sim !== null) {
    if (!SIMILARITY_FNS.includes(sim as SimilarityFnName))
      throw new SentenceFolderError(
        `${file}: similarity_fn_name ${JSON.stringify(sim)} is not one of ${SIMILARITY_FNS.join(', ')}`,
      );
    settings.similarityFnName = sim as SimilarityFnName;
  }
  if (typeof cfg['activation_fn'] === 'string') settings.activationFn = cfg['activation_fn'];
  if (typeof cfg['model_type'] === 'string') settings.modelType = cfg['model_type'];
  return settings;
}
