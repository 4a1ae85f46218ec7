// The reference: HuggingFace's Rust tokenizers (npm `tokenizers`), its folders, and encoding comparison.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  Tokenizer,
  WordPiece,
  bertNormalizer,
  bertPreTokenizer,
  bertProcessing,
  wordPieceDecoder,
  type Encoding as HfEncoding,
} from 'tokenizers';
import type { Encoding } from '../../../src/tokenizer/index.js';

export const SHARED = new URL('../../../../shared/', import.meta.url).pathname;
export const MINI_DIR = join(SHARED, 'models/bert-mini-imdb-hf');
export const TINY_DIR = join(SHARED, 'fixtures/hf-tiny/tokenizer');

/** tokenizer.json files trained by HF tokenizers on IMDb (scripts/make-tokenizer-fixtures.py). */
export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const PIPELINE_FIXTURES = [
  'bpe-roberta',
  'bpe-template',
  'bpe-noregex',
  'unigram-xlmr',
  'unigram-bytefallback',
] as const;

let cachedFolders: { uncased: string; chinese: string } | null = null;
let cachedPipelineFolders: Record<string, string> | null = null;

/** A temp folder per BPE / Unigram fixture, holding it as tokenizer.json. */
export function pipelineFolders(): Record<string, string> {
  if (cachedPipelineFolders) return cachedPipelineFolders;
  const root = mkdtempSync(join(tmpdir(), 'bert-ts-tok-pipe-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  const out: Record<string, string> = {};
  for (const name of PIPELINE_FIXTURES) {
    const dir = join(root, name);
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, `${name}.json`), join(dir, 'tokenizer.json'));
    out[name] = dir;
  }
  cachedPipelineFolders = out;
  return out;
}

/**
 * Temp folders: vocab.txt alone (bert-base-uncased, defaults apply), and bert-base-chinese's vocab.txt
 * with tokenizer_config.json do_lower_case false (cased: no lowercasing, no accent stripping).
 */
export function vocabFolders(): { uncased: string; chinese: string } {
  if (cachedFolders) return cachedFolders;
  const root = mkdtempSync(join(tmpdir(), 'bert-ts-tok-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  const uncased = join(root, 'uncased');
  const chinese = join(root, 'chinese');
  mkdirSync(uncased);
  mkdirSync(chinese);
  copyFileSync(join(SHARED, 'vocab/bert-base-uncased/vocab.txt'), join(uncased, 'vocab.txt'));
  copyFileSync(join(SHARED, 'vocab/bert-base-chinese/vocab.txt'), join(chinese, 'vocab.txt'));
  writeFileSync(
    join(chinese, 'tokenizer_config.json'),
    JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: false, model_max_length: 512 }),
  );
  cachedFolders = { uncased, chinese };
  return cachedFolders;
}

/** The folders every differential test runs on, by name. */
export function allFolders(): Record<string, string> {
  const v = vocabFolders();
  return {
    'bert-mini-imdb-hf': MINI_DIR,
    'uncased vocab.txt': v.uncased,
    'chinese cased vocab.txt': v.chinese,
    'hf-tiny': TINY_DIR,
    ...pipelineFolders(),
  };
}

/**
 * HF's tokenizer for a folder: tokenizer.json through Tokenizer.fromFile; a vocab.txt folder assembled from
 * the binding's parts the way transformers' BertConverter does (HF's own WordPiece file reader included).
 */
export async function hfTokenizer(dir: string): Promise<Tokenizer> {
  if (existsSync(join(dir, 'tokenizer.json'))) return Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  const cfgPath = join(dir, 'tokenizer_config.json');
  const cfg = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>) : {};
  const lowercase = (cfg['do_lower_case'] as boolean | undefined) ?? true;
  const strip = (cfg['strip_accents'] as boolean | null | undefined) ?? null;
  const model = await WordPiece.fromFile(join(dir, 'vocab.txt'), {
    unkToken: '[UNK]',
    continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100,
  });
  const t = new Tokenizer(model);
  t.setNormalizer(
    bertNormalizer({
      cleanText: true,
      handleChineseChars: (cfg['tokenize_chinese_chars'] as boolean | undefined) ?? true,
      stripAccents: strip ?? lowercase,
      lowercase,
    }),
  );
  t.setPreTokenizer(bertPreTokenizer());
  const id = (tok: string) => {
    const i = t.tokenToId(tok);
    if (i === null || i === undefined) throw new Error(`${dir}: no ${tok}`);
    return i;
  };
  t.setPostProcessor(bertProcessing(['[SEP]', id('[SEP]')], ['[CLS]', id('[CLS]')]));
  t.setDecoder(wordPieceDecoder('##', true));
  t.addSpecialTokens(['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]']);
  return t;
}

