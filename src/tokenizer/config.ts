// Reading and writing HF tokenizer folders: tokenizer.json, or vocab.txt + tokenizer_config.json the way
// transformers converts a slow BertTokenizer; every unsupported component is refused by name.
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  type BigIntStats,
} from 'node:fs';
import { join } from 'node:path';
import type { AddedToken } from './added-tokens.js';
import { TokenizerError } from './errors.js';
import { parsePipeline, parsePipelinePostProcessor, type PipelineSpec } from './pipeline.js';

/** BertNormalizer options as written in tokenizer.json (`stripAccents: null` follows `lowercase`). */
export interface NormalizerSpec {
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean | null;
  lowercase: boolean;
}

/** One piece of a TemplateProcessing template. */
export type TemplatePiece =
  { kind: 'special'; name: string; typeId: number } | { kind: 'sequence'; sequence: 'A' | 'B'; typeId: number };

export interface TemplateSpec {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  /** Special token name -> ids and tokens it stands for. */
  specialTokens: Map<string, { ids: number[]; tokens: string[] }>;
}

/** Roles of special tokens, as tokenizer_config.json names them. */
export interface SpecialTokenNames {
  unk: string;
  cls?: string;
  sep?: string;
  pad?: string;
  mask?: string;
}

/** Everything a BertTokenizer is made of. */
export interface TokenizerSpec {
  /** Model vocabulary, token -> id (added tokens not included unless they are in it). */
  vocab: Map<string, number>;
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  /** null: no normalizer at all. */
  normalizer: NormalizerSpec | null;
  /** Added tokens in the order HF adds them; ids are resolved by the tokenizer. */
  addedTokens: Omit<AddedToken, 'id'>[];
  /** null: no post-processor (no special tokens are added). */
  postProcessor: TemplateSpec | null;
  /** null: tokens joined by spaces. */
  decoder: { prefix: string; cleanup: boolean } | null;
  specialTokenNames: SpecialTokenNames;
  modelMaxLength?: number;
  /** tokenizer_config.json `never_split`: kept and saved, but like HF's fast tokenizer it does not change tokenization. */
  neverSplit?: string[];
  /** Every line of the vocab.txt read (duplicates included), so that save() keeps each id on its line. */
  vocabLines?: string[];
  /** A BPE or Unigram model with its normalizer, pre-tokenizer and decoder (absent: WordPiece). */
  pipeline?: PipelineSpec;
  /** Whether a call returns token_type_ids (HF's model_input_names); absent: true, as HF's base tokenizer. */
  returnTokenTypeIds?: boolean;
}

/** tokenizer_class values whose HF model_input_names leave out token_type_ids. */
const CLASSES_WITHOUT_TOKEN_TYPES = /^(DistilBert|Roberta|XLMRoberta|Camembert|MPNet|Longformer|Bart)Tokenizer(Fast)?$/;

/**
 * HF's model_input_names: tokenizer_config.json's own list when it has one, else the tokenizer class's default
 * (BertTokenizer and the base class return token_type_ids; DistilBERT, RoBERTa, XLM-R and kin do not).
 */
