// BertNormalizer as HF runs it (clean text, CJK padding, NFD accent stripping, lowercase), with the original
// UTF-16 span of every normalized code unit so that token offsets point into the caller's string.
import {
  BMP_PROPS,
  P_CJK,
  P_CLEAN_SPACE,
  P_DECOMPOSES,
  P_LOWERCASES,
  P_NON_STARTER,
  P_NONSPACING_MARK,
  P_REMOVED,
  combiningRank,
  decompose,
  lowercaseOf,
  props,
} from './unicode.js';
import { TokenizerError } from './errors.js';

export interface NormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** Already resolved: HF's `strip_accents: null` follows `lowercase`. */
  stripAccents: boolean;
  lowercase: boolean;
}

/** Normalized text as UTF-16 code units, each with the [start, end) of the original character it came from. */
export class NormalizedBuffer {
  units = new Uint16Array(256);
  starts = new Int32Array(256);
  ends = new Int32Array(256);
  length = 0;

  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.units.length) return;
    let cap = this.units.length * 2;
    while (cap < need) cap *= 2;
    const units = new Uint16Array(cap),
      starts = new Int32Array(cap),
      ends = new Int32Array(cap);
    units.set(this.units.subarray(0, this.length));
    starts.set(this.starts.subarray(0, this.length));
    ends.set(this.ends.subarray(0, this.length));
    this.units = units;
    this.starts = starts;
    this.ends = ends;
  }

  toString(from = 0, to = this.length): string {
    let s = '';
    for (let i = from; i < to; i += 4096) s += String.fromCharCode(...this.units.subarray(i, Math.min(to, i + 4096)));
    return s;
  }
}

// What to do with a BMP code unit under given options.
const K_SIMPLE = 0; // copied unchanged
const K_REMOVED = 1;
const K_SPACE = 2; // becomes U+0020
const K_COMPLEX = 3; // CJK, decomposes, combining mark or case change
const K_HIGH = 4; // high surrogate
const K_LOW = 5; // low surrogate: only valid after a high one

const kindTables = new Map<string, Uint8Array>();

function kindOf(p: number, o: NormalizerOptions): number {
  if (o.cleanText && (p & P_REMOVED) !== 0) return K_REMOVED;
  if (o.cleanText && (p & P_CLEAN_SPACE) !== 0) return K_SPACE;
  if (o.handleChineseChars && (p & P_CJK) !== 0) return K_COMPLEX;
  if (o.stripAccents && (p & (P_DECOMPOSES | P_NONSPACING_MARK | P_NON_STARTER)) !== 0) return K_COMPLEX;
  if (o.lowercase && (p & P_LOWERCASES) !== 0) return K_COMPLEX;
  return K_SIMPLE;
}

function kindTable(o: NormalizerOptions): Uint8Array {
  const key = `${+o.cleanText}${+o.handleChineseChars}${+o.stripAccents}${+o.lowercase}`;
  let t = kindTables.get(key);
  if (!t) {
    t = new Uint8Array(0x10000);
    for (let c = 0; c < 0x10000; c++) t[c] = kindOf(BMP_PROPS[c]!, o);
    for (let c = 0xd800; c < 0xdc00; c++) t[c] = K_HIGH;
    for (let c = 0xdc00; c < 0xe000; c++) t[c] = K_LOW;
    kindTables.set(key, t);
  }
  return t;
}

function loneSurrogate(text: string, i: number): TokenizerError {
  return new TokenizerError(
    `text contains a lone surrogate U+${text.charCodeAt(i).toString(16).toUpperCase()} at UTF-16 index ${i}; ` +
      'pass well-formed UTF-16 (e.g. text.toWellFormed())',
  );
}

export class BertNormalizer {
  readonly options: Readonly<NormalizerOptions>;
  private readonly kinds: Uint8Array;
  /** ASCII output unit, or -1 when the character is removed. */
  private readonly ascii = new Int16Array(128);

  // Pending NFD run of non-starters (combining class > 0), reordered canonically when it ends.
  private runCp = new Int32Array(16);
  private runRank = new Int32Array(16);
  private runChange = new Uint8Array(16);
  private runStart = new Int32Array(16);
  private runEnd = new Int32Array(16);
  private runLen = 0;
  private scratch = new Int32Array(64);

