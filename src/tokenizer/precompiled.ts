// HF's Precompiled normalizer (SentencePiece's precompiled_charsmap: a darts-clone trie over UTF-8 plus the
// replacement strings), applied grapheme by grapheme with the same quirks and the same offset alignments as HF.
import { TokenizerError } from './errors.js';
import { applyTransform, CodePoints, Transformations, type Normalizer } from './normalizers.js';

const NONE: Int32Array = new Int32Array(0);
/** An empty replacement (the character is removed), distinct from NONE. */
const EMPTY: Int32Array = new Int32Array(0);

function utf8Encode(cp: number, out: number[]): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

export class PrecompiledNormalizer implements Normalizer {
  private readonly trie: Uint32Array;
  private readonly normalized: Uint8Array;
  /** Replacement (code points) of each single code point, NONE when the trie has none; filled lazily. */
  private readonly single = new Map<number, Int32Array>();
  private readonly ascii: (Int32Array | undefined)[] = new Array(128);
  private readonly t = new Transformations();
  private readonly bytes: number[] = [];
  private segmenter: Intl.Segmenter | null = null;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  /** `charsmap`: the decoded bytes of tokenizer.json's precompiled_charsmap. */
  constructor(charsmap: Uint8Array, where: string) {
    if (charsmap.length < 4) throw new TokenizerError(`${where}: precompiled_charsmap is too short`);
    const trieSize = charsmap[0]! | (charsmap[1]! << 8) | (charsmap[2]! << 16) | (charsmap[3]! << 24);
    if (trieSize < 4 || trieSize % 4 !== 0 || 4 + trieSize > charsmap.length) {
      throw new TokenizerError(`${where}: precompiled_charsmap has a trie size of ${trieSize} bytes, out of range`);
    }
    this.trie = new Uint32Array(trieSize / 4);
    const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
    for (let i = 0; i < this.trie.length; i++) this.trie[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = charsmap.slice(4 + trieSize);
    for (let c = 0; c < 128; c++) this.ascii[c] = this.lookupCps([c]);
  }

  /** spm_precompiled's transform: the replacement of the SHORTEST key that prefixes `bytes` (results[0]). */
  private transformBytes(bytes: readonly number[]): Int32Array {
    const trie = this.trie;
    let unit = trie[0]!;
    let node = (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    for (const c of bytes) {
      if (c === 0) break;
      node ^= c;
      unit = trie[node]!;
      if (unit === undefined || (unit & ((1 << 31) | 0xff)) >>> 0 !== c) return NONE;
      node ^= (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
      if ((unit >>> 8) & 1) {
        const value = trie[node]! & 0x7fffffff;
        let end = value;
        while (end < this.normalized.length && this.normalized[end] !== 0) end++;
        const s = this.decoder.decode(this.normalized.subarray(value, end));
        const out = new Int32Array([...s].length);
        let k = 0;
        for (const ch of s) out[k++] = ch.codePointAt(0)!;
        return out.length === 0 ? EMPTY : out;
      }
    }
    return NONE;
  }

  private lookupCps(cps: readonly number[]): Int32Array {
    const bytes = this.bytes;
    bytes.length = 0;
    for (const c of cps) utf8Encode(c, bytes);
    return this.transformBytes(bytes);
  }

  private lookupOne(cp: number): Int32Array {
    if (cp < 128) return this.ascii[cp]!;
    let r = this.single.get(cp);
    if (r === undefined) {
      r = this.lookupCps([cp]);
      this.single.set(cp, r);
    }
    return r;
  }

  /** HF precompiled.rs `replace`: the new characters replace the old ones; extra ones insert, missing ones remove. */
  private replace(oldCount: number, repl: Int32Array): void {
    const t = this.t;
    for (let i = 0; i < repl.length; i++) t.push(repl[i]!, 0);
    const diff = repl.length - oldCount;
    if (diff > 0) {
      for (let i = t.changes.length - diff; i < t.changes.length; i++) t.changes[i] = 1;
    } else if (diff < 0 && t.changes.length > 0) {
      t.changes[t.changes.length - 1]! += diff;
    }
  }

  private chars(cps: Int32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const c = cps[i]!;
      const r = this.lookupOne(c);
      if (r === NONE) this.t.push(c, 0);
      else {
        this.modified = true;
        this.replace(1, r);
      }
    }
  }

  private modified = false;

  private grapheme(cps: Int32Array, from: number, to: number): void {
    if (to - from === 1) {
      this.chars(cps, from, to);
      return;
    }
    let bytes = 0;
    for (let i = from; i < to; i++) bytes += utf8Length(cps[i]!);
    if (bytes < 6) {
      const r = this.lookupCps(Array.from(cps.subarray(from, to)));
      if (r !== NONE) {
        this.modified = true;
        this.replace(to - from, r);
        return;
      }
    }
    this.chars(cps, from, to);
  }

  run(buf: CodePoints, scratch: CodePoints): void {
    const cps = buf.cps,
      n = buf.length;
    // Most text is ASCII that the map leaves alone: nothing to do then.
    let plain = true;
    for (let i = 0; i < n; i++) {
      const c = cps[i]!;
      if (c >= 128 || this.ascii[c] !== NONE || (c === 13 && i + 1 < n && cps[i + 1] === 10)) {
        plain = false;
        break;
      }
    }
    if (plain) return;
    this.t.clear();
    this.modified = false;
    // Graphemes never span two ASCII characters except CR LF, so the text splits there into stretches and only
    // stretches with a non-ASCII character need the segmenter.
    let i = 0;
    while (i < n) {
      let j = i + 1;
      let ascii = cps[i]! < 128;
      while (j < n) {
        const a = cps[j - 1]!,
          b = cps[j]!;
        if (a < 128 && b < 128 && !(a === 13 && b === 10)) break;
        if (b >= 128) ascii = false;
        j++;
      }
      if (j - i === 1) this.chars(cps, i, j);
      else if (ascii) this.grapheme(cps, i, j);
      else this.segment(cps, i, j);
      i = j;
    }
    if (!this.modified) return;
    applyTransform(buf, this.t, 0, scratch);
    buf.swap(scratch);
  }

  private segment(cps: Int32Array, from: number, to: number): void {
    this.segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    let s = '';
    for (let i = from; i < to; i += 2048) s += String.fromCodePoint(...cps.subarray(i, Math.min(to, i + 2048)));
    let k = from;
    for (const g of this.segmenter.segment(s)) {
      let count = 0;
      for (let u = 0; u < g.segment.length; u++) {
        const c = g.segment.charCodeAt(u);
        if (!(c >= 0xd800 && c <= 0xdbff && u + 1 < g.segment.length)) count++;
      }
      this.grapheme(cps, k, k + count);
      k += count;
    }
  }
}
