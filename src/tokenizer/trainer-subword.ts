// Vocabulary training for byte-level BPE (HF BpeTrainer's merge order, via trainWordPiece without a prefix) and
// SentencePiece-style Unigram (seed substrings, EM re-estimation, pruning), each written as a tokenizer.json HF loads.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import { ensureDir, Reader, type JsonObject } from './config.js';
import { CodePoints } from './normalizers.js';
import { parsePipelineNormalizer, parsePipelinePreTokenizer } from './pipeline.js';
import { BYTE_TO_CHAR } from './pre-tokenizers.js';
import { trainWordPiece, WordCounter, type TrainerProgress } from './trainer.js';

export const ROBERTA_SPECIAL_TOKENS: readonly string[] = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];

/** A tokenizer.json document (an object ready for JSON.stringify). */
export type TokenizerJson = Record<string, unknown>;

/** The words a trainer counts for a text: the document's normalizer then its pre-tokenizer. */
export function trainingWordSplitter(doc: {
  normalizer?: unknown;
  pre_tokenizer?: unknown;
}): (text: string) => string[] {
  const r = new Reader('trainer settings');
  const normalizer = parsePipelineNormalizer(r, (doc.normalizer ?? null) as never);
  const pre = parsePipelinePreTokenizer(r, (doc.pre_tokenizer ?? null) as never);
  const buf = new CodePoints(),
    scratch = new CodePoints();
  return (text: string): string[] => {
    const words: string[] = [];
    buf.load(text, 0, text.length);
    normalizer?.run(buf, scratch);
    if (!pre) {
      if (buf.length > 0) words.push(buf.toString());
      return words;
    }
    pre.run(buf, 0, (w, a, z) => {
      if (z > a) words.push(w.toString(a, z));
      return false;
    });
    return words;
  };
}

