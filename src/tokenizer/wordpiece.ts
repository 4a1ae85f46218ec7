// BertPreTokenizer (split on whitespace, isolate punctuation) fused with WordPiece greedy longest-match, run
// over normalized code units; emits ids with original UTF-16 offsets into a TokenBuffer.
import type { NormalizedBuffer } from './normalizer.js';
import { FNV_OFFSET, FNV_PRIME, PieceTable } from './piece-table.js';
import { BMP_PROPS, P_PUNCTUATION, P_SPLIT_SPACE, props } from './unicode.js';

/** Token ids with their original [start, end) offsets. */
export class TokenBuffer {
  ids = new Int32Array(256);
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  length = 0;
  /** When set, the index of the first token of each word (pre-token split or added token), as the words are made. */
  words: number[] | null = null;

  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.ids.length) return;
    let cap = this.ids.length * 2;
    while (cap < need) cap *= 2;
    const ids = new Int32Array(cap),
      starts = new Int32Array(cap),
      ends = new Int32Array(cap);
    ids.set(this.ids.subarray(0, this.length));
    starts.set(this.starts.subarray(0, this.length));
    ends.set(this.ends.subarray(0, this.length));
    this.ids = ids;
    this.starts = starts;
    this.ends = ends;
  }

  push(id: number, start: number, end: number): void {
    if (this.length === this.ids.length) this.reserve(1);
    const n = this.length++;
    this.ids[n] = id;
    this.starts[n] = start;
    this.ends[n] = end;
  }
}

export interface WordPieceOptions {
  /** token -> id of the model vocabulary (added tokens excluded). */
  vocab: ReadonlyMap<string, number>;
  unkId: number;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
}

// Pre-tokenizer class of a normalized code point.
const C_WORD = 0;
const C_SPACE = 1;
const C_PUNCT = 2;

const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const p = BMP_PROPS[c]!;
  ASCII_CLASS[c] = (p & P_SPLIT_SPACE) !== 0 ? C_SPACE : (p & P_PUNCTUATION) !== 0 ? C_PUNCT : C_WORD;
}

function classOf(p: number): number {
  return (p & P_SPLIT_SPACE) !== 0 ? C_SPACE : (p & P_PUNCTUATION) !== 0 ? C_PUNCT : C_WORD;
}

export class WordPiece {
  readonly unkId: number;
  readonly prefix: string;
  readonly maxInputCharsPerWord: number;
  /** Every vocabulary entry: lookups of word-initial pieces. */
  private readonly words: PieceTable;
  /** Entries that start with the prefix, keyed without it: lookups of continuation pieces. */
  private readonly continuations: PieceTable;
  private hashes = new Int32Array(64);

  constructor(o: WordPieceOptions) {
    this.unkId = o.unkId;
    this.prefix = o.continuingSubwordPrefix;
    this.maxInputCharsPerWord = o.maxInputCharsPerWord;
    const entries = [...o.vocab];
    this.words = new PieceTable(entries);
    const p = this.prefix;
    this.continuations =
      p === ''
        ? this.words
        : new PieceTable(entries.filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v] as const));
    this.hashes = new Int32Array(Math.max(this.words.maxLength, this.continuations.maxLength) + 1);
  }

  /**
   * Pre-tokenizes and tokenizes normalized units [from, to) of `buf`, appending to `out`. Like HF (since
   * tokenizers 0.23, right truncation) it stops after the pre-token that brings `out` to `limit` tokens, and
   * then returns true.
   */
  tokenize(buf: NormalizedBuffer, from: number, to: number, out: TokenBuffer, limit = Infinity): boolean {
    const units = buf.units;
    let wordStart = -1;
    let h = FNV_OFFSET;
    for (let i = from; i < to; i++) {
      const c = units[i]!;
      let cls: number,
        len = 1;
      if (c < 128) {
        cls = ASCII_CLASS[c]!;
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
        const d = units[i + 1]!;
        cls = classOf(props(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000));
        len = 2;
      } else {
        cls = classOf(BMP_PROPS[c]!);
      }
      if (cls === C_WORD) {
        if (wordStart < 0) {
          wordStart = i;
          h = FNV_OFFSET;
        }
        h = Math.imul(h ^ c, FNV_PRIME);
        if (len === 2) {
          h = Math.imul(h ^ units[i + 1]!, FNV_PRIME);
          i++;
        }
        continue;
      }
      if (wordStart >= 0) {
        this.word(buf, wordStart, i, h, out);
        wordStart = -1;
        if (out.length >= limit) return true;
      }
      if (cls === C_PUNCT) {
        let ph = Math.imul(FNV_OFFSET ^ c, FNV_PRIME);
        if (len === 2) ph = Math.imul(ph ^ units[i + 1]!, FNV_PRIME);
        this.word(buf, i, i + len, ph, out);
        if (out.length >= limit) return true;
      }
      i += len - 1;
    }
    if (wordStart < 0) return false;
    this.word(buf, wordStart, to, h, out);
    return out.length >= limit;
  }

  /** WordPiece on one pre-token; h is the FNV-1a hash of units[from, to). */
  private word(buf: NormalizedBuffer, from: number, to: number, h: number, out: TokenBuffer): void {
    out.words?.push(out.length);
    const units = buf.units;
    const len = to - from;
    if (len > this.maxInputCharsPerWord) {
      let chars = 0;
      for (let i = from; i < to; i++) {
        const c = units[i]!;
        if (c < 0xdc00 || c > 0xdfff) chars++;
      }
      if (chars > this.maxInputCharsPerWord) {
        out.push(this.unkId, buf.starts[from]!, buf.ends[to - 1]!);
        return;
      }
    }
    if (len <= this.words.maxLength) {
      const id = this.words.find(units, from, to, h);
      if (id >= 0) {
        out.push(id, buf.starts[from]!, buf.ends[to - 1]!);
        return;
      }
    }
    this.greedy(buf, from, to, out);
  }

  /** Greedy longest-match-first, the whole word becoming unk when some position has no piece. */
  private greedy(buf: NormalizedBuffer, from: number, to: number, out: TokenBuffer): void {
    const units = buf.units,
      hashes = this.hashes;
    const mark = out.length;
    let start = from;
    while (start < to) {
      const table = start === from ? this.words : this.continuations;
      const limit = Math.min(to, start + table.maxLength);
      let h = FNV_OFFSET;
      for (let k = start; k < limit; k++) {
        h = Math.imul(h ^ units[k]!, FNV_PRIME);
        hashes[k - start] = h;
      }
      let end = limit,
        id = -1;
      for (; end > start; end--) {
        // Pieces end on code point boundaries, never between the halves of a surrogate pair.
        if (end < to) {
          const last = units[end - 1]!;
          if (last >= 0xd800 && last <= 0xdbff) continue;
        }
        id = table.find(units, start, end, hashes[end - start - 1]!);
        if (id >= 0) break;
      }
      if (id < 0) {
        out.length = mark;
        out.push(this.unkId, buf.starts[from]!, buf.ends[to - 1]!);
        return;
      }
      out.push(id, buf.starts[start]!, buf.ends[end - 1]!);
      start = end;
    }
  }
}