  constructor(options: NormalizerOptions) {
    this.options = Object.freeze({ ...options });
    this.kinds = kindTable(options);
    for (let c = 0; c < 128; c++) {
      const k = this.kinds[c]!;
      this.ascii[c] = k === K_REMOVED ? -1 : k === K_SPACE ? 32 : options.lowercase && c >= 65 && c <= 90 ? c + 32 : c;
    }
  }

  /** The normalized string, as HF's `normalizer.normalize_str` returns it. */
  normalize(text: string): string {
    const buf = new NormalizedBuffer();
    this.normalizeInto(text, 0, text.length, buf);
    return buf.toString();
  }

  /** Appends the normalization of text[from, to) to `out`. Throws on lone surrogates. */
  normalizeInto(text: string, from: number, to: number, out: NormalizedBuffer): void {
    out.reserve(to - from + 8);
    const ascii = this.ascii,
      kinds = this.kinds;
    let units = out.units,
      starts = out.starts,
      ends = out.ends;
    let n = out.length;
    this.runLen = 0;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      // One output unit per input unit (ASCII, unchanged, or whitespace -> ' '), else the complex path below.
      let unit: number;
      if (c < 128) {
        unit = ascii[c]!;
        if (unit < 0) continue;
      } else {
        const k = kinds[c]!;
        if (k === K_SIMPLE) unit = c;
        else if (k === K_SPACE) unit = 32;
        else if (k === K_REMOVED) continue;
        else {
          // Astral code points, CJK, decompositions, marks and case changes.
          let cp = c,
            len = 1;
          if (k === K_HIGH) {
            const d = i + 1 < to ? text.charCodeAt(i + 1) : 0;
            if (d < 0xdc00 || d > 0xdfff) throw loneSurrogate(text, i);
            cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
            len = 2;
          } else if (k === K_LOW) {
            throw loneSurrogate(text, i);
          }
          out.length = n;
          this.complex(cp, i, i + len, out);
          n = out.length;
          out.reserve(to - i + 8);
          units = out.units;
          starts = out.starts;
          ends = out.ends;
          i += len - 1;
          continue;
        }
      }
      if (this.runLen > 0) {
        out.length = n;
        this.flushRun(out);
        n = out.length;
        out.reserve(to - i + 8);
        units = out.units;
        starts = out.starts;
        ends = out.ends;
      }
      units[n] = unit;
      starts[n] = i;
      ends[n] = i + 1;
      n++;
    }
    out.length = n;
    if (this.runLen > 0) this.flushRun(out);
  }

  private complex(cp: number, s: number, e: number, out: NormalizedBuffer): void {
    const o = this.options;
    const p = props(cp);
    if (cp >= 0x10000) {
      const k = kindOf(p, o);
      if (k === K_REMOVED) return;
      if (k === K_SPACE) {
        this.starter(32, s, e, out);
        return;
      }
    }
    if (o.handleChineseChars && (p & P_CJK) !== 0) {
      // HF pads the ideograph with a space on each side, both aligned with the ideograph itself.
      if (this.runLen > 0) this.flushRun(out);
      this.emit(32, s, e, out);
      this.stripAndLower(cp, p, s, e, out);
      if (this.runLen > 0) this.flushRun(out);
      this.emit(32, s, e, out);
      return;
    }
    this.stripAndLower(cp, p, s, e, out);
  }

  private stripAndLower(cp: number, p: number, s: number, e: number, out: NormalizedBuffer): void {
    if (!this.options.stripAccents) {
      this.lowerEmit(cp, p, s, e, out);
      return;
    }
    const d = (p & P_DECOMPOSES) !== 0 ? decompose(cp) : null;
    if (d === null) {
      this.nfdItem(cp, p, 0, s, e, out);
    } else {
      for (let k = 0; k < d.length; k++) this.nfdItem(d[k]!, props(d[k]!), k === 0 ? 0 : 1, s, e, out);
    }
  }

  /** One character of HF's NFD stream: `change` 0 consumes an original character, 1 is inserted after it. */
  private nfdItem(cp: number, p: number, change: number, s: number, e: number, out: NormalizedBuffer): void {
    const rank = (p & P_NON_STARTER) !== 0 ? combiningRank(cp) : 0;
    if (rank === 0) {
      if (this.runLen > 0) this.flushRun(out);
      if ((p & P_NONSPACING_MARK) === 0) this.lowerEmit(cp, p, s, e, out);
      return;
    }
    if (this.runLen === this.runCp.length) this.growRun();
    const r = this.runLen++;
    this.runCp[r] = cp;
    this.runRank[r] = rank;
    this.runChange[r] = change;
    this.runStart[r] = s;
    this.runEnd[r] = e;
  }

  private starter(cp: number, s: number, e: number, out: NormalizedBuffer): void {
    if (this.runLen > 0) this.flushRun(out);
    this.emit(cp, s, e, out);
  }

  private growRun(): void {
    const cap = this.runCp.length * 2;
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.runCp = grow(this.runCp, (n) => new Int32Array(n));
    this.runRank = grow(this.runRank, (n) => new Int32Array(n));
    this.runChange = grow(this.runChange, (n) => new Uint8Array(n));
    this.runStart = grow(this.runStart, (n) => new Int32Array(n));
    this.runEnd = grow(this.runEnd, (n) => new Int32Array(n));
  }

  /**
   * Ends a run of non-starters: canonical (stable) reordering by combining class, then the nonspacing marks
   * are dropped. As in HF's NormalizedString::transform, alignment follows position, not identity: the k-th
   * consuming character of the reordered run takes the span of the k-th original character, an inserted one
   * the span of the last consumed.
   */
  private flushRun(out: NormalizedBuffer): void {
    const len = this.runLen;
    this.runLen = 0;
    const cps = this.runCp,
      ranks = this.runRank,
      change = this.runChange,
      rs = this.runStart,
      re = this.runEnd;
    let sorted = true;
    for (let i = 1; i < len; i++) if (ranks[i]! < ranks[i - 1]!) sorted = false;
    if (sorted) {
      for (let i = 0; i < len; i++) {
        const p = props(cps[i]!);
        if ((p & P_NONSPACING_MARK) === 0) this.lowerEmit(cps[i]!, p, rs[i]!, re[i]!, out);
      }
      return;
    }
    // Consumed original spans, in order: the character consumed just before the run when the run opens with an
    // inserted item (its starter came earlier), then the source of every consuming item.
    if (this.scratch.length < 3 * len + 2) this.scratch = new Int32Array(2 * (3 * len + 2));
    const sc = this.scratch;
    let nc = 0;
    if (change[0] === 1) {
      sc[0] = rs[0]!;
      sc[1] = re[0]!;
      nc = 1;
    }
    let k = nc;
    for (let i = 0; i < len; i++) {
      if (change[i] === 0) {
        sc[2 * nc] = rs[i]!;
        sc[2 * nc + 1] = re[i]!;
        nc++;
      }
    }
    // Stable order by rank: counting sort (ranks are small), so that huge runs stay linear.
    let maxRank = 0;
    for (let i = 0; i < len; i++) if (ranks[i]! > maxRank) maxRank = ranks[i]!;
    const counts = new Int32Array(maxRank + 2);
    for (let i = 0; i < len; i++) counts[ranks[i]! + 1]!++;
    for (let r = 1; r < counts.length; r++) counts[r]! += counts[r - 1]!;
    const base = 2 * (len + 1);
    for (let i = 0; i < len; i++) sc[base + counts[ranks[i]!]!++] = i;
    for (let j = 0; j < len; j++) {
      const i = sc[base + j]!;
      let c: number;
      if (change[i] === 0) c = k++;
      else c = Math.max(k - 1, 0);
      const p = props(cps[i]!);
      if ((p & P_NONSPACING_MARK) === 0) this.lowerEmit(cps[i]!, p, sc[2 * c]!, sc[2 * c + 1]!, out);
    }
  }

  private lowerEmit(cp: number, p: number, s: number, e: number, out: NormalizedBuffer): void {
    if (this.options.lowercase && (p & P_LOWERCASES) !== 0) {
      const l = lowercaseOf(cp)!;
      for (let i = 0; i < l.length; i++) this.emit(l[i]!, s, e, out);
    } else {
      this.emit(cp, s, e, out);
    }
  }

  private emit(cp: number, s: number, e: number, out: NormalizedBuffer): void {
    out.reserve(2);
    let n = out.length;
    if (cp >= 0x10000) {
      out.units[n] = 0xd800 + ((cp - 0x10000) >> 10);
      out.starts[n] = s;
      out.ends[n] = e;
      n++;
      out.units[n] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
    } else {
      out.units[n] = cp;
    }
    out.starts[n] = s;
    out.ends[n] = e;
    out.length = n + 1;
  }
}
