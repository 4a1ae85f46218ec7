// The normalizers of BPE / Unigram tokenizer.json files (Precompiled, Replace, Strip, Nmt, Lowercase, Prepend,
// Sequence) over code points that each carry the original span HF's NormalizedString alignments would give them.
import { TokenizerError } from './errors.js';

/** Code points, each with the [start, end) in UTF-16 units of the original text it is aligned to (HF's alignments). */
export class CodePoints {
  cps = new Int32Array(256);
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  length = 0;

  reserve(need: number): void {
    if (need <= this.cps.length) return;
    let cap = this.cps.length * 2;
    while (cap < need) cap *= 2;
    const cps = new Int32Array(cap),
      starts = new Int32Array(cap),
      ends = new Int32Array(cap);
    cps.set(this.cps.subarray(0, this.length));
    starts.set(this.starts.subarray(0, this.length));
    ends.set(this.ends.subarray(0, this.length));
    this.cps = cps;
    this.starts = starts;
    this.ends = ends;
  }

  push(cp: number, start: number, end: number): void {
    if (this.length === this.cps.length) this.reserve(this.length + 1);
    const n = this.length++;
    this.cps[n] = cp;
    this.starts[n] = start;
    this.ends[n] = end;
  }

  /** Loads text[from, to): every code point aligned to itself. */
  load(text: string, from: number, to: number): void {
    this.length = 0;
    this.reserve(to - from);
    const cps = this.cps,
      starts = this.starts,
      ends = this.ends;
    let n = 0;
    for (let i = from; i < to; i++) {
      let c = text.charCodeAt(i);
      const s = i;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      cps[n] = c;
      starts[n] = s;
      ends[n] = i + 1;
      n++;
    }
    this.length = n;
  }

  toString(from = 0, to = this.length): string {
    if (to - from <= 64) return cpsKey(this.cps, from, to);
    let s = '';
    for (let i = from; i < to; i += 2048) s += String.fromCodePoint(...this.cps.subarray(i, Math.min(to, i + 2048)));
    return s;
  }

  /** Swaps contents with another buffer (a transform writes into scratch, then swaps). */
  swap(o: CodePoints): void {
    [this.cps, o.cps] = [o.cps, this.cps];
    [this.starts, o.starts] = [o.starts, this.starts];
    [this.ends, o.ends] = [o.ends, this.ends];
    [this.length, o.length] = [o.length, this.length];
  }
}

/** The string of cps[from, to) (short ranges: a cache key per pre-token). */
export function cpsKey(cps: Int32Array, from: number, to: number): string {
  let bmp = true;
  for (let i = from; i < to; i++) {
    if (cps[i]! > 0xffff) {
      bmp = false;
      break;
    }
  }
  const part = cps.subarray(from, to);
  return bmp
    ? String.fromCharCode.apply(null, part as unknown as number[])
    : String.fromCodePoint.apply(null, part as unknown as number[]);
}

/**
 * A list of (code point, change) as HF's NormalizedString::transform takes it: change 0 replaces the next original
 * character, 1 inserts (aligned like the character before), -n replaces the next one and removes n more.
 */
export class Transformations {
  cps: number[] = [];
  changes: number[] = [];

  clear(): void {
    this.cps.length = 0;
    this.changes.length = 0;
  }

  push(cp: number, change: number): void {
    this.cps.push(cp);
    this.changes.push(change);
  }
}

/** HF's NormalizedString::transform over the whole buffer (initial_offset characters removed first), as it aligns. */
export function applyTransform(src: CodePoints, t: Transformations, initialOffset: number, dst: CodePoints): void {
  const n = t.cps.length;
  dst.length = 0;
  dst.reserve(n);
  const len = src.length;
  let offset = Math.min(initialOffset, len);
  for (let k = 0; k < n; k++) {
    const change = t.changes[k]!;
    const idx = offset;
    let s: number, e: number;
    if (change > 0) {
      if (idx < 1) s = e = 0;
      else {
        s = src.starts[idx - 1]!;
        e = src.ends[idx - 1]!;
      }
    } else {
      // Past the end HF would index out of range; no normalizer here produces that, the guard keeps it defined.
      const j = idx < len ? idx : len - 1;
      s = src.starts[j]!;
      e = src.ends[j]!;
      if (offset < len) offset++;
    }
    if (change < 0) offset = Math.min(len, offset - change);
    dst.cps[k] = t.cps[k]!;
    dst.starts[k] = s;
    dst.ends[k] = e;
  }
  dst.length = n;
}

export interface Normalizer {
  /** Normalizes `buf` in place (`scratch` is a spare buffer it may swap with). */
  run(buf: CodePoints, scratch: CodePoints): void;
}

/** Rust's char::is_whitespace (the White_Space property). */
export function isRustWhitespace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Drops characters: HF's filter keeps each kept character's own alignment. */
function filterInPlace(buf: CodePoints, keep: (cp: number) => boolean): void {
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf.cps[i]!;
    if (!keep(c)) continue;
    buf.cps[n] = c;
    buf.starts[n] = buf.starts[i]!;
    buf.ends[n] = buf.ends[i]!;
    n++;
  }
  buf.length = n;
}