function addedTokens(specials: readonly string[], ids: ReadonlyMap<string, number>): JsonObject[] {
  return specials.map((t) => ({
    id: ids.get(t)!,
    content: t,
    single_word: false,
    lstrip: t === '<mask>',
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

export interface BpeTrainerOptions {
  /** Target size, special tokens included (default 50265, RoBERTa's). */
  vocabSize?: number;
  /** A merge needs a pair seen at least this often (default 2). */
  minFrequency?: number;
  /** Placed first, in this order (default RoBERTa's <s> <pad> </s> <unk> <mask>). */
  specialTokens?: readonly string[];
  /** ByteLevel add_prefix_space (default false, as RoBERTa). */
  addPrefixSpace?: boolean;
  onProgress?: (p: TrainerProgress) => void;
}

/** The ByteLevel pre-tokenizer (and null normalizer) a byte-level BPE is trained and used with. */
export function byteLevelBpeSettings(addPrefixSpace = false): { normalizer: null; pre_tokenizer: JsonObject } {
  return {
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
  };
}

/**
 * Learns a byte-level BPE from word counts (words already ByteLevel pre-tokenized, see trainingWordSplitter) and
 * returns RoBERTa's kind of tokenizer.json: BPE model, ByteLevel pre-tokenizer and decoder, RobertaProcessing.
 */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, options: BpeTrainerOptions = {}): TokenizerJson {
  const specials = options.specialTokens ?? ROBERTA_SPECIAL_TOKENS;
  const alphabet = Array.from(BYTE_TO_CHAR, (c) => String.fromCharCode(c));
  const trained = trainWordPiece(wordCounts, {
    vocabSize: options.vocabSize ?? 50265,
    minFrequency: options.minFrequency ?? 2,
    specialTokens: specials,
    limitAlphabet: null,
    initialAlphabet: alphabet,
    continuingSubwordPrefix: '',
    onProgress: options.onProgress,
  });
  const ids = new Map<string, number>();
  trained.vocab.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const vocab: Record<string, number> = {};
  for (const [t, i] of ids) vocab[t] = i;
  const settings = byteLevelBpeSettings(options.addPrefixSpace ?? false);
  const cls = specials.includes('<s>') ? '<s>' : specials[0];
  const sep = specials.includes('</s>') ? '</s>' : specials[specials.length > 2 ? 2 : 0];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(specials, ids),
    normalizer: settings.normalizer,
    pre_tokenizer: settings.pre_tokenizer,
    post_processor:
      cls !== undefined && sep !== undefined
        ? {
            type: 'RobertaProcessing',
            sep: [sep, ids.get(sep)!],
            cls: [cls, ids.get(cls)!],
            trim_offsets: true,
            add_prefix_space: options.addPrefixSpace ?? false,
          }
        : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: trained.merges.map(([a, b]) => [a, b]),
    },
  };
}

export interface UnigramTrainerOptions {
  /** Target size, special tokens included (default 8000). */
  vocabSize?: number;
  /** Placed first with score 0 (default XLM-R's <s> <pad> </s> <unk>; <mask> is appended as an added token). */
  specialTokens?: readonly string[];
  unkToken?: string;
  /** Longest piece in characters (default 16, SentencePiece's). */
  maxPieceLength?: number;
  /** Each pruning round keeps this share of the pieces (default 0.75, SentencePiece's shrinking_factor). */
  shrinkingFactor?: number;
  /** EM iterations per round (default 2, SentencePiece's num_sub_iterations). */
  subIterations?: number;
  /** The normalizer written to tokenizer.json and used to count words (default: Nmt, then runs of spaces to one). */
  normalizer?: JsonObject | null;
  onProgress?: (p: TrainerProgress) => void;
}

/** XLM-R's Metaspace pre-tokenizer and a normalizer HF and bert-ts both run (Precompiled needs SentencePiece's map). */
export function unigramSettings(normalizer?: JsonObject | null): {
  normalizer: JsonObject | null;
  pre_tokenizer: JsonObject;
} {
  return {
    normalizer:
      normalizer === undefined
        ? {
            type: 'Sequence',
            normalizers: [{ type: 'Nmt' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
          }
        : normalizer,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  };
}

/** log of the digamma-free EM estimate: counts to log-probabilities. */
function logProbs(counts: Float64Array): Float64Array {
  let total = 0;
  for (const c of counts) total += c;
  const out = new Float64Array(counts.length);
  const logTotal = Math.log(total);
  for (let i = 0; i < counts.length; i++) out[i] = counts[i]! > 0 ? Math.log(counts[i]!) - logTotal : -1e9;
  return out;
}

/**
 * Learns a Unigram vocabulary from word counts (words already normalized and Metaspace pre-tokenized, see
 * trainingWordSplitter) and returns XLM-R's kind of tokenizer.json.
 */
export function trainUnigram(
  wordCounts: ReadonlyMap<string, number>,
  options: UnigramTrainerOptions = {},
): TokenizerJson {
  const vocabSize = options.vocabSize ?? 8000;
  const specials = options.specialTokens ?? ['<s>', '<pad>', '</s>', '<unk>'];
  const unkToken = options.unkToken ?? '<unk>';
  const maxLen = options.maxPieceLength ?? 16;
  const shrink = options.shrinkingFactor ?? 0.75;
  const subIterations = options.subIterations ?? 2;
  const progress = options.onProgress ?? ((): void => {});
  const words = [...wordCounts].filter(([w, c]) => w.length > 0 && c > 0).map(([w, c]) => [[...w], c] as const);

  // 1. Seeds: every character, and substrings up to maxLen seen at least twice, ranked by frequency x length.
  progress({ phase: 'alphabet', done: 0, total: words.length });
  const chars = new Map<string, number>();
  const subs = new Map<string, number>();
  for (const [w, c] of words) {
    for (let i = 0; i < w.length; i++) {
      chars.set(w[i]!, (chars.get(w[i]!) ?? 0) + c);
      let s = w[i]!;
      for (let j = i + 1; j < w.length && j - i < maxLen; j++) {
        s += w[j]!;
        subs.set(s, (subs.get(s) ?? 0) + c);
      }
    }
  }
  const seedLimit = Math.max(vocabSize * 10, 10000);
  const seeds = [...subs]
    .filter(([s, c]) => c >= 2 && [...s].length > 1)
    .sort((a, b) => b[1] * [...b[0]].length - a[1] * [...a[0]].length || (a[0] < b[0] ? -1 : 1))
    .slice(0, seedLimit);
  subs.clear();
  const charList = [...chars].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let pieces: string[] = [...charList.map(([c]) => c), ...seeds.map(([s]) => s)];
  const required = new Set(charList.map(([c]) => c));
  let scores: Float64Array = logProbs(Float64Array.from([...charList.map(([, c]) => c), ...seeds.map(([, c]) => c)]));

  // 2. EM with Viterbi counts, pruning the least used pieces until the target size (characters always kept).
  const target = Math.max(vocabSize - specials.length, required.size);
  for (let round = 0; ; round++) {
    let counts: Float64Array = new Float64Array(pieces.length);
    for (let it = 0; it < subIterations; it++) {
      counts = viterbiCounts(pieces, scores, words, maxLen);
      scores = logProbs(counts);
    }
    progress({ phase: 'merge', done: Math.min(pieces.length, vocabSize), total: vocabSize });
    if (pieces.length <= target) break;
    const keep = Math.max(target, Math.floor(pieces.length * shrink));
    const order = pieces.map((_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b);
    const kept = new Set<number>();
    for (const i of order) if (required.has(pieces[i]!)) kept.add(i);
    for (const i of order) {
      if (kept.size >= keep) break;
      kept.add(i);
    }
    const idx = [...kept].sort((a, b) => a - b);
    pieces = idx.map((i) => pieces[i]!);
    scores = Float64Array.from(idx.map((i) => scores[i]!));
  }
  const order = pieces.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const vocab: [string, number][] = specials.map((t) => [t, 0]);
  const have = new Set(specials);
  for (const i of order) if (!have.has(pieces[i]!)) vocab.push([pieces[i]!, scores[i]!]);
  const ids = new Map<string, number>();
  vocab.forEach(([p], i) => ids.set(p, i));
  const unkId = ids.get(unkToken);
  if (unkId === undefined)
    throw new RangeError(`trainUnigram: the unk token ${JSON.stringify(unkToken)} is not among the special tokens`);
  progress({ phase: 'done', done: vocab.length, total: vocabSize });
  const settings = unigramSettings(options.normalizer);
  const mask = '<mask>';
  const allSpecials = [...specials, mask];
  ids.set(mask, vocab.length);
  const cls = specials.includes('<s>') ? '<s>' : undefined;
  const sep = specials.includes('</s>') ? '</s>' : undefined;
  const special = (t: string, typeId = 0) => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(allSpecials, ids),
    normalizer: settings.normalizer,
    pre_tokenizer: settings.pre_tokenizer,
    post_processor:
      cls && sep
        ? {
            type: 'TemplateProcessing',
            single: [special(cls), seq('A'), special(sep)],
            pair: [special(cls), seq('A'), special(sep), special(sep), seq('B'), special(sep)],
            special_tokens: {
              [cls]: { id: cls, ids: [ids.get(cls)!], tokens: [cls] },
              [sep]: { id: sep, ids: [ids.get(sep)!], tokens: [sep] },
            },
          }
        : null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: unkId, vocab, byte_fallback: false },
  };
}

/** Viterbi segmentation counts of every piece over the words (weighted by word count). */
function viterbiCounts(
  pieces: readonly string[],
  scores: Float64Array,
  words: ReadonlyArray<readonly [readonly string[], number]>,
  maxLen: number,
): Float64Array {
  const index = new Map<string, number>();
  pieces.forEach((p, i) => index.set(p, i));
  const counts = new Float64Array(pieces.length);
  for (const [w, c] of words) {
    const n = w.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const back = new Int32Array(n + 1).fill(-1);
    const backId = new Int32Array(n + 1);
    best[0] = 0;
    for (let s = 0; s < n; s++) {
      if (best[s] === -Infinity) continue;
      let piece = '';
      for (let e = s; e < n && e - s < maxLen; e++) {
        piece += w[e]!;
        const id = index.get(piece);
        if (id === undefined) continue;
        const score = best[s]! + scores[id]!;
        if (score > best[e + 1]!) {
          best[e + 1] = score;
          back[e + 1] = s;
          backId[e + 1] = id;
        }
      }
    }
    for (let e = n; e > 0 && back[e]! >= 0; e = back[e]!) counts[backId[e]!]! += c;
  }
  return counts;
}

/** Counts the words of texts with a splitter (a convenience for callers that hold texts in memory). */
export function countWords(texts: Iterable<string>, split: (text: string) => string[]): WordCounter {
  const counter = new WordCounter();
  for (const t of texts) counter.add(split(t));
  return counter;
}

export type SubwordModel = 'bpe' | 'unigram';

/** The words trainSubwordTokenizer counts for `model`: ByteLevel words for BPE, normalized Metaspace words for Unigram. */
export function subwordWordSplitter(model: SubwordModel): (text: string) => string[] {
  return trainingWordSplitter(model === 'bpe' ? byteLevelBpeSettings() : unigramSettings());
}

/** Trains `model` on word counts from subwordWordSplitter; the tokenizer.json document. */
export function trainSubwordTokenizer(
  model: SubwordModel,
  wordCounts: ReadonlyMap<string, number>,
  options: {
    vocabSize?: number;
    minFrequency?: number;
    specialTokens?: readonly string[];
    onProgress?: (p: TrainerProgress) => void;
  } = {},
): TokenizerJson {
  if (model === 'bpe') return trainBpe(wordCounts, options);
  const { minFrequency: _unused, ...rest } = options;
  void _unused;
  return trainUnigram(wordCounts, rest);
}

/** Writes tokenizer.json and tokenizer_config.json (PreTrainedTokenizerFast) into `dir`; returns their paths. */
export function saveSubwordTokenizerFiles(dir: string, doc: TokenizerJson, modelMaxLength = 512): string[] {
  ensureDir(dir);
  const added = (doc['added_tokens'] as { content: string }[]).map((t) => t.content);
  const role = (...names: string[]) => names.find((n) => added.includes(n));
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: modelMaxLength,
  };
  for (const [key, names] of [
    ['bos_token', ['<s>']],
    ['eos_token', ['</s>']],
    ['cls_token', ['<s>', '[CLS]']],
    ['sep_token', ['</s>', '[SEP]']],
    ['unk_token', ['<unk>', '[UNK]']],
    ['pad_token', ['<pad>', '[PAD]']],
    ['mask_token', ['<mask>', '[MASK]']],
  ] as const) {
    const t = role(...names);
    if (t !== undefined) config[key] = t;
  }
  const files = [join(dir, 'tokenizer.json'), join(dir, 'tokenizer_config.json')];
  writeFileAtomic(files[0]!, JSON.stringify(doc) + '\n');
  writeFileAtomic(files[1]!, JSON.stringify(config, null, 2) + '\n');
  return files;
}
