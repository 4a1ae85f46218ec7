// BertTokenizer: HF-identical BERT tokenization (ids, type ids, offsets), pairs, truncation, padding, decode, save.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import { AddedTokenMatcher, type AddedToken } from './added-tokens.js';
import { tokenizerCall, type AnyTokenizerCallOptions, type BatchEncoding } from './call.js';
import { Callable } from './callable.js';
import type { ResultTensor } from '../tensor/result.js';
import {
  ensureDir,
  parseJson,
  parseTokenizerJson,
  readTokenizerFolder,
  specFromVocab,
  type NormalizerSpec,
  type SpecialTokenNames,
  type TemplatePiece,
  type TemplateSpec,
  type TokenizerSpec,
} from './config.js';
import { TokenizerError } from './errors.js';
import { BertNormalizer, NormalizedBuffer } from './normalizer.js';
import { decodeTokens, Pipeline } from './pipeline.js';
import { TokenBuffer, WordPiece } from './wordpiece.js';

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

export interface EncodeOptions {
  /** Add the template's special tokens ([CLS] ... [SEP]). Default true. */
  addSpecialTokens?: boolean;
  /** Length limit for truncation and for padding 'max_length' (default: the folder's model_max_length). */
  maxLength?: number;
  /** true means 'longest_first'. Default: 'longest_first' when maxLength is given without padding, else false. */
  truncation?: TruncationStrategy | boolean;
  /** 'longest' pads a batch to its longest encoding; true means 'longest'. Default false. */
  padding?: 'max_length' | 'longest' | boolean;
  /** Include `offsets`. Default false. */
  returnOffsets?: boolean;
}

export interface Encoding {
  inputIds: number[];
  /**
   * The type ids the model gets: the template's (HF tokenizers' type_ids), or 0 everywhere when the tokenizer's
   * model_input_names leave token_type_ids out (RoBERTa's kind of tokenizer; see returnsTokenTypeIds).
   */
  tokenTypeIds: number[];
  attentionMask: number[];
  /** 1 for tokens the template added (and padding), 0 for tokens of the text. */
  specialTokensMask: number[];
  /** [start, end) in UTF-16 code units of the original text (of the pair text for its tokens); [0, 0] for special tokens. */
  offsets?: Array<[number, number]>;
}

/** A padded batch as flat row-major typed arrays of shape [batch, seqLen], ready for the model. */
export interface FlatBatchEncoding {
  batch: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  specialTokensMask: Int32Array;
  /** [batch, seqLen, 2]: start and end of each token (returnOffsets only). */
  offsets?: Int32Array;
}

export interface DecodeOptions {
  /** Leave out special added tokens ([CLS], [SEP], [PAD], ...). Default false. */
  skipSpecialTokens?: boolean;
}

/** Options of BertTokenizer.fromVocab (the defaults are bert-base-uncased's). */
export interface VocabOptions {
  lowercase?: boolean;
  stripAccents?: boolean | null;
  handleChineseChars?: boolean;
  cleanText?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  continuingSubwordPrefix?: string;
  maxInputCharsPerWord?: number;
  modelMaxLength?: number;
}

/** Tokens of one sequence: ids with their original offsets. */
interface Sequence {
  ids: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
  length: number;
}

/** Result of truncation + template, before padding. */
interface Assembled {
  ids: Int32Array;
  typeIds: Int32Array;
  special: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  length: number;
}

interface ResolvedOptions {
  addSpecialTokens: boolean;
  truncation: TruncationStrategy | null;
  maxLength: number | undefined;
  padding: 'max_length' | 'longest' | null;
  returnOffsets: boolean;
}

/** Special tokens, no truncation, no padding: the template alone (withSpecialTokens). */
const TEMPLATE_ONLY: ResolvedOptions = {
  addSpecialTokens: true,
  truncation: null,
  maxLength: undefined,
  padding: null,
  returnOffsets: false,
};

/** The longest model_max_length that padding 'max_length' uses without an explicit maxLength. */
const MAX_IMPLICIT_PAD_LENGTH = 1 << 20;

/** Capacity (code units or tokens) above which scratch buffers are dropped after use. */
const SCRATCH_KEEP = 1 << 20;

function fail(msg: string): never {
  throw new TokenizerError(msg);
}

function checkText(text: unknown, what: string): string {
  if (typeof text !== 'string')
    fail(`${what} must be a string, got ${text === null ? 'null' : Array.isArray(text) ? 'an array' : typeof text}`);
  return text;
}

/**
 * A tokenizer is also a function, as in transformers.js and HF: `tokenizer(text | texts, { text_pair, padding,
 * truncation, max_length, return_tensor })` gives `{ input_ids, attention_mask, token_type_ids }` as [batch, length]
 * int64 tensors (transformers.js's default), or as plain arrays with `return_tensor: false` (HF's lists: one row for
 * one text, a list of rows for a list).
 */