/** HF's Nmt normalizer: drops some control characters, maps others (and U+2581, U+FEFF, U+FFFD) to a space. */
export class NmtNormalizer implements Normalizer {
  run(buf: CodePoints): void {
    filterInPlace(
      buf,
      (c) => !((c >= 1 && c <= 8) || c === 0xb || (c >= 0xe && c <= 0x1f) || c === 0x7f || c === 0x8f || c === 0x9f),
    );
    for (let i = 0; i < buf.length; i++) {
      const c = buf.cps[i]!;
      if (
        c === 9 ||
        c === 10 ||
        c === 12 ||
        c === 13 ||
        c === 0x1680 ||
        (c >= 0x200b && c <= 0x200f) ||
        c === 0x2028 ||
        c === 0x2029 ||
        c === 0x2581 ||
        c === 0xfeff ||
        c === 0xfffd
      )
        buf.cps[i] = 32;
    }
  }
}

/** HF's Strip normalizer: whitespace removed on the left and/or right. */
export class StripNormalizer implements Normalizer {
  constructor(
    private readonly left: boolean,
    private readonly right: boolean,
  ) {}

  run(buf: CodePoints): void {
    let end = buf.length;
    if (this.right) while (end > 0 && isRustWhitespace(buf.cps[end - 1]!)) end--;
    let start = 0;
    if (this.left) while (start < end && isRustWhitespace(buf.cps[start]!)) start++;
    if (start > 0) {
      buf.cps.copyWithin(0, start, end);
      buf.starts.copyWithin(0, start, end);
      buf.ends.copyWithin(0, start, end);
    }
    buf.length = end - start;
  }
}

/** HF's Lowercase: each character lowercased alone (no final-sigma rule); extra characters are inserted. */
export class LowercaseNormalizer implements Normalizer {
  private readonly t = new Transformations();

  run(buf: CodePoints, scratch: CodePoints): void {
    let simple = true;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.cps[i]!;
      if (c < 128) {
        if (c >= 65 && c <= 90) buf.cps[i] = c + 32;
        continue;
      }
      const lower = String.fromCodePoint(c).toLowerCase();
      const l0 = lower.codePointAt(0)!;
      if (lower.length === (c > 0xffff ? 2 : 1) && (l0 > 0xffff ? 2 : 1) === lower.length) buf.cps[i] = l0;
      else simple = false;
    }
    if (simple) return;
    const t = this.t;
    t.clear();
    for (let i = 0; i < buf.length; i++) {
      let first = true;
      for (const ch of String.fromCodePoint(buf.cps[i]!).toLowerCase()) {
        t.push(ch.codePointAt(0)!, first ? 0 : 1);
        first = false;
      }
    }
    applyTransform(buf, t, 0, scratch);
    buf.swap(scratch);
  }
}

/** HF's NormalizedString::prepend: every prepended character takes the first character's alignment. */
export function prependTo(buf: CodePoints, prefix: readonly number[]): void {
  if (buf.length === 0 || prefix.length === 0) return;
  const k = prefix.length;
  buf.reserve(buf.length + k);
  buf.cps.copyWithin(k, 0, buf.length);
  buf.starts.copyWithin(k, 0, buf.length);
  buf.ends.copyWithin(k, 0, buf.length);
  const s = buf.starts[k]!,
    e = buf.ends[k]!;
  for (let i = 0; i < k; i++) {
    buf.cps[i] = prefix[i]!;
    buf.starts[i] = s;
    buf.ends[i] = e;
  }
  buf.length += k;
}

export class PrependNormalizer implements Normalizer {
  private readonly prefix: number[];
  constructor(prefix: string) {
    this.prefix = [...prefix].map((c) => c.codePointAt(0)!);
  }
  run(buf: CodePoints): void {
    prependTo(buf, this.prefix);
  }
}

/**
 * HF's Replace: each match of a string or a regex replaced by `content`, whose characters all take the alignment
 * of the match's last character (HF inserts them after removing the match).
 */
export class ReplaceNormalizer implements Normalizer {
  private readonly content: number[];
  private readonly literal: number[] | null;
  private readonly regex: RegExp | null;
  /** A regex that is one literal character repeated at least `runMin` times (XLM-R's " {2,}"): scanned directly. */
  private readonly runChar: number = -1;
  private readonly runMin: number = 0;

  constructor(pattern: { string: string } | { regex: RegExp }, content: string) {
    this.content = [...content].map((c) => c.codePointAt(0)!);
    if ('string' in pattern) {
      this.literal = [...pattern.string].map((c) => c.codePointAt(0)!);
      this.regex = null;
    } else {
      this.literal = null;
      this.regex = pattern.regex;
      const m = /^([ A-Za-z0-9_\u0080-\uffff])(?:\{(\d+),\}|(\+))$/u.exec(pattern.regex.source);
      if (m) {
        this.runChar = m[1]!.codePointAt(0)!;
        this.runMin = m[3] ? 1 : Number(m[2]);
      }
    }
  }