/** A fresh HF tokenizer with truncation/padding set (they are stateful on the HF object). */
export function configured(
  base: Tokenizer,
  o: { maxLength?: number; strategy?: 'LongestFirst' | 'OnlyFirst' | 'OnlySecond'; padTo?: number; padId?: number },
): Tokenizer {
  const t = base;
  if (o.strategy) t.setTruncation(o.maxLength!, { strategy: o.strategy as never });
  else t.disableTruncation();
  if (o.padTo !== undefined) t.setPadding({ maxLength: o.padTo, padId: o.padId ?? 0, padToken: '[PAD]' });
  else t.disablePadding();
  return t;
}

export function readImdb(split: 'train' | 'test' = 'train'): string[] {
  const text = gunzipSync(readFileSync(join(SHARED, `data/imdb/${split}.jsonl.gz`))).toString('utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) if (line) out.push((JSON.parse(line) as { text: string }).text);
  return out;
}

/** UTF-16 index of each code point index of s (and of its end). HF's Node binding reports code point offsets. */
export function codePointToUtf16(s: string): Int32Array {
  const map = new Int32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++) {
    map[cp++] = i;
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  map[cp] = s.length;
  return map;
}

/**
 * Encodes a pair with HF's tokenizer and with ours (`encodeOurs`): the first difference, or which one alone failed;
 * null when both agree or both refuse. `ours` is our encoding when there was one.
 */
export async function diffPair(
  hf: Tokenizer,
  encodeOurs: () => Encoding,
  a: string,
  b: string,
): Promise<{ diff: string | null; ours: Encoding | null }> {
  let want: HfEncoding | null = null;
  let got: Encoding | null = null;
  try {
    want = await hf.encode(a, b);
  } catch {
    // compared below: both must fail
  }
  try {
    got = encodeOurs();
  } catch {
    // idem
  }
  if (!want !== !got) return { diff: `HF ${want ? 'ok' : 'error'}, ours ${got ? 'ok' : 'error'}`, ours: got };
  return { diff: want && got ? diffEncoding(want, got, a, b) : null, ours: got };
}

/** First difference between HF's encoding and ours (null when identical), offsets converted to UTF-16. */
export function diffEncoding(hf: HfEncoding, ours: Encoding, text: string, pair?: string | null): string | null {
  const ids = hf.getIds();
  const show = (k: number) => `token ${k}: HF ${JSON.stringify(hf.getTokens()[k])} id ${ids[k]}`;
  if (ids.length !== ours.inputIds.length) {
    const k = ids.findIndex((x, i) => x !== ours.inputIds[i]);
    return `length HF ${ids.length} vs ${ours.inputIds.length}; first id difference at ${k >= 0 ? show(k) + ` ours ${ours.inputIds[k]}` : 'end'}`;
  }
  const types = hf.getTypeIds(),
    attention = hf.getAttentionMask(),
    special = hf.getSpecialTokensMask();
  const offsets = hf.getOffsets(),
    seq = hf.getSequenceIds();
  const mapA = codePointToUtf16(text),
    mapB = pair ? codePointToUtf16(pair) : mapA;
  for (let k = 0; k < ids.length; k++) {
    if (ids[k] !== ours.inputIds[k]) return `${show(k)} vs ours ${ours.inputIds[k]}`;
    if (types[k] !== ours.tokenTypeIds[k]) return `${show(k)}: type id HF ${types[k]} vs ${ours.tokenTypeIds[k]}`;
    if (attention[k] !== ours.attentionMask[k])
      return `${show(k)}: attention HF ${attention[k]} vs ${ours.attentionMask[k]}`;
    if (special[k] !== ours.specialTokensMask[k])
      return `${show(k)}: special mask HF ${special[k]} vs ${ours.specialTokensMask[k]}`;
    if (ours.offsets) {
      const map = seq[k] === 1 ? mapB : mapA;
      const [s, e] = offsets[k]!;
      const want = special[k] ? [0, 0] : [map[s!]!, map[e!]!];
      const got = ours.offsets[k]!;
      if (want[0] !== got[0] || want[1] !== got[1])
        return `${show(k)}: offsets HF [${want}] (code points [${s},${e}]) vs ours [${got}]`;
    }
  }
  return null;
}

/** How many special tokens the pair template adds (RoBERTa's and XLM-R's add 4, BERT's 3). */
export function pairSpecials(t: { encode(a: string, b: string): { inputIds: number[] } }): number {
  return t.encode('', '').inputIds.length;
}

export function shortText(s: string, n = 120): string {
  return JSON.stringify(s.length > n ? s.slice(0, n) + '…' : s);
}