function returnsTokenTypeIds(r: Reader, cfg: JsonObject): boolean | undefined {
  const names = cfg['model_input_names'];
  if (Array.isArray(names)) return names.includes('token_type_ids');
  if (names !== undefined && names !== null)
    throw r.error('model_input_names', `expected an array of names, got ${describe(names)}`);
  const cls = cfg['tokenizer_class'];
  return typeof cls === 'string' && CLASSES_WITHOUT_TOKEN_TYPES.test(cls) ? false : undefined;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Reader {
  constructor(readonly file: string) {}

  error(path: string, msg: string): TokenizerError {
    return new TokenizerError(`${this.file}: ${path ? path + ': ' : ''}${msg}`);
  }

  object(v: Json | undefined, path: string): JsonObject {
    if (!isObject(v)) throw this.error(path, `expected an object, got ${describe(v)}`);
    return v;
  }

  string(o: JsonObject, key: string, path: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') throw this.error(join2(path, key), `expected a string, got ${describe(v)}`);
    return v;
  }

  bool(o: JsonObject, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw this.error(join2(path, key), `expected true or false, got ${describe(v)}`);
    return v;
  }

  optionalBool(o: JsonObject, key: string, path: string): boolean | null {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean') throw this.error(join2(path, key), `expected true, false or null, got ${describe(v)}`);
    return v;
  }

  int(o: JsonObject, key: string, path: string, fallback?: number): number {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw this.error(join2(path, key), `expected a non-negative integer, got ${describe(v)}`);
    return v;
  }
}

function join2(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function describe(v: Json | undefined): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? s.slice(0, 40) + '...' : s}`;
}

export function parseJson(text: string, file: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new TokenizerError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** The largest tokenizer file read (bert-base's tokenizer.json is 466 KB; V8 strings end at 512 MiB). */
const MAX_FILE_BYTES = 256n * 2n ** 20n;

/** What changes when a file is replaced, deleted, truncated or written to (ctime moves on every write and rename). */
function sameVersion(a: BigIntStats, b: BigIntStats | undefined): boolean {
  return (
    b !== undefined &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * The files of one folder read, each read whole from one descriptor, with the version read. verify() refuses the
 * read when any of them changed before the end, so that tokenizer.json and tokenizer_config.json come from the
 * same moment (the model loader does the same in src/io FolderSnapshot; the tokenizer imports nothing of ours).
 */
class FolderReads {
  private readonly versions: [string, BigIntStats][] = [];

  text(path: string): string {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new TokenizerError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      const before = fstatSync(fd, { bigint: true });
      if (!before.isFile()) throw new TokenizerError(`cannot read ${path}: not a regular file`);
      if (before.size > MAX_FILE_BYTES)
        throw new TokenizerError(`${path}: ${before.size} bytes; tokenizer files over 256 MiB are refused`);
      const bytes = Buffer.alloc(Number(before.size));
      let done = 0;
      while (done < bytes.length) {
        const n = readSync(fd, bytes, done, bytes.length - done, done);
        if (n === 0) break;
        done += n;
      }
      if (done !== bytes.length || !sameVersion(before, fstatSync(fd, { bigint: true }))) {
        throw new TokenizerError(`${path}: the file changed while being read; read it again`);
      }
      this.versions.push([path, before]);
      return bytes.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  verify(): void {
    for (const [path, version] of this.versions) {
      if (!sameVersion(version, statSync(path, { bigint: true, throwIfNoEntry: false }))) {
        throw new TokenizerError(
          `${path}: replaced, changed or deleted while the tokenizer folder was being read; load it again`,
        );
      }
    }
  }
}

const SUPPORTED = 'bert-ts reads WordPiece, BPE and Unigram tokenizers';

/** A tokenizer.json's model.vocab (token → id) in id order (JavaScript objects list integer-like keys such as "0" first). */
export function readVocabObject(r: Reader, model: JsonObject): Map<string, number> {
  const vocabObj = r.object(model['vocab'], 'model.vocab');
  const entries: [string, number][] = [];
  for (const key of Object.keys(vocabObj)) {
    const id = vocabObj[key];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw r.error(`model.vocab[${JSON.stringify(key)}]`, `expected a non-negative integer id, got ${describe(id)}`);
    entries.push([key, id]);
  }
  return new Map(entries.sort((a, b) => a[1] - b[1]));
}

/** Parses a tokenizer.json document (already read) into a spec. */
export function parseTokenizerJson(doc: Json, file: string): TokenizerSpec {
  const r = new Reader(file);
  const root = r.object(doc, '');

  const model = r.object(root['model'], 'model');
  const modelType = model['type'];
  if (modelType === 'BPE' || modelType === 'Unigram') return parseOtherModel(r, root, model, modelType);
  const looksWordPiece =
    modelType === undefined && isObject(model['vocab']) && 'continuing_subword_prefix' in model && !('merges' in model);
  if (modelType !== 'WordPiece' && !looksWordPiece) {
    const kind = typeof modelType === 'string' ? `"${modelType}"` : describe(modelType);
    throw r.error('model.type', `${kind} is not supported: ${SUPPORTED} (model.type "WordPiece", "BPE" or "Unigram")`);
  }
  const vocab = readVocabObject(r, model);
  const unkToken = r.string(model, 'unk_token', 'model', '[UNK]');
  const continuingSubwordPrefix = r.string(model, 'continuing_subword_prefix', 'model', '##');
  const maxInputCharsPerWord = r.int(model, 'max_input_chars_per_word', 'model', 100);

  let normalizer: NormalizerSpec | null = null;
  const n = root['normalizer'];
  if (n !== undefined && n !== null) {
    const no = r.object(n, 'normalizer');
    if (no['type'] !== 'BertNormalizer') {
      throw r.error(
        'normalizer.type',
        `${describe(no['type'])} is not supported: ${SUPPORTED} (normalizer "BertNormalizer" or null)`,
      );
    }
    normalizer = {
      cleanText: r.bool(no, 'clean_text', 'normalizer', true),
      handleChineseChars: r.bool(no, 'handle_chinese_chars', 'normalizer', true),
      stripAccents: r.optionalBool(no, 'strip_accents', 'normalizer'),
      lowercase: r.bool(no, 'lowercase', 'normalizer', true),
    };
  }

  const pt = root['pre_tokenizer'];
  if (!isObject(pt) || pt['type'] !== 'BertPreTokenizer') {
    const what = isObject(pt) ? describe(pt['type']) : describe(pt);
    throw r.error('pre_tokenizer', `${what} is not supported: ${SUPPORTED} (pre_tokenizer "BertPreTokenizer")`);
  }

  const addedTokens = parseAddedTokens(r, root);

  const postProcessor = parsePostProcessor(r, root['post_processor']);

  let decoder: TokenizerSpec['decoder'] = null;
  const d = root['decoder'];
  if (d !== undefined && d !== null) {
    const dobj = r.object(d, 'decoder');
    if (dobj['type'] !== 'WordPiece')
      throw r.error(
        'decoder.type',
        `${describe(dobj['type'])} is not supported: ${SUPPORTED} (decoder "WordPiece" or null)`,
      );
    decoder = { prefix: r.string(dobj, 'prefix', 'decoder', '##'), cleanup: r.bool(dobj, 'cleanup', 'decoder', true) };
  }

  // Roles: tokenizer_config.json (read by the caller) overrides these guesses from the file itself.
  const names: SpecialTokenNames = { unk: unkToken };
  if (postProcessor) {
    const specials = postProcessor.single.filter(
      (p): p is Extract<TemplatePiece, { kind: 'special' }> => p.kind === 'special',
    );
    const first = specials[0],
      last = specials[specials.length - 1];
    if (first && postProcessor.single[0]?.kind === 'special')
      names.cls = postProcessor.specialTokens.get(first.name)?.tokens[0];
    if (last && postProcessor.single[postProcessor.single.length - 1]?.kind === 'special')
      names.sep = postProcessor.specialTokens.get(last.name)?.tokens[0];
  }
  const known = new Set([...vocab.keys(), ...addedTokens.map((t) => t.content)]);
  if (known.has('[PAD]')) names.pad = '[PAD]';
  if (known.has('[MASK]')) names.mask = '[MASK]';
  const padding = root['padding'];
  if (isObject(padding) && typeof padding['pad_token'] === 'string') names.pad = padding['pad_token'];

  return {
    vocab,
    unkToken,
    continuingSubwordPrefix,
    maxInputCharsPerWord,
    normalizer,
    addedTokens,
    postProcessor,
    decoder,
    specialTokenNames: names,
  };
}

function parseAddedTokens(r: Reader, root: JsonObject): Omit<AddedToken, 'id'>[] {
  const addedTokens: Omit<AddedToken, 'id'>[] = [];
  const at = root['added_tokens'];
  if (at !== undefined && at !== null) {
    if (!Array.isArray(at)) throw r.error('added_tokens', `expected an array, got ${describe(at)}`);
    at.forEach((item, i) => {
      const path = `added_tokens[${i}]`;
      const o = r.object(item, path);
      r.int(o, 'id', path);
      addedTokens.push({
        content: r.string(o, 'content', path),
        singleWord: r.bool(o, 'single_word', path, false),
        lstrip: r.bool(o, 'lstrip', path, false),
        rstrip: r.bool(o, 'rstrip', path, false),
        normalized: r.bool(o, 'normalized', path, true),
        special: r.bool(o, 'special', path, false),
      });
    });
  }
  return addedTokens;
}

/** A BPE or Unigram tokenizer.json: the pipeline, added tokens, the template and the special-token roles. */
function parseOtherModel(r: Reader, root: JsonObject, model: JsonObject, modelType: 'BPE' | 'Unigram'): TokenizerSpec {
  const pipeline = parsePipeline(r, root, model, modelType);
  const addedTokens = parseAddedTokens(r, root);
  const post = parsePipelinePostProcessor(r, root['post_processor'], (v) => parsePostProcessor(r, v));
  pipeline.trimOffsets = post.trimOffsets;
  const known = new Set([...pipeline.vocab.keys(), ...addedTokens.map((t) => t.content)]);
  const pick = (...names: string[]) => names.find((n) => known.has(n));
  const unk = pipeline.unkToken ?? pick('<unk>', '[UNK]') ?? '';
  const names: SpecialTokenNames = { unk };
  const template = post.template;
  if (template) {
    const first = template.single[0],
      last = template.single[template.single.length - 1];
    if (first?.kind === 'special') names.cls = template.specialTokens.get(first.name)?.tokens[0];
    if (last?.kind === 'special') names.sep = template.specialTokens.get(last.name)?.tokens[0];
  }
  const pad = pick('<pad>', '[PAD]');
  if (pad !== undefined) names.pad = pad;
  const mask = pick('<mask>', '[MASK]');
  if (mask !== undefined) names.mask = mask;
  const padding = root['padding'];
  if (isObject(padding) && typeof padding['pad_token'] === 'string') names.pad = padding['pad_token'];
  return {
    vocab: pipeline.vocab,
    unkToken: unk,
    continuingSubwordPrefix: '',
    maxInputCharsPerWord: 0,
    normalizer: null,
    addedTokens,
    postProcessor: template,
    decoder: null,
    specialTokenNames: names,
    pipeline,
  };
}

function parsePostProcessor(r: Reader, pp: Json | undefined): TemplateSpec | null {
  if (pp === undefined || pp === null) return null;
  const o = r.object(pp, 'post_processor');
  if (o['type'] === 'BertProcessing') {
    const pair = (key: string): [string, number] => {
      const v = o[key];
      if (
        !Array.isArray(v) ||
        v.length !== 2 ||
        typeof v[0] !== 'string' ||
        typeof v[1] !== 'number' ||
        !Number.isInteger(v[1]) ||
        v[1] < 0
      ) {
        throw r.error(`post_processor.${key}`, `expected ["token", id], got ${describe(v)}`);
      }
      return [v[0], v[1]];
    };
    const [sep, sepId] = pair('sep');
    const [cls, clsId] = pair('cls');
    return bertTemplate(cls, clsId, sep, sepId);
  }
  if (o['type'] !== 'TemplateProcessing') {
    throw r.error(
      'post_processor.type',
      `${describe(o['type'])} is not supported: ${SUPPORTED} (post_processor "TemplateProcessing", "BertProcessing" or null)`,
    );
  }
  const specialTokens = new Map<string, { ids: number[]; tokens: string[] }>();
  const st = r.object(o['special_tokens'] ?? {}, 'post_processor.special_tokens');
  for (const key of Object.keys(st)) {
    const path = `post_processor.special_tokens[${JSON.stringify(key)}]`;
    const s = r.object(st[key], path);
    const ids = s['ids'],
      tokens = s['tokens'];
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0))
      throw r.error(`${path}.ids`, `expected an array of ids, got ${describe(ids)}`);
    if (!Array.isArray(tokens) || !tokens.every((x) => typeof x === 'string') || tokens.length !== ids.length) {
      throw r.error(`${path}.tokens`, 'expected an array of strings as long as ids');
    }
    specialTokens.set(r.string(s, 'id', path, key), { ids: ids as number[], tokens: tokens as string[] });
  }
  const template = (key: 'single' | 'pair'): TemplatePiece[] => {
    const v = o[key];
    const path = `post_processor.${key}`;
    if (!Array.isArray(v)) throw r.error(path, `expected an array, got ${describe(v)}`);
    return v.map((item, i) => {
      const p = r.object(item, `${path}[${i}]`);
      if (isObject(p['SpecialToken'])) {
        const s = p['SpecialToken'];
        const name = r.string(s, 'id', `${path}[${i}].SpecialToken`);
        if (!specialTokens.has(name))
          throw r.error(`${path}[${i}].SpecialToken.id`, `"${name}" is not in post_processor.special_tokens`);
        return { kind: 'special', name, typeId: r.int(s, 'type_id', `${path}[${i}].SpecialToken`, 0) } as const;
      }
      if (isObject(p['Sequence'])) {
        const s = p['Sequence'];
        const id = s['id'];
        if (id !== 'A' && id !== 'B')
          throw r.error(`${path}[${i}].Sequence.id`, `expected "A" or "B", got ${describe(id)}`);
        return { kind: 'sequence', sequence: id, typeId: r.int(s, 'type_id', `${path}[${i}].Sequence`, 0) } as const;
      }
      throw r.error(`${path}[${i}]`, 'expected {"SpecialToken": ...} or {"Sequence": ...}');
    });
  };
  const single = template('single');
  const pair = template('pair');
  if (
    single
      .filter((p) => p.kind === 'sequence')
      .map((p) => (p as { sequence: string }).sequence)
      .join() !== 'A'
  ) {
    throw r.error('post_processor.single', 'the single template must contain sequence A exactly once');
  }
  if (
    pair
      .filter((p) => p.kind === 'sequence')
      .map((p) => (p as { sequence: string }).sequence)
      .sort()
      .join() !== 'A,B'
  ) {
    throw r.error('post_processor.pair', 'the pair template must contain sequences A and B exactly once');
  }
  return { single, pair, specialTokens };
}

/** The lines of a vocab.txt as transformers reads them: Python's text mode turns \r\n and \r into \n, and
 * readlines() gives no entry after a final newline. */
export function vocabTxtLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** transformers' slow-tokenizer vocabulary: one token per line, id = line number, a later duplicate wins. */
export function parseVocabTxt(text: string): Map<string, number> {
  const vocab = new Map<string, number>();
  vocabTxtLines(text).forEach((token, i) => vocab.set(token, i));
  return vocab;
}

function tokenOf(r: Reader, cfg: JsonObject, key: string): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  throw r.error(key, `expected a token string or {"content": ...}, got ${describe(v)}`);
}

interface ConfigInfo {
  names: Partial<SpecialTokenNames>;
  additional: string[];
  modelMaxLength?: number;
  neverSplit?: string[];
  decoderAdded: Omit<AddedToken, 'id'>[];
}

function readConfig(r: Reader, cfg: JsonObject): ConfigInfo {
  const names: Partial<SpecialTokenNames> = {};
  for (const [role, key] of [
    ['unk', 'unk_token'],
    ['cls', 'cls_token'],
    ['sep', 'sep_token'],
    ['pad', 'pad_token'],
    ['mask', 'mask_token'],
  ] as const) {
    const t = tokenOf(r, cfg, key);
    if (t !== undefined) names[role] = t;
  }
  const additional: string[] = [];
  const ast = cfg['additional_special_tokens'];
  if (Array.isArray(ast)) {
    ast.forEach((v, i) => {
      const t = typeof v === 'string' ? v : isObject(v) && typeof v['content'] === 'string' ? v['content'] : undefined;
      if (t === undefined) throw r.error(`additional_special_tokens[${i}]`, `expected a token, got ${describe(v)}`);
      additional.push(t);
    });
  } else if (ast !== undefined && ast !== null) {
    throw r.error('additional_special_tokens', `expected an array, got ${describe(ast)}`);
  }
  let modelMaxLength: number | undefined;
  const mml = cfg['model_max_length'];
  if (mml !== undefined && mml !== null) {
    if (typeof mml !== 'number' || !(mml > 0))
      throw r.error('model_max_length', `expected a positive number, got ${describe(mml)}`);
    // transformers writes int(1e30) for "no limit".
    if (mml < 1e15) modelMaxLength = Math.floor(mml);
  }
  let neverSplit: string[] | undefined;
  const ns = cfg['never_split'];
  if (Array.isArray(ns)) {
    if (!ns.every((x) => typeof x === 'string')) throw r.error('never_split', 'expected an array of strings');
    neverSplit = ns as string[];
  } else if (ns !== undefined && ns !== null) {
    throw r.error('never_split', `expected an array of strings or null, got ${describe(ns)}`);
  }
  const decoderAdded: Omit<AddedToken, 'id'>[] = [];
  const atd = cfg['added_tokens_decoder'];
  if (isObject(atd)) {
    const entries = Object.keys(atd).map((k) => {
      if (!/^\d+$/.test(k)) throw r.error(`added_tokens_decoder[${JSON.stringify(k)}]`, 'keys must be token ids');
      return [Number(k), r.object(atd[k], `added_tokens_decoder[${k}]`)] as const;
    });
    entries.sort((a, b) => a[0] - b[0]);
    for (const [id, o] of entries) {
      const path = `added_tokens_decoder[${id}]`;
      decoderAdded.push({
        content: r.string(o, 'content', path),
        singleWord: r.bool(o, 'single_word', path, false),
        lstrip: r.bool(o, 'lstrip', path, false),
        rstrip: r.bool(o, 'rstrip', path, false),
        normalized: r.bool(o, 'normalized', path, false),
        special: r.bool(o, 'special', path, true),
      });
    }
  }
  return { names, additional, modelMaxLength, neverSplit, decoderAdded };
}

/** `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`, the template of BertProcessing and BertConverter (id -1:
 * resolved by the tokenizer from its vocabulary and added tokens). */
export function bertTemplate(cls: string, clsId: number, sep: string, sepId: number): TemplateSpec {
  return {
    single: [
      { kind: 'special', name: cls, typeId: 0 },
      { kind: 'sequence', sequence: 'A', typeId: 0 },
      { kind: 'special', name: sep, typeId: 0 },
    ],
    pair: [
      { kind: 'special', name: cls, typeId: 0 },
      { kind: 'sequence', sequence: 'A', typeId: 0 },
      { kind: 'special', name: sep, typeId: 0 },
      { kind: 'sequence', sequence: 'B', typeId: 1 },
      { kind: 'special', name: sep, typeId: 1 },
    ],
    specialTokens: new Map([
      [cls, { ids: [clsId], tokens: [cls] }],
      [sep, { ids: [sepId], tokens: [sep] }],
    ]),
  };
}

/** What transformers' BertConverter takes from a slow BertTokenizer besides its vocabulary. */
export interface VocabConversion {
  lowercase: boolean;
  stripAccents: boolean | null;
  handleChineseChars: boolean;
  cleanText: boolean;
  names: Required<SpecialTokenNames>;
  /** additional_special_tokens. */
  additional: readonly string[];
  /** added_tokens_decoder entries, in id order (they come first). */
  decoderAdded: readonly Omit<AddedToken, 'id'>[];
  /** added_tokens.json entries, in id order (non-special, normalized). */
  plainAdded: readonly string[];
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  modelMaxLength?: number;
  neverSplit?: string[];
}

/** The tokenizer transformers builds from a vocabulary (lines in id order) and a slow tokenizer's settings. */
export function specFromVocab(vocabLines: string[], c: VocabConversion): TokenizerSpec {
  const vocab = new Map<string, number>();
  vocabLines.forEach((token, i) => vocab.set(token, i));
  const added: Omit<AddedToken, 'id'>[] = [...c.decoderAdded];
  const have = new Set(added.map((t) => t.content));
  const add = (t: Omit<AddedToken, 'id'>) => {
    if (!have.has(t.content)) added.push(t);
    have.add(t.content);
  };
  // transformers' order: the SPECIAL_TOKENS_ATTRIBUTES that are set, then additional_special_tokens.
  const { unk, sep, pad, cls, mask } = c.names;
  for (const t of [unk, sep, pad, cls, mask, ...c.additional])
    add({ content: t, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: true });
  for (const t of c.plainAdded)
    add({ content: t, singleWord: false, lstrip: false, rstrip: false, normalized: true, special: false });
  return {
    vocab,
    unkToken: unk,
    continuingSubwordPrefix: c.continuingSubwordPrefix,
    maxInputCharsPerWord: c.maxInputCharsPerWord,
    normalizer: {
      cleanText: c.cleanText,
      handleChineseChars: c.handleChineseChars,
      stripAccents: c.stripAccents,
      lowercase: c.lowercase,
    },
    addedTokens: added,
    postProcessor: bertTemplate(cls, -1, sep, -1),
    decoder: { prefix: c.continuingSubwordPrefix, cleanup: true },
    specialTokenNames: c.names,
    modelMaxLength: c.modelMaxLength,
    neverSplit: c.neverSplit,
    vocabLines,
  };
}

/**
 * Reads a tokenizer folder: tokenizer.json when present (tokenizer_config.json adds roles and
 * model_max_length), else vocab.txt + tokenizer_config.json converted as transformers' BertConverter does.
 */
export function readTokenizerFolder(dir: string): TokenizerSpec {
  const reads = new FolderReads();
  // Resolved once, so a folder symlink swapped while this reads (`current -> v2`) is read from one version.
  let real = dir;
  try {
    real = realpathSync(dir);
  } catch {
    // reported below as a missing folder
  }
  const spec = readFolderSpec(real, reads);
  reads.verify();
  return spec;
}

function readFolderSpec(dir: string, reads: FolderReads): TokenizerSpec {
  const readText = (path: string) => reads.text(path);
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new TokenizerError(`tokenizer folder ${dir} does not exist`);
  if (!stat.isDirectory())
    throw new TokenizerError(`${dir} is a file; give the folder that holds tokenizer.json or vocab.txt`);
  const jsonPath = join(dir, 'tokenizer.json');
  const vocabPath = join(dir, 'vocab.txt');
  const configPath = join(dir, 'tokenizer_config.json');
  let cfg: JsonObject = {};
  const cr = new Reader(configPath);
  if (existsSync(configPath)) cfg = cr.object(parseJson(readText(configPath), configPath), '');
  const info = readConfig(cr, cfg);
  const returnTokenTypeIds = returnsTokenTypeIds(cr, cfg);
  const smPath = join(dir, 'special_tokens_map.json');
  if (existsSync(smPath)) {
    const sr = new Reader(smPath);
    const sm = readConfig(sr, sr.object(parseJson(readText(smPath), smPath), ''));
    info.names = { ...sm.names, ...info.names };
    if (info.additional.length === 0) info.additional = sm.additional;
  }

  if (existsSync(jsonPath)) {
    const spec = parseTokenizerJson(parseJson(readText(jsonPath), jsonPath), jsonPath);
    spec.specialTokenNames = { ...spec.specialTokenNames, ...info.names } as SpecialTokenNames;
    if (info.modelMaxLength !== undefined) spec.modelMaxLength = info.modelMaxLength;
    if (info.neverSplit) spec.neverSplit = info.neverSplit;
    if (returnTokenTypeIds !== undefined) spec.returnTokenTypeIds = returnTokenTypeIds;
    return spec;
  }
  if (!existsSync(vocabPath)) {
    throw new TokenizerError(`${dir} has neither tokenizer.json nor vocab.txt: not a BERT tokenizer folder`);
  }
  const vocabLines = vocabTxtLines(readText(vocabPath));
  if (vocabLines.length === 0) throw new TokenizerError(`${vocabPath}: the vocabulary is empty`);
  const plainAdded: string[] = [];
  const addedJson = join(dir, 'added_tokens.json');
  if (existsSync(addedJson)) {
    const ar = new Reader(addedJson);
    const obj = ar.object(parseJson(readText(addedJson), addedJson), '');
    plainAdded.push(
      ...Object.keys(obj)
        .map((k) => [k, ar.int(obj, k, '')] as const)
        .sort((a, b) => a[1] - b[1])
        .map(([t]) => t),
    );
  }
  const spec = specFromVocab(vocabLines, {
    lowercase: cr.bool(cfg, 'do_lower_case', '', true),
    stripAccents: cr.optionalBool(cfg, 'strip_accents', ''),
    handleChineseChars: cr.bool(cfg, 'tokenize_chinese_chars', '', true),
    cleanText: true,
    names: {
      unk: info.names.unk ?? '[UNK]',
      cls: info.names.cls ?? '[CLS]',
      sep: info.names.sep ?? '[SEP]',
      pad: info.names.pad ?? '[PAD]',
      mask: info.names.mask ?? '[MASK]',
    },
    additional: info.additional,
    decoderAdded: info.decoderAdded,
    plainAdded,
    continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100,
    modelMaxLength: info.modelMaxLength,
    neverSplit: info.neverSplit,
  });
  if (returnTokenTypeIds !== undefined) spec.returnTokenTypeIds = returnTokenTypeIds;
  return spec;
}

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TokenizerError(
      `cannot create folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}
