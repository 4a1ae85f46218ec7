// Mutation fuzzing of model and tokenizer folders: tokenizer.json, tokenizer_config.json, vocab.txt, config.json and
// model.safetensors mutated (structure-aware and byte-level) and loaded through the public fromPretrained entry points.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CheckpointFormatError } from '../../../src/io/index.js';
import { BertTokenizer, TokenizerError } from '../../../src/tokenizer/index.js';
import { ConfigError } from '../../../src/model/config.js';
import { BertForSequenceClassification } from '../../../src/model/bert.js';
import { readConfig } from '../../../src/model/checkpoint.js';
import { jsKernels } from '../../../src/tensor/js-kernels.js';
import { mutateBytes, mutateSafetensorsHeader, type FuzzTarget } from './fuzz-io.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Stands for a number JSON.stringify cannot write (1e999 parses as Infinity); replaced in the text. */
const HUGE = '\u0000huge\u0000';

const STRINGS = [
  '',
  'x',
  '[UNK]',
  '[CLS]',
  '##',
  'WordPiece',
  'BPE',
  'BertNormalizer',
  'gelu',
  '\ud800',
  '\u0000',
  'a'.repeat(5000),
  '-1',
  '4',
];
const NUMBERS = [
  0,
  1,
  -1,
  2,
  0.5,
  -0.0,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 63,
  1e9,
  1e12,
  1e300,
  -1e300,
  1e-300,
];

/** Every value's location in a document: [parent, key], up to `limit` of them (documents can be large). */
function locations(doc: Json, limit = 20_000): Array<[Json[] | { [key: string]: Json }, string | number]> {
  const out: Array<[Json[] | { [key: string]: Json }, string | number]> = [];
  const stack: Json[] = [doc];
  while (stack.length > 0 && out.length < limit) {
    const v = stack.pop()!;
    if (Array.isArray(v)) v.forEach((c, i) => (out.push([v, i]), stack.push(c)));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v, k]), stack.push(v[k]!));
  }
  return out;
}

/** A replacement for `old`: a nearby number, another type, an extreme, or a copy of another part of the document. */
function replacement(old: Json, doc: Json, rand: () => number): Json {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 8)) {
    case 0:
      return typeof old === 'number'
        ? pick([old + 1, old - 1, -old, old * 2, old * 1000, old / 2, old + 0.5])
        : pick(NUMBERS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick(STRINGS);
    case 3:
      return pick([null, true, false, [], {}, HUGE]);
    case 4:
      return typeof old === 'number'
        ? String(old)
        : typeof old === 'string' && /^\d+$/.test(old)
          ? Number(old)
          : pick([[old], { a: old }]);
    case 5: {
      const all = locations(doc, 2000);
      if (all.length === 0) return null;
      const [p, k] = pick(all);
      return structuredClone((p as Record<string, Json>)[k as string] ?? null);
    }
    case 6:
      return Array.isArray(old) ? [] : old !== null && typeof old === 'object' ? {} : pick(NUMBERS);
    default:
      return Array.isArray(old) && old.length > 0
        ? Array.from({ length: 1 + Math.floor(rand() * 50) }, () => structuredClone(pick(old)))
        : pick(STRINGS);
  }
}

/** Structure-aware mutation of a JSON document: 1-3 values replaced, keys deleted or renamed, array items dropped. */
export function mutateJson(input: Uint8Array, rand: () => number): Uint8Array {
  const doc = JSON.parse(Buffer.from(input).toString('utf8')) as Json;
  const n = 1 + Math.floor(rand() * 3);
  for (let m = 0; m < n; m++) {
    const all = locations(doc);
    if (all.length === 0) break;
    const [parent, key] = all[Math.floor(rand() * all.length)]!;
    const r = rand();
    if (Array.isArray(parent)) {
      const i = key as number;
      if (r < 0.2) parent.splice(i, 1);
      else parent[i] = replacement(parent[i]!, doc, rand);
    } else {
      const k = key as string;
      if (r < 0.15) delete parent[k];
      else if (r < 0.2) {
        parent[`${k}_`] = parent[k]!;
        delete parent[k];
      } else parent[k] = replacement(parent[k]!, doc, rand);
    }
  }
  const text = JSON.stringify(doc)
    .split(JSON.stringify(HUGE))
    .join(rand() < 0.5 ? '1e999' : '-1e999');
  return Buffer.from(text, 'utf8');
}

/** Mutates JSON either by structure or (one time in four) by bytes. */
function mutateJsonOrBytes(input: Uint8Array, rand: () => number): Uint8Array {
  return rand() < 0.75 ? mutateJson(input, rand) : mutateBytes(input, rand);
}

const TOKENIZER_ERRORS = (err: unknown) => err instanceof TokenizerError;
const MODEL_ERRORS = (err: unknown) => err instanceof CheckpointFormatError || err instanceof ConfigError;

/** A loaded tokenizer must work: encode a pair with offsets and truncation, decode, all without a foreign error. */
function exercise(tokenizer: BertTokenizer): void {
  const e = tokenizer.encode('Hello, WORLD! naïve café 中文 [MASK] ok', 'a second text', {
    maxLength: 16,
    truncation: true,
    returnOffsets: true,
  });
  tokenizer.decode(e.inputIds, { skipSpecialTokens: true });
  tokenizer.decode(e.inputIds);
}