  /** Matches as [start, end) code point ranges, non-overlapping, left to right. */
  private matches(buf: CodePoints): number[] {
    const out: number[] = [];
    const lit = this.literal;
    if (lit) {
      const m = lit.length;
      if (m === 0) return out;
      const first = lit[0]!;
      for (let i = 0; i + m <= buf.length;) {
        if (buf.cps[i] === first) {
          let k = 1;
          while (k < m && buf.cps[i + k] === lit[k]) k++;
          if (k === m) {
            out.push(i, i + m);
            i += m;
            continue;
          }
        }
        i++;
      }
      return out;
    }
    if (this.runChar >= 0) {
      const c = this.runChar,
        min = Math.max(1, this.runMin);
      for (let i = 0; i < buf.length;) {
        if (buf.cps[i] !== c) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < buf.length && buf.cps[j] === c) j++;
        if (j - i >= min) out.push(i, j);
        i = j;
      }
      return out;
    }
    const re = this.regex!;
    const s = buf.toString();
    // UTF-16 index -> code point index.
    const cpAt = new Int32Array(s.length + 1);
    for (let i = 0, k = 0; i <= s.length; i++) {
      cpAt[i] = k;
      const c = s.charCodeAt(i);
      if (!(c >= 0xd800 && c <= 0xdbff && i + 1 < s.length)) k++;
    }
    re.lastIndex = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      out.push(cpAt[m.index]!, cpAt[m.index + m[0].length]!);
    }
    return out;
  }

  run(buf: CodePoints, scratch: CodePoints): void {
    if (buf.length === 0) return;
    const ms = this.matches(buf);
    if (ms.length === 0) return;
    const content = this.content;
    scratch.length = 0;
    scratch.reserve(buf.length + (ms.length / 2) * content.length);
    let p = 0;
    for (let k = 0; k < ms.length; k += 2) {
      const start = ms[k]!,
        end = ms[k + 1]!;
      for (; p < start; p++) scratch.push(buf.cps[p]!, buf.starts[p]!, buf.ends[p]!);
      const s = buf.starts[end - 1]!,
        e = buf.ends[end - 1]!;
      for (const c of content) scratch.push(c, s, e);
      p = end;
    }
    for (; p < buf.length; p++) scratch.push(buf.cps[p]!, buf.starts[p]!, buf.ends[p]!);
    buf.swap(scratch);
  }
}

export class SequenceNormalizer implements Normalizer {
  constructor(readonly steps: readonly Normalizer[]) {}
  run(buf: CodePoints, scratch: CodePoints): void {
    for (const s of this.steps) s.run(buf, scratch);
  }
}

/**
 * A regex of a tokenizer.json Replace/Split pattern (Oniguruma syntax in HF) as a JavaScript RegExp. The common
 * subset (classes, repetition, alternation, \s \d \w \p{..}) means the same; anything JavaScript rejects is an error.
 */
export function compileOnigRegex(source: string, where: string): RegExp {
  try {
    return new RegExp(source, 'gu');
  } catch (e) {
    throw new TokenizerError(
      `${where}: the regex ${JSON.stringify(source)} is not supported here (${(e as Error).message})`,
    );
  }
}

/** Unicode normalization forms of tokenizers' NFC, NFD, NFKC and NFKD normalizers. */
export type UnicodeForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** Code points that join the character before them in a normalization chunk: marks, and Hangul vowel / final jamo. */
const CONTINUES = /^[\p{M}\u1161-\u1175\u11a8-\u11c2]$/u;

/**
 * tokenizers' NFC / NFD / NFKC / NFKD normalizers (String.prototype.normalize). Text already in the form is left as
 * it is; otherwise each character with the marks that follow it is normalized on its own, and its output aligned to
 * its input: one to one, the extra outputs inserted after, or the last output replacing the characters composed away.
 */
export class UnicodeNormalizer implements Normalizer {
  private readonly t = new Transformations();
  constructor(private readonly form: UnicodeForm) {}

  run(buf: CodePoints, scratch: CodePoints): void {
    let text = '';
    for (let i = 0; i < buf.length; i++) text += String.fromCodePoint(buf.cps[i]!);
    if (text.normalize(this.form) === text) return;
    const t = this.t;
    t.clear();
    let i = 0;
    while (i < buf.length) {
      let end = i + 1;
      while (end < buf.length && CONTINUES.test(String.fromCodePoint(buf.cps[end]!))) end++;
      let chunk = '';
      for (let j = i; j < end; j++) chunk += String.fromCodePoint(buf.cps[j]!);
      const out = [...chunk.normalize(this.form)].map((c) => c.codePointAt(0)!);
      const n = end - i;
      out.forEach((cp, k) => t.push(cp, k >= n ? 1 : k === out.length - 1 ? out.length - n : 0));
      i = end;
    }
    applyTransform(buf, t, 0, scratch);
    buf.swap(scratch);
  }
}