export interface BertTokenizer {
  (
    text: string | string[],
    options?: AnyTokenizerCallOptions & { return_tensor?: true; returnTensor?: true },
  ): BatchEncoding<ResultTensor<'int64'>>;
  (
    text: string,
    options: AnyTokenizerCallOptions & ({ return_tensor: false } | { returnTensor: false }),
  ): BatchEncoding<number[]>;
  (
    text: string[],
    options: AnyTokenizerCallOptions & ({ return_tensor: false } | { returnTensor: false }),
  ): BatchEncoding<number[][]>;
  (
    text: string | string[],
    options?: AnyTokenizerCallOptions,
  ): BatchEncoding<ResultTensor<'int64'> | number[] | number[][]>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the call signatures above
export class BertTokenizer extends Callable<
  [string | string[], AnyTokenizerCallOptions?],
  BatchEncoding<ResultTensor<'int64'> | number[] | number[][]>
> {
  /** The model vocabulary, token -> id (without added tokens that are not in it). */
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkToken: string;
  readonly continuingSubwordPrefix: string;
  readonly maxInputCharsPerWord: number;
  /** model_max_length of the folder, if any: the default maxLength. */
  readonly modelMaxLength: number | undefined;
  readonly specialTokenNames: Readonly<SpecialTokenNames>;
  /** Added tokens with their resolved ids, in id order. */
  readonly addedTokens: readonly AddedToken[];

  private readonly spec: TokenizerSpec;
  private readonly normalizer: BertNormalizer;
  /** The WordPiece model, or null for BPE / Unigram (then `pipeline`). */
  private readonly wordpiece: WordPiece | null;
  private readonly pipeline: Pipeline | null;
  /** Per id: leading and trailing spaces of its token string, for ByteLevel offset trimming (built lazily). */
  private spaceCounts: Uint8Array | null = null;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, number>();
  /** What an added token id decodes to: its content, normalized when the token is `normalized` (as HF 0.23). */
  private readonly addedStrings = new Map<number, string>();
  private readonly specialContents = new Set<string>();
  private readonly idToToken: (string | undefined)[] = [];
  private readonly template: TemplateSpec | null;
  private readonly singleAdded: number;
  private readonly pairAdded: number;

  // Scratch buffers reused across calls (encoding is synchronous).
  private norm = new NormalizedBuffer();
  private bufA = new TokenBuffer();
  private bufB = new TokenBuffer();

  constructor(spec: TokenizerSpec) {
    super();
    this.spec = spec;
    this.vocab = spec.vocab;
    this.unkToken = spec.unkToken;
    this.continuingSubwordPrefix = spec.continuingSubwordPrefix;
    this.maxInputCharsPerWord = spec.maxInputCharsPerWord;
    this.modelMaxLength = spec.modelMaxLength;
    const unkId = spec.vocab.get(spec.unkToken);
    if (unkId === undefined && !spec.pipeline) {
      fail(
        `the vocabulary (${spec.vocab.size} tokens) has no entry for the unk token ${JSON.stringify(spec.unkToken)}; add it to the vocabulary or name the right unk_token`,
      );
    }
    const n = spec.normalizer;
    this.normalizer = new BertNormalizer(
      n
        ? {
            cleanText: n.cleanText,
            handleChineseChars: n.handleChineseChars,
            stripAccents: n.stripAccents ?? n.lowercase,
            lowercase: n.lowercase,
          }
        : { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false },
    );
    this.pipeline = spec.pipeline ? new Pipeline(spec.pipeline) : null;
    this.wordpiece = spec.pipeline
      ? null
      : new WordPiece({
          vocab: spec.vocab,
          unkId: unkId!,
          continuingSubwordPrefix: spec.continuingSubwordPrefix,
          maxInputCharsPerWord: spec.maxInputCharsPerWord,
        });
    for (const [token, id] of spec.vocab) this.idToToken[id] = token;

    // HF AddedVocabulary::add_tokens: ids come from the vocabulary, or are appended after it.
    const specialOrder: Omit<AddedToken, 'id'>[] = [];
    const plainOrder: Omit<AddedToken, 'id'>[] = [];
    for (const t of spec.addedTokens) {
      if (t.special && t.content !== '' && !this.specialContents.has(t.content)) {
        specialOrder.push(t);
        this.specialContents.add(t.content);
      }
    }
    // A file can list thousands of added tokens, so this stays linear: `seen` holds the signatures (content and
    // flags) of the tokens now in addedById, one per id, and the largest id so far is kept as it grows.
    const seen = new Set<string>();
    const signatureById = new Map<number, string>();
    const signature = (t: Omit<AddedToken, 'id'>) =>
      JSON.stringify([t.content, t.singleWord, t.lstrip, t.rstrip, t.normalized, t.special]);
    const vocabSize = spec.vocab.size;
    let maxAddedId = -1;
    for (const t of spec.addedTokens) {
      if (t.content === '') continue;
      const sig = signature(t);
      if (seen.has(sig)) continue;
      let id = this.addedByContent.get(t.content) ?? spec.vocab.get(t.content);
      if (id === undefined) {
        const max = maxAddedId;
        id = max < 0 ? vocabSize : max >= vocabSize || vocabSize === 0 ? max + 1 : vocabSize;
      }
      const replaced = signatureById.get(id);
      if (replaced !== undefined) seen.delete(replaced);
      seen.add(sig);
      signatureById.set(id, sig);
      this.addedByContent.set(t.content, id);
      maxAddedId = Math.max(maxAddedId, id);
      this.addedById.set(id, { ...t, id });
      if (!this.specialContents.has(t.content)) plainOrder.push(t);
    }
    this.addedTokens = [...this.addedById.values()].sort((a, b) => a.id - b.id);
    for (const t of this.addedTokens)
      this.addedStrings.set(t.id, t.normalized ? this.normalizeString(t.content) : t.content);
    const raw: [string, AddedToken][] = [];
    const normalized: [string, AddedToken][] = [];
    for (const t of [...specialOrder, ...plainOrder]) {
      const id = this.addedByContent.get(t.content)!;
      const token = this.addedById.get(id) ?? { ...t, id };
      if (t.normalized) normalized.push([this.normalizeString(t.content), token]);
      else raw.push([t.content, token]);
    }
    this.rawMatcher = new AddedTokenMatcher(raw);
    this.normalizedMatcher = new AddedTokenMatcher(normalized);

    // Template ids left open (-1) by the vocab.txt reader resolve like HF's token_to_id.
    if (spec.postProcessor) {
      const specialTokens = new Map<string, { ids: number[]; tokens: string[] }>();
      for (const [name, s] of spec.postProcessor.specialTokens) {
        const ids = s.ids.map((id, i) => {
          if (id >= 0) return id;
          const r = this.tokenToId(s.tokens[i]!);
          if (r === undefined)
            fail(
              `special token ${JSON.stringify(s.tokens[i])} of the template is neither in the vocabulary nor an added token`,
            );
          return r;
        });
        specialTokens.set(name, { ids, tokens: s.tokens });
      }
      this.template = { single: spec.postProcessor.single, pair: spec.postProcessor.pair, specialTokens };
    } else {
      this.template = null;
    }
    this.singleAdded = this.countAdded(this.template?.single);
    this.pairAdded = this.countAdded(this.template?.pair);
    this.specialTokenNames = Object.freeze({ ...spec.specialTokenNames });
  }

  /** A string through this tokenizer's normalizer (added tokens with `normalized: true` are matched so). */
  private normalizeString(s: string): string {
    return this.pipeline ? this.pipeline.normalizeString(s) : this.normalizer.normalize(s);
  }

  private countAdded(pieces: TemplatePiece[] | undefined): number {
    let n = 0;
    for (const p of pieces ?? []) if (p.kind === 'special') n += this.template!.specialTokens.get(p.name)!.ids.length;
    return n;
  }

  /**
   * Whether the model gets token_type_ids from this tokenizer (HF: "token_type_ids" in model_input_names, from
   * tokenizer_config.json or the tokenizer class). When false, a model's inputs carry type 0 everywhere, whatever
   * types the template gives `encode()`'s pairs: HF's pipelines and Trainer pass no token_type_ids then.
   */
  get returnsTokenTypeIds(): boolean {
    return this.spec.returnTokenTypeIds ?? true;
  }

  /**
   * The same tokenizer with token_type_ids left out of model inputs (model_input_names without them, saved so):
   * for a model with one token type (RoBERTa's type_vocab_size 1) trained with a tokenizer whose pairs have two.
   */
  withoutTokenTypeIds(): BertTokenizer {
    return new BertTokenizer({ ...this.spec, returnTokenTypeIds: false });
  }

  /** The body of `tokenizer(text, options)` (see the call signatures). */
  _call(
    text: string | string[],
    options?: AnyTokenizerCallOptions,
  ): BatchEncoding<ResultTensor<'int64'> | number[] | number[][]> {
    return tokenizerCall(this, text, options, this.returnsTokenTypeIds);
  }

  /** Loads a HF tokenizer folder (tokenizer.json, or vocab.txt + tokenizer_config.json). */
  static fromPretrained(dir: string): BertTokenizer {
    if (typeof dir !== 'string' || dir === '') fail('fromPretrained: the folder must be a non-empty string');
    return new BertTokenizer(readTokenizerFolder(dir));
  }

  /** The same as fromPretrained, in HF's and transformers.js's spelling. */
  static from_pretrained(dir: string): BertTokenizer {
    return BertTokenizer.fromPretrained(dir);
  }

  /** Builds a tokenizer from the text of a tokenizer.json (`source` names it in errors). */
  static fromTokenizerJson(json: string, source = 'tokenizer.json'): BertTokenizer {
    if (typeof json !== 'string') fail('fromTokenizerJson: expected the JSON text of a tokenizer.json');
    return new BertTokenizer(parseTokenizerJson(parseJson(json, source), source));
  }

  /** A tokenizer over a vocabulary given as tokens in id order, built as transformers builds BertTokenizerFast from a vocab.txt. */
  static fromVocab(tokens: readonly string[], options: VocabOptions = {}): BertTokenizer {
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string'))
      fail('fromVocab: tokens must be an array of strings');
    if (tokens.length === 0) fail('fromVocab: the vocabulary is empty');
    return new BertTokenizer(
      specFromVocab([...tokens], {
        lowercase: options.lowercase ?? true,
        stripAccents: options.stripAccents ?? null,
        handleChineseChars: options.handleChineseChars ?? true,
        cleanText: options.cleanText ?? true,
        names: {
          unk: options.unkToken ?? '[UNK]',
          cls: options.clsToken ?? '[CLS]',
          sep: options.sepToken ?? '[SEP]',
          pad: options.padToken ?? '[PAD]',
          mask: options.maskToken ?? '[MASK]',
        },
        additional: [],
        decoderAdded: [],
        plainAdded: [],
        continuingSubwordPrefix: options.continuingSubwordPrefix ?? '##',
        maxInputCharsPerWord: options.maxInputCharsPerWord ?? 100,
        modelMaxLength: options.modelMaxLength,
      }),
    );
  }

  /** Number of ids: model vocabulary plus added tokens outside it (HF get_vocab_size(with_added_tokens=true)). */
  get vocabSize(): number {
    let n = this.vocab.size;
    for (const t of this.addedById.values()) if (!this.vocab.has(t.content)) n++;
    return n;
  }

  get normalizerOptions(): Readonly<NormalizerSpec> | null {
    return this.spec.normalizer;
  }

  get unkTokenId(): number {
    return this.vocab.get(this.unkToken)!;
  }
  get clsTokenId(): number | undefined {
    return this.roleId(this.specialTokenNames.cls);
  }
  get sepTokenId(): number | undefined {
    return this.roleId(this.specialTokenNames.sep);
  }
  get padTokenId(): number | undefined {
    return this.roleId(this.specialTokenNames.pad);
  }
  get maskTokenId(): number | undefined {
    return this.roleId(this.specialTokenNames.mask);
  }

  private roleId(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokenToId(token);
  }

  /** Id of a token (added tokens first, as HF), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.vocab.get(token);
  }

  /** Token of an id (added tokens first, as HF), or undefined. */
  idToTokenString(id: number): string | undefined {
    const added = this.addedById.get(id);
    if (added) return this.addedStrings.get(id)!;
    return this.idToToken[id];
  }

  /** Ids of tokens; unknown tokens map to the unk id (as transformers' convert_tokens_to_ids). */
  convertTokensToIds(tokens: string): number;
  convertTokensToIds(tokens: readonly string[]): number[];
  convertTokensToIds(tokens: string | readonly string[]): number | number[] {
    const one = (t: unknown): number => this.tokenToId(checkText(t, 'convertTokensToIds: a token')) ?? this.unkTokenId;
    if (typeof tokens === 'string') return one(tokens);
    if (!Array.isArray(tokens)) fail('convertTokensToIds: expected a token or an array of tokens');
    return tokens.map(one);
  }

  /** Tokens of ids; ids outside the vocabulary throw. */
  convertIdsToTokens(ids: readonly number[]): string[] {
    if (!Array.isArray(ids)) fail('convertIdsToTokens: expected an array of ids');
    return ids.map((id) => {
      const t = typeof id === 'number' ? this.idToTokenString(id) : undefined;
      if (t === undefined)
        fail(`convertIdsToTokens: ${String(id)} is not a token id of this vocabulary (size ${this.vocabSize})`);
      return t;
    });
  }

  /** The normalized text, as HF's normalizer.normalize_str gives it. */
  normalize(text: string): string {
    return this.normalizer.normalize(checkText(text, 'normalize: text'));
  }

  /**
   * The word of each token of a text without special tokens (HF's `tokenizer(text, add_special_tokens=False)
   * .word_ids()`): the pre-tokenizer's split it comes from, an added token being a word of its own. Word numbers
   * only group tokens (they may skip values where a split gives no token).
   */
  wordIds(text: string): number[] {
    const buf = this.bufA;
    const starts: number[] = [];
    buf.words = starts;
    try {
      this.encodeInto(checkText(text, 'wordIds: text'), buf);
    } finally {
      buf.words = null;
    }
    const out: number[] = new Array(buf.length);
    for (let w = 0; w < starts.length; w++) out.fill(w, starts[w], w + 1 < starts.length ? starts[w + 1] : buf.length);
    return out;
  }

  /** WordPiece tokens of a text, without special tokens (HF tokenizer.tokenize). */
  tokenize(text: string): string[] {
    const buf = this.bufA;
    this.encodeInto(checkText(text, 'tokenize: text'), buf);
    const out: string[] = new Array(buf.length);
    for (let i = 0; i < buf.length; i++) out[i] = this.idToTokenString(buf.ids[i]!)!;
    return out;
  }

  /**
   * Tokens of one text: added tokens kept whole, the rest normalized, pre-tokenized and WordPiece'd. With
   * truncation, HF (0.23) stops after the WordPiece'd pre-token that brings the count, added tokens included,
   * to `limit` (max_length), dropping everything after it; the lengths it then truncates from follow from that.
   */
  private encodeInto(text: string, out: TokenBuffer, limit = Infinity): void {
    out.length = 0;
    const matches = this.rawMatcher.findInString(text);
    let pos = 0;
    let stopped = false;
    for (const m of matches) {
      if (m.start > pos && this.segment(text, pos, m.start, out, limit)) {
        stopped = true;
        break;
      }
      out.words?.push(out.length);
      out.push(m.id, m.start, m.end);
      pos = m.end;
    }
    if (!stopped && pos < text.length) this.segment(text, pos, text.length, out, limit);
    if (this.pipeline?.spec.trimOffsets) this.trimOffsets(text, out, this.pipeline.spec.trimOffsets.addPrefixSpace);
  }

  /**
   * HF's ByteLevel process_offsets (RobertaProcessing, ByteLevel post-processor): a token's leading and trailing
   * spaces ("Ġ" or whitespace) leave its offsets, counted in code points, except the prefix space HF added itself.
   */
  private trimOffsets(text: string, out: TokenBuffer, addPrefixSpace: boolean): void {
    const counts = this.spaceCounts ?? this.buildSpaceCounts();
    for (let i = 0; i < out.length; i++) {
      const id = out.ids[i]!;
      let lead = id < counts.length / 2 ? counts[2 * id]! : 0;
      const trail = id < counts.length / 2 ? counts[2 * id + 1]! : 0;
      if (lead === 0 && trail === 0) continue;
      let start = out.starts[i]!,
        end = out.ends[i]!;
      if (lead > 0) {
        if ((i === 0 || start === 0) && addPrefixSpace && lead === 1) lead = 0;
        for (let k = 0; k < lead && start < end; k++) start += codePointWidth(text, start);
        if (start > end) start = end;
      }
      if (trail > 0) {
        // HF subtracts from the code point offset only when it is at least the count.
        let cpEnd = 0;
        for (let p = 0; p < end && cpEnd < trail; p += codePointWidth(text, p)) cpEnd++;
        if (cpEnd >= trail) {
          for (let k = 0; k < trail && end > start; k++) end -= codePointWidthBefore(text, end);
          if (end < start) end = start;
        }
      }
      out.starts[i] = start;
      out.ends[i] = end;
    }
  }

  private buildSpaceCounts(): Uint8Array {
    const n = Math.max(this.idToToken.length, ...[...this.addedById.keys()].map((k) => k + 1));
    const counts = new Uint8Array(2 * n);
    const isSpace = (ch: string) =>
      ch === '\u0120' || /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
    for (let id = 0; id < n; id++) {
      const t = this.idToTokenString(id);
      if (t === undefined) continue;
      const chars = [...t];
      let a = 0;
      while (a < chars.length && isSpace(chars[a]!)) a++;
      let z = 0;
      while (z < chars.length && isSpace(chars[chars.length - 1 - z]!)) z++;
      counts[2 * id] = Math.min(a, 255);
      counts[2 * id + 1] = Math.min(z, 255);
    }
    this.spaceCounts = counts;
    return counts;
  }

  /** Returns true when the limit was reached. */
  private segment(text: string, from: number, to: number, out: TokenBuffer, limit: number): boolean {
    if (this.pipeline) return this.pipelineSegment(this.pipeline, text, from, to, out, limit);
    const wordpiece = this.wordpiece!;
    const buf = this.norm;
    buf.length = 0;
    this.normalizer.normalizeInto(text, from, to, buf);
    if (this.normalizedMatcher.isEmpty) return wordpiece.tokenize(buf, 0, buf.length, out, limit);
    let p = 0;
    for (const m of this.normalizedMatcher.findInUnits(buf.units, 0, buf.length)) {
      if (m.start > p && wordpiece.tokenize(buf, p, m.start, out, limit)) return true;
      out.words?.push(out.length);
      out.push(m.id, buf.starts[m.start]!, buf.ends[m.end - 1]!);
      p = m.end;
    }
    return p < buf.length ? wordpiece.tokenize(buf, p, buf.length, out, limit) : false;
  }

  private pipelineSegment(
    pipeline: Pipeline,
    text: string,
    from: number,
    to: number,
    out: TokenBuffer,
    limit: number,
  ): boolean {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdfff) {
        const pairOk =
          c <= 0xdbff && i + 1 < to && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
        if (!pairOk) fail(`the text has a lone surrogate at index ${i}; use text.toWellFormed() to replace it`);
        i++;
      }
    }
    const buf = pipeline.normalize(text, from, to);
    if (this.normalizedMatcher.isEmpty) return pipeline.tokenize(buf, 0, buf.length, from, out, limit);
    // Added tokens with `normalized: true` are found in the normalized text (as UTF-16 units, mapped back).
    const units: number[] = [];
    const unitToCp: number[] = [];
    for (let k = 0; k < buf.length; k++) {
      const c = buf.cps[k]!;
      if (c > 0xffff) {
        units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
        unitToCp.push(k, k);
      } else {
        units.push(c);
        unitToCp.push(k);
      }
    }
    unitToCp.push(buf.length);
    const u16 = Uint16Array.from(units);
    let p = 0;
    for (const m of this.normalizedMatcher.findInUnits(u16, 0, u16.length)) {
      const a = unitToCp[m.start]!,
        z = unitToCp[m.end]!;
      if (a > p && pipeline.tokenize(buf, p, a, buf.starts[p]!, out, limit)) return true;
      out.words?.push(out.length);
      out.push(m.id, buf.starts[a]!, buf.ends[z - 1]!);
      p = z;
    }
    return p < buf.length ? pipeline.tokenize(buf, p, buf.length, buf.starts[p]!, out, limit) : false;
  }

  private resolve(options: EncodeOptions | undefined, batch: boolean): ResolvedOptions {
    if (options === undefined || options === null) options = {};
    if (typeof options !== 'object') fail(`encode options must be an object, got ${typeof options}`);
    const { addSpecialTokens = true, maxLength, truncation, padding = false, returnOffsets = false } = options;
    if (typeof addSpecialTokens !== 'boolean') fail('addSpecialTokens must be true or false');
    if (typeof returnOffsets !== 'boolean') fail('returnOffsets must be true or false');
    if (maxLength !== undefined && (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 0)) {
      fail(`maxLength must be a non-negative integer, got ${String(maxLength)}`);
    }
    let pad: ResolvedOptions['padding'];
    if (padding === false) pad = null;
    else if (padding === true || padding === 'longest') pad = 'longest';
    else if (padding === 'max_length') pad = 'max_length';
    else fail(`padding must be 'longest', 'max_length' or false, got ${JSON.stringify(padding)}`);
    let trunc: TruncationStrategy | null;
    if (truncation === undefined) trunc = maxLength !== undefined && pad === null ? 'longest_first' : null;
    else if (truncation === false) trunc = null;
    else if (truncation === true) trunc = 'longest_first';
    else if (truncation === 'longest_first' || truncation === 'only_first' || truncation === 'only_second')
      trunc = truncation;
    else
      fail(
        `truncation must be 'longest_first', 'only_first', 'only_second', true or false, got ${JSON.stringify(truncation)}`,
      );
    const len = maxLength ?? this.modelMaxLength;
    if ((trunc !== null || pad === 'max_length') && len === undefined) {
      fail(
        `${trunc !== null ? 'truncation' : "padding 'max_length'"} needs maxLength (this tokenizer has no model_max_length)`,
      );
    }
    // model_max_length comes from a file; padding to it allocates that many ids per text, so a huge one (a hand-written
    // "no limit") is never padded to unless asked for with maxLength.
    if (pad === 'max_length' && maxLength === undefined && len! > MAX_IMPLICIT_PAD_LENGTH) {
      fail(
        `padding 'max_length' to model_max_length ${len} (from the tokenizer folder) would make ${len} ids per text; give maxLength`,
      );
    }
    if (pad !== null && (batch || pad === 'max_length') && this.padTokenId === undefined) {
      fail('padding needs a pad token, and this tokenizer has none (pad_token)');
    }
    return { addSpecialTokens, truncation: trunc, maxLength: len, padding: pad, returnOffsets };
  }

  /** Truncates like HF's truncate_encodings, then applies the template. */
  private assemble(a: Sequence, b: Sequence | null, o: ResolvedOptions): Assembled {
    let nA = a.length,
      nB = b ? b.length : 0;
    const added = o.addSpecialTokens ? (b ? this.pairAdded : this.singleAdded) : 0;
    if (o.truncation !== null) {
      if (o.maxLength! < added) {
        fail(`maxLength ${o.maxLength} is smaller than the ${added} special tokens the template adds`);
      }
      const max = o.maxLength! - added;
      const total = nA + nB;
      if (max === 0) {
        nA = 0;
        nB = 0;
      } else if (total > max) {
        const toRemove = total - max;
        if (o.truncation === 'longest_first') {
          if (b) {
            let n1 = nA,
              n2 = nB,
              swap = false;
            if (n1 > n2) {
              swap = true;
              [n1, n2] = [n2, n1];
            }
            n2 = n1 > max ? n1 : Math.max(n1, max - n1);
            if (n1 + n2 > max) {
              n1 = Math.floor(max / 2);
              n2 = n1 + (max % 2);
            }
            if (swap) [n1, n2] = [n2, n1];
            nA = Math.min(nA, n1);
            nB = Math.min(nB, n2);
          } else {
            nA = total - toRemove;
          }
        } else if (o.truncation === 'only_first' || b) {
          const first = o.truncation === 'only_first';
          const len = first ? nA : nB;
          if (len <= toRemove) {
            fail(
              `cannot truncate ${first ? 'the first' : 'the second'} sequence (${len} tokens) enough to fit maxLength ${o.maxLength}: ` +
                `${toRemove} tokens must go; use truncation 'longest_first' or a larger maxLength`,
            );
          }
          if (first) nA = len - toRemove;
          else nB = len - toRemove;
        } else {
          fail("truncation 'only_second' needs a second sequence (pair)");
        }
      }
    }
    const length = nA + nB + added;
    const ids = new Int32Array(length),
      typeIds = new Int32Array(length),
      special = new Uint8Array(length);
    const starts = new Int32Array(length),
      ends = new Int32Array(length);
    let k = 0;
    // Without token_type_ids among the model's inputs, the model gets type 0 everywhere (HF passes none).
    const typed = this.returnsTokenTypeIds;
    const copy = (s: Sequence, n: number, typeId: number) => {
      ids.set(s.ids.subarray(0, n), k);
      starts.set(s.starts.subarray(0, n), k);
      ends.set(s.ends.subarray(0, n), k);
      if (typed) typeIds.fill(typeId, k, k + n);
      k += n;
    };
    if (!this.template) {
      copy(a, nA, 0);
      if (b) copy(b, nB, 1);
    } else {
      for (const p of b ? this.template.pair : this.template.single) {
        if (p.kind === 'sequence') {
          if (p.sequence === 'A') copy(a, nA, p.typeId);
          else copy(b!, nB, p.typeId);
        } else if (o.addSpecialTokens) {
          for (const id of this.template.specialTokens.get(p.name)!.ids) {
            ids[k] = id;
            if (typed) typeIds[k] = p.typeId;
            special[k] = 1;
            k++;
          }
        }
      }
    }
    return { ids, typeIds, special, starts, ends, length };
  }

  private encodeOne(text: unknown, pair: unknown, o: ResolvedOptions): Assembled {
    // HF's early stop applies to the sequences the strategy may truncate (it shows with only_second on one text).
    const t = o.truncation;
    this.encodeInto(
      checkText(text, 'encode: text'),
      this.bufA,
      t !== null && t !== 'only_second' ? o.maxLength! : Infinity,
    );
    let b: Sequence | null = null;
    if (pair !== undefined && pair !== null) {
      this.encodeInto(
        checkText(pair, 'encode: pair'),
        this.bufB,
        t !== null && t !== 'only_first' ? o.maxLength! : Infinity,
      );
      b = this.bufB;
    }
    const x = this.assemble(this.bufA, b, o);
    // Scratch buffers grown by a huge text (10 MB: ~100 MB) are not kept alive afterwards.
    if (this.norm.units.length > SCRATCH_KEEP) this.norm = new NormalizedBuffer();
    if (this.bufA.ids.length > SCRATCH_KEEP) this.bufA = new TokenBuffer();
    if (this.bufB.ids.length > SCRATCH_KEEP) this.bufB = new TokenBuffer();
    return x;
  }

  private toEncoding(x: Assembled, padTo: number, o: ResolvedOptions): Encoding {
    const len = Math.max(x.length, padTo);
    const inputIds: number[] = new Array(len);
    const tokenTypeIds: number[] = new Array(len);
    const attentionMask: number[] = new Array(len);
    const specialTokensMask: number[] = new Array(len);
    for (let i = 0; i < x.length; i++) {
      inputIds[i] = x.ids[i]!;
      tokenTypeIds[i] = x.typeIds[i]!;
      attentionMask[i] = 1;
      specialTokensMask[i] = x.special[i]!;
    }
    if (len > x.length) {
      const padId = this.padTokenId!;
      for (let i = x.length; i < len; i++) {
        inputIds[i] = padId;
        tokenTypeIds[i] = 0;
        attentionMask[i] = 0;
        specialTokensMask[i] = 1;
      }
    }
    const enc: Encoding = { inputIds, tokenTypeIds, attentionMask, specialTokensMask };
    if (o.returnOffsets) {
      const offsets: Array<[number, number]> = new Array(len);
      for (let i = 0; i < x.length; i++) offsets[i] = x.special[i] ? [0, 0] : [x.starts[i]!, x.ends[i]!];
      for (let i = x.length; i < len; i++) offsets[i] = [0, 0];
      enc.offsets = offsets;
    }
    return enc;
  }

  /**
   * The template around ids already tokenized (HF's build_inputs_with_special_tokens with the type ids and
   * sequence_ids of the same encoding): `[CLS] a [SEP] b [SEP]` for BERT, `<s> a </s></s> b </s>` for RoBERTa.
   * sequenceIds: 0 or 1 for a token of `a` or `b`, null for a special token.
   */
  withSpecialTokens(
    a: readonly number[],
    b?: readonly number[] | null,
  ): { inputIds: number[]; tokenTypeIds: number[]; sequenceIds: (0 | 1 | null)[] } {
    // The template as encode() applies it; each sequence's `starts` carry its number (0 or 1) through it.
    const sequence = (ids: readonly number[], n: number): Sequence => ({
      ids: Int32Array.from(ids),
      starts: new Int32Array(ids.length).fill(n),
      ends: new Int32Array(ids.length),
      length: ids.length,
    });
    const x = this.assemble(sequence(a, 0), b ? sequence(b, 1) : null, TEMPLATE_ONLY);
    const sequenceIds: (0 | 1 | null)[] = new Array(x.length);
    for (let i = 0; i < x.length; i++) sequenceIds[i] = x.special[i] ? null : (x.starts[i] as 0 | 1);
    return { inputIds: Array.from(x.ids), tokenTypeIds: Array.from(x.typeIds), sequenceIds };
  }

  /** Encodes a text, or a pair of texts, as HF's tokenizer(text, pair, ...) does. */
  encode(text: string, pair?: string | null, options?: EncodeOptions): Encoding {
    const o = this.resolve(options, false);
    const x = this.encodeOne(text, pair, o);
    return this.toEncoding(x, o.padding === 'max_length' ? o.maxLength! : 0, o);
  }

  private encodeAll(
    texts: readonly string[],
    pairs: readonly string[] | null | undefined,
    o: ResolvedOptions,
  ): { all: Assembled[]; padTo: number } {
    if (!Array.isArray(texts)) fail('encodeBatch: texts must be an array of strings');
    if (pairs !== undefined && pairs !== null) {
      if (!Array.isArray(pairs)) fail('encodeBatch: pairs must be an array of strings');
      if (pairs.length !== texts.length) fail(`encodeBatch: ${texts.length} texts but ${pairs.length} pairs`);
    }
    const all: Assembled[] = new Array(texts.length);
    let longest = 0;
    for (let i = 0; i < texts.length; i++) {
      try {
        all[i] = this.encodeOne(texts[i], pairs ? pairs[i] : null, o);
      } catch (e) {
        if (e instanceof TokenizerError) throw new TokenizerError(`batch item ${i}: ${e.message}`);
        throw e;
      }
      if (all[i]!.length > longest) longest = all[i]!.length;
    }
    const padTo = o.padding === 'max_length' ? o.maxLength! : o.padding === 'longest' ? longest : 0;
    return { all, padTo };
  }

  /** Encodes many texts (or pairs); padding 'longest' pads to the longest of the batch. */
  encodeBatch(texts: readonly string[], pairs?: readonly string[] | null, options?: EncodeOptions): Encoding[] {
    const o = this.resolve(options, true);
    const { all, padTo } = this.encodeAll(texts, pairs, o);
    return all.map((x) => this.toEncoding(x, padTo, o));
  }

  /**
   * Encodes a batch into flat [batch, seqLen] Int32Arrays (padding defaults to 'longest'; a longer row than
   * seqLen is an error, so set truncation when padding to 'max_length').
   */
  encodeBatchFlat(
    texts: readonly string[],
    pairs?: readonly string[] | null,
    options?: EncodeOptions,
  ): FlatBatchEncoding {
    const o = this.resolve({ padding: 'longest', ...options }, true);
    if (o.padding === null) fail('encodeBatchFlat needs padding (longest or max_length)');
    const { all, padTo } = this.encodeAll(texts, pairs, o);
    const batch = all.length,
      seqLen = padTo;
    const inputIds = new Int32Array(batch * seqLen),
      tokenTypeIds = new Int32Array(batch * seqLen);
    const attentionMask = new Int32Array(batch * seqLen),
      specialTokensMask = new Int32Array(batch * seqLen);
    const offsets = o.returnOffsets ? new Int32Array(batch * seqLen * 2) : undefined;
    const padId = batch > 0 ? this.padTokenId! : 0;
    for (let r = 0; r < batch; r++) {
      const x = all[r]!;
      if (x.length > seqLen)
        fail(`batch item ${r} has ${x.length} tokens, more than maxLength ${seqLen}: enable truncation`);
      const base = r * seqLen;
      inputIds.set(x.ids.subarray(0, x.length), base);
      tokenTypeIds.set(x.typeIds.subarray(0, x.length), base);
      attentionMask.fill(1, base, base + x.length);
      for (let i = 0; i < x.length; i++) specialTokensMask[base + i] = x.special[i]!;
      inputIds.fill(padId, base + x.length, base + seqLen);
      specialTokensMask.fill(1, base + x.length, base + seqLen);
      if (offsets) {
        for (let i = 0; i < x.length; i++) {
          if (!x.special[i]) {
            offsets[2 * (base + i)] = x.starts[i]!;
            offsets[2 * (base + i) + 1] = x.ends[i]!;
          }
        }
      }
    }
    const out: FlatBatchEncoding = { batch, seqLen, inputIds, tokenTypeIds, attentionMask, specialTokensMask };
    if (offsets) out.offsets = offsets;
    return out;
  }

  /** Text of ids, as HF decodes: unknown ids skipped, WordPiece decoder joins `##` pieces and cleans up spaces. */
  decode(ids: readonly number[] | Int32Array, options: DecodeOptions = {}): string {
    if (!Array.isArray(ids) && !(ids instanceof Int32Array)) fail('decode: ids must be an array of numbers');
    const skip = options.skipSpecialTokens ?? false;
    const tokens: string[] = [];
    for (const id of ids) {
      if (typeof id !== 'number') fail(`decode: ids must be numbers, got ${typeof id}`);
      const t = this.idToTokenString(id);
      if (t === undefined) continue;
      if (skip && this.specialContents.has(t)) continue;
      tokens.push(t);
    }
    if (this.pipeline) return decodeTokens(tokens, this.pipeline.spec.decoder);
    const d = this.spec.decoder;
    if (!d) return tokens.join(' ');
    let s = '';
    for (let i = 0; i < tokens.length; i++) {
      let t = tokens[i]!;
      if (i !== 0) t = t.startsWith(d.prefix) ? t.replace(d.prefix, '') : ' ' + t;
      if (d.cleanup) t = cleanUpTokenization(t);
      s += t;
    }
    return s;
  }

  /** Writes vocab.txt, tokenizer.json and tokenizer_config.json that HF (and fromPretrained) load back identically. */
  save(dir: string): void {
    if (typeof dir !== 'string' || dir === '') fail('save: the folder must be a non-empty string');
    ensureDir(dir);
    if (this.pipeline) {
      writeFileAtomic(join(dir, 'tokenizer.json'), this.toTokenizerJson());
      writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizerConfig(), null, 2) + '\n');
      return;
    }
    // A vocab.txt read with duplicate lines (bert-base-chinese has 53) is written back line for line.
    const lines = this.spec.vocabLines ?? [...this.vocab].sort((a, b) => a[1] - b[1]).map(([t]) => t);
    writeFileAtomic(join(dir, 'vocab.txt'), lines.join('\n') + '\n');
    writeFileAtomic(join(dir, 'tokenizer.json'), this.toTokenizerJson());
    writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizerConfig(), null, 2) + '\n');
  }

  /** The tokenizer.json document (HF tokenizers format). */
  toTokenizerJson(): string {
    // BPE / Unigram files are written back as read (their components are not edited here).
    if (this.pipeline) return JSON.stringify(this.pipeline.spec.document);
    const q = JSON.stringify;
    const added = this.addedTokens.map(
      (t) =>
        `{"id":${t.id},"content":${q(t.content)},"single_word":${t.singleWord},"lstrip":${t.lstrip},"rstrip":${t.rstrip},"normalized":${t.normalized},"special":${t.special}}`,
    );
    const n = this.spec.normalizer;
    const normalizer = n
      ? `{"type":"BertNormalizer","clean_text":${n.cleanText},"handle_chinese_chars":${n.handleChineseChars},"strip_accents":${q(n.stripAccents)},"lowercase":${n.lowercase}}`
      : 'null';
    let post = 'null';
    if (this.template) {
      const piece = (p: TemplatePiece) =>
        p.kind === 'special'
          ? `{"SpecialToken":{"id":${q(p.name)},"type_id":${p.typeId}}}`
          : `{"Sequence":{"id":"${p.sequence}","type_id":${p.typeId}}}`;
      const specials = [...this.template.specialTokens].map(
        ([name, s]) => `${q(name)}:{"id":${q(name)},"ids":${q(s.ids)},"tokens":${q(s.tokens)}}`,
      );
      post = `{"type":"TemplateProcessing","single":[${this.template.single.map(piece).join(',')}],"pair":[${this.template.pair.map(piece).join(',')}],"special_tokens":{${specials.join(',')}}}`;
    }
    const d = this.spec.decoder;
    const decoder = d ? `{"type":"WordPiece","prefix":${q(d.prefix)},"cleanup":${d.cleanup}}` : 'null';
    // Built by hand: a token such as "__proto__" must stay an ordinary key, and ids keep their order.
    const vocab = [...this.vocab].sort((a, b) => a[1] - b[1]).map(([t, id]) => `${q(t)}:${id}`);
    return (
      `{"version":"1.0","truncation":null,"padding":null,"added_tokens":[${added.join(',')}],` +
      `"normalizer":${normalizer},"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":${post},"decoder":${decoder},` +
      `"model":{"type":"WordPiece","unk_token":${q(this.unkToken)},"continuing_subword_prefix":${q(this.continuingSubwordPrefix)},` +
      `"max_input_chars_per_word":${this.maxInputCharsPerWord},"vocab":{${vocab.join(',')}}}}`
    );
  }

  private tokenizerConfig(): Record<string, unknown> {
    const n = this.spec.normalizer;
    const names = this.specialTokenNames;
    const cfg: Record<string, unknown> = {
      tokenizer_class: this.pipeline ? 'PreTrainedTokenizerFast' : 'BertTokenizer',
      do_lower_case: n ? n.lowercase : false,
      strip_accents: n ? n.stripAccents : null,
      tokenize_chinese_chars: n ? n.handleChineseChars : false,
    };
    if (this.modelMaxLength !== undefined) cfg['model_max_length'] = this.modelMaxLength;
    cfg['unk_token'] = names.unk;
    for (const role of ['sep', 'pad', 'cls', 'mask'] as const)
      if (names[role] !== undefined) cfg[`${role}_token`] = names[role];
    if (this.spec.neverSplit) cfg['never_split'] = this.spec.neverSplit;
    if (!this.returnsTokenTypeIds) cfg['model_input_names'] = ['input_ids', 'attention_mask'];
    cfg['clean_up_tokenization_spaces'] = true;
    const decoder: Record<string, unknown> = {};
    for (const t of this.addedTokens) {
      decoder[String(t.id)] = {
        content: t.content,
        lstrip: t.lstrip,
        normalized: t.normalized,
        rstrip: t.rstrip,
        single_word: t.singleWord,
        special: t.special,
      };
    }
    cfg['added_tokens_decoder'] = decoder;
    return cfg;
  }
}

/** The WordPiece decoder's clean-up (HF's clean_up_tokenization: no space before punctuation and contractions). */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** UTF-16 width of the code point at i. */
function codePointWidth(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
}

/** UTF-16 width of the code point that ends at i. */
function codePointWidthBefore(s: string, i: number): number {
  const c = s.charCodeAt(i - 1);
  return (c & 0xfc00) === 0xdc00 && i >= 2 && (s.charCodeAt(i - 2) & 0xfc00) === 0xd800 ? 2 : 1;
}
