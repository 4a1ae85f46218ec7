// The ByteLevel (GPT-2 regex split, bytes as characters) and Metaspace (spaces as "▁") pre-tokenizers of HF
// tokenizers, over aligned code points; each pre-token is handed to a model as a range of a CodePoints buffer.
import { CodePoints, isRustWhitespace, prependTo } from './normalizers.js';

/** Receives one pre-token: buf[from, to). Returns true to stop (truncation reached its limit). */
export type WordSink = (buf: CodePoints, from: number, to: number) => boolean;

export interface PreTokenizer {
  /** Splits the normalized segment `buf` (its original start is `originalStart`) into pre-tokens. */
  run(buf: CodePoints, originalStart: number, sink: WordSink): boolean;
}

/** GPT-2's byte -> character table (HF bytes_char): printable bytes stand for themselves, the others from U+0100. */
export const BYTE_TO_CHAR: Readonly<Int32Array> = (() => {
  const t = new Int32Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    t[b] = printable ? b : 256 + n++;
  }
  return t;
})();

/** Inverse of BYTE_TO_CHAR (-1 for characters that stand for no byte). */
export const CHAR_TO_BYTE: Readonly<Int16Array> = (() => {
  const t = new Int16Array(512).fill(-1);
  for (let b = 0; b < 256; b++) t[BYTE_TO_CHAR[b]!] = b;
  return t;
})();

// Classes of the GPT-2 regex: letters, numbers, whitespace (\s), anything else.
const K_UNKNOWN = 0;
const K_LETTER = 1;
const K_NUMBER = 2;
const K_SPACE = 3;
const K_OTHER = 4;
const classes = new Uint8Array(0x110000);
const RE_LETTER = /\p{L}/u;
const RE_NUMBER = /\p{N}/u;

function classOf(c: number): number {
  const k = classes[c]!;
  if (k !== K_UNKNOWN) return k;
  let r: number;
  // Oniguruma's \s in HF's regex is the White_Space property (U+0085 in, U+FEFF out, unlike JavaScript's \s).
  if (isRustWhitespace(c)) r = K_SPACE;
  else if (c >= 0xd800 && c <= 0xdfff) r = K_OTHER;
  else {
    const s = String.fromCodePoint(c);
    r = RE_LETTER.test(s) ? K_LETTER : RE_NUMBER.test(s) ? K_NUMBER : K_OTHER;
  }
  classes[c] = r;
  return r;
}

/**
 * End of the GPT-2 pattern's match at i: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
 * (alternatives tried in order, as the regex engine does).
 */
function gpt2MatchEnd(cps: Int32Array, i: number, n: number): number {
  const c = cps[i]!;
  if (c === 39 && i + 1 < n) {
    const d = cps[i + 1]!;
    if (d === 115 || d === 116 || d === 109 || d === 100) return i + 2; // 's 't 'm 'd
    if (i + 2 < n) {
      const e = cps[i + 2]!;
      if ((d === 114 && e === 101) || (d === 118 && e === 101) || (d === 108 && e === 108)) return i + 3; // 're 've 'll
    }
  }
  let j = i;
  if (c === 32 && i + 1 < n && classOf(cps[i + 1]!) !== K_SPACE) j = i + 1;
  const k = classOf(cps[j]!);
  if (k !== K_SPACE) {
    let e = j + 1;
    while (e < n && classOf(cps[e]!) === k) e++;
    return e;
  }
  // Whitespace: \s+(?!\S) keeps the last space for the next word when a non-space follows; \s+ otherwise.
  let e = i + 1;
  while (e < n && classOf(cps[e]!) === K_SPACE) e++;
  if (e === n || e - i === 1) return e;
  return e - 1;
}

export interface ByteLevelOptions {
  addPrefixSpace: boolean;
  useRegex: boolean;
}

export class ByteLevelPreTokenizer implements PreTokenizer {
  private readonly word = new CodePoints();
  private static readonly SPACE = [32];

  constructor(readonly options: ByteLevelOptions) {}

  run(buf: CodePoints, _originalStart: number, sink: WordSink): boolean {
    if (buf.length === 0) return false;
    if (this.options.addPrefixSpace && buf.cps[0] !== 32) prependTo(buf, ByteLevelPreTokenizer.SPACE);
    const n = buf.length,
      cps = buf.cps;
    if (!this.options.useRegex) return this.emit(buf, 0, n, sink);
    for (let i = 0; i < n;) {
      const e = gpt2MatchEnd(cps, i, n);
      if (this.emit(buf, i, e, sink)) return true;
      i = e;
    }
    return false;
  }

  /** Bytes of buf[from, to) as GPT-2 characters, each aligned like the character it is a byte of. */
  private emit(buf: CodePoints, from: number, to: number, sink: WordSink): boolean {
    const w = this.word;
    w.length = 0;
    w.reserve(4 * (to - from));
    const out = w.cps,
      os = w.starts,
      oe = w.ends;
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = buf.cps[i]!,
        s = buf.starts[i]!,
        e = buf.ends[i]!;
      if (c < 0x80) {
        out[n] = BYTE_TO_CHAR[c]!;
        os[n] = s;
        oe[n++] = e;
        continue;
      }
      // Lone surrogates are refused before this point; everything else is valid UTF-8.
      let k: number, lead: number;
      if (c < 0x800) ((k = 1), (lead = 0xc0 | (c >> 6)));
      else if (c < 0x10000) ((k = 2), (lead = 0xe0 | (c >> 12)));
      else ((k = 3), (lead = 0xf0 | (c >> 18)));
      out[n] = BYTE_TO_CHAR[lead]!;
      os[n] = s;
      oe[n++] = e;
      for (let b = k - 1; b >= 0; b--) {
        out[n] = BYTE_TO_CHAR[0x80 | ((c >> (6 * b)) & 63)]!;
        os[n] = s;
        oe[n++] = e;
      }
    }
    w.length = n;
    return sink(w, 0, n);
  }
}

export type PrependScheme = 'always' | 'first' | 'never';

export class MetaspacePreTokenizer implements PreTokenizer {
  private readonly prefix: number[];

  constructor(
    readonly replacement: number,
    readonly prependScheme: PrependScheme,
    readonly split: boolean,
  ) {
    this.prefix = [replacement];
  }

  run(buf: CodePoints, originalStart: number, sink: WordSink): boolean {
    const r = this.replacement;
    for (let i = 0; i < buf.length; i++) if (buf.cps[i] === 32) buf.cps[i] = r;
    if (buf.length === 0) return false;
    if (buf.cps[0] !== r) {
      if (this.prependScheme === 'always' || (this.prependScheme === 'first' && originalStart === 0))
        prependTo(buf, this.prefix);
    }
    const n = buf.length,
      cps = buf.cps;
    if (!this.split) return sink(buf, 0, n);
    // MergedWithNext: a piece starts at each replacement character that does not follow another one.
    let start = 0;
    for (let i = 1; i < n; i++) {
      if (cps[i] === r && cps[i - 1] !== r) {
        if (sink(buf, start, i)) return true;
        start = i;
      }
    }
    return sink(buf, start, n);
  }
}