/** A folder with the given files copied from `from` (small) or linked (the weights), and one mutable file. */
function scratchFolder(files: Record<string, string>, links: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-fuzz-'));
  for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), readFileSync(source));
  for (const [name, source] of Object.entries(links)) symlinkSync(resolve(source), join(dir, name));
  return dir;
}

export interface FolderFuzz {
  targets: FuzzTarget[];
  /** Removes the scratch folders. */
  cleanup(): void;
}

/** The folder-level fuzz targets, seeded from the hf-tiny fixtures and the bert-mini-imdb model. */
export function folderFuzzTargets(shared = '../shared'): FolderFuzz {
  const tiny = join(shared, 'fixtures/hf-tiny');
  const mini = join(shared, 'models/bert-mini-imdb-hf');
  const dirs: string[] = [];
  const folder = (files: Record<string, string>, links?: Record<string, string>) => {
    const d = scratchFolder(files, links);
    dirs.push(d);
    return d;
  };
  const bytes = (path: string) => new Uint8Array(readFileSync(path));

  const tokJsonDir = folder({ 'tokenizer_config.json': join(tiny, 'tokenizer/tokenizer_config.json') });
  const tokCfgDir = folder({ 'tokenizer.json': join(tiny, 'tokenizer/tokenizer.json') });
  const vocabCfgDir = folder({ 'vocab.txt': join(tiny, 'vocab.txt') });
  const vocabDir = folder({ 'tokenizer_config.json': join(mini, 'tokenizer_config.json') });
  const configDir = folder({});
  const modelDir = folder({}, { 'model.safetensors': join(tiny, 'seq_cls3/model.safetensors') });
  const weightsDir = folder({ 'config.json': join(tiny, 'seq_cls3/config.json') });

  const loadTokenizer = (dir: string, name: string) => (b: Uint8Array) => {
    writeFileSync(join(dir, name), b);
    exercise(BertTokenizer.fromPretrained(dir));
  };
  const loadModel = (dir: string, name: string) => async (b: Uint8Array) => {
    writeFileSync(join(dir, name), b);
    const model = await BertForSequenceClassification.fromPretrained(dir, { kernels: jsKernels, warn: () => {} });
    // A model that loaded must run: four valid ids.
    model.forward({ inputIds: [[2, 5, 7, 3]], attentionMask: [[1, 1, 1, 0]] });
  };

  /** A target that writes the mutated file into a tokenizer folder and loads it: only tokenizer errors may come out. */
  const tokenizerTarget = (
    name: string,
    seedPath: string,
    mutate: FuzzTarget['mutate'],
    dir: string,
    file: string,
  ): FuzzTarget => ({
    name,
    seedInput: bytes(seedPath),
    mutate,
    read: loadTokenizer(dir, file),
    isTyped: TOKENIZER_ERRORS,
  });

  const targets: FuzzTarget[] = [
    tokenizerTarget(
      'tokenizer.json fields (hf-tiny)',
      join(tiny, 'tokenizer/tokenizer.json'),
      mutateJson,
      tokJsonDir,
      'tokenizer.json',
    ),
    tokenizerTarget(
      'tokenizer.json bytes (hf-tiny)',
      join(tiny, 'tokenizer/tokenizer.json'),
      (b, r) => mutateBytes(b, r),
      tokJsonDir,
      'tokenizer.json',
    ),
    tokenizerTarget(
      'tokenizer_config.json beside tokenizer.json (bert-mini)',
      join(mini, 'tokenizer_config.json'),
      mutateJsonOrBytes,
      tokCfgDir,
      'tokenizer_config.json',
    ),
    tokenizerTarget(
      'tokenizer_config.json beside vocab.txt (bert-mini)',
      join(mini, 'tokenizer_config.json'),
      mutateJsonOrBytes,
      vocabCfgDir,
      'tokenizer_config.json',
    ),
    tokenizerTarget(
      'vocab.txt bytes (hf-tiny)',
      join(tiny, 'vocab.txt'),
      (b, r) => mutateBytes(b, r),
      vocabDir,
      'vocab.txt',
    ),
    {
      name: 'config.json fields → BertConfig (bert-mini)',
      seedInput: bytes(join(mini, 'config.json')),
      mutate: mutateJsonOrBytes,
      read: (b) => {
        writeFileSync(join(configDir, 'config.json'), b);
        readConfig(configDir);
      },
      isTyped: MODEL_ERRORS,
    },
    {
      name: 'config.json → fromPretrained + forward (hf-tiny seq_cls3)',
      seedInput: bytes(join(tiny, 'seq_cls3/config.json')),
      mutate: mutateJsonOrBytes,
      read: loadModel(modelDir, 'config.json'),
      isTyped: MODEL_ERRORS,
    },
    {
      name: 'model.safetensors header → fromPretrained (hf-tiny seq_cls3)',
      seedInput: bytes(join(tiny, 'seq_cls3/model.safetensors')),
      mutate: mutateSafetensorsHeader,
      read: loadModel(weightsDir, 'model.safetensors'),
      isTyped: MODEL_ERRORS,
    },
  ];
  return { targets, cleanup: () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })) };
}
