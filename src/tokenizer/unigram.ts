// HF's Unigram model on one pre-token: Viterbi over a trie of the pieces (HF encode_optimized: unknown characters
// scored min_score - 10, runs of unk fused), byte fallback as HF, a word cache; tokens carry original offsets.
import type { CodePoints } from './normalizers.js';
import { WordCache } from './word-cache.js';
import type { TokenBuffer } from './wordpiece.js';

export interface UnigramOptions {
  /** [piece, score] in id order. */
  pieces: ReadonlyArray<readonly [string, number]>;
  unkId: number | null;
  byteFallback: boolean;
}

const K_UNK_PENALTY = 10;
const NODE_SHIFT = 0x110000;

export class Unigram {
  /** piece -> id (HF token_to_ids: a later duplicate wins). */
  readonly tokenToId = new Map<string, number>();
  private readonly scores: Float64Array;
  private readonly unkId: number | null;
  private readonly byteFallback: boolean;
  private readonly unkScore: number;
  /** Trie over code points: (node, cp) -> child node; terminal[node] = piece id or -1. */
  private readonly edges: EdgeTable;
  private readonly terminal: Int32Array;
  /** Children of the root by code point (BMP), the hottest lookup. */
  private readonly rootBmp: Int32Array;
  private readonly byteIds: Int32Array;
  private readonly cache = new WordCache();
  /** Viterbi's result for one word: [id, start, end) triples, and the reversed list it is built from. */
  private triples = new Int32Array(192);
  private readonly rev: number[] = [];
  private best = new Float64Array(64);
  private from = new Int32Array(64);
  private bestId = new Int32Array(64);

  constructor(o: UnigramOptions) {
    this.unkId = o.unkId;
    this.byteFallback = o.byteFallback;
    this.scores = new Float64Array(o.pieces.length);
    let min = Infinity;
    o.pieces.forEach(([piece, json], id) => {
      this.tokenToId.set(piece, id);
      const score = serdeJsonF64(json);
      this.scores[id] = score;
      if (score < min) min = score;
    });
    this.unkScore = min - K_UNK_PENALTY;
    const terminal: number[] = [-1];
    const edges = new Map<number, number>(); // node * 0x110000 + cp -> child, while building
    let nodes = 1;
    for (const [piece] of o.pieces) {
      let node = 0;
      for (const ch of piece) {
        const key = node * NODE_SHIFT + ch.codePointAt(0)!;
        let child = edges.get(key);
        if (child === undefined) {
          child = nodes++;
          terminal.push(-1);
          edges.set(key, child);
        }
        node = child;
      }
      if (node !== 0) terminal[node] = this.tokenToId.get(piece)!;
    }
    this.terminal = Int32Array.from(terminal);
    this.edges = new EdgeTable(edges.size);
    for (const [key, child] of edges) this.edges.set(Math.floor(key / NODE_SHIFT), key % NODE_SHIFT, child);
    this.rootBmp = new Int32Array(0x10000).fill(-1);
    for (let c = 0; c < 0x10000; c++) this.rootBmp[c] = this.edges.get(0, c);
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = this.tokenToId.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  tokenize(buf: CodePoints, from: number, to: number, out: TokenBuffer): void {
    if (to === from) return;
    const cache = this.cache;
    let slot = cache.find(buf.cps, from, to);
    if (slot < 0) {
      const length = this.viterbi(buf.cps, from, to);
      slot = cache.insert(buf.cps, from, to, this.triples, length);
    }
    const toks = cache.values;
    const a = cache.valueStart(slot),
      z = cache.valueEnd(slot);
    out.reserve((z - a) / 3);
    const ids = out.ids,
      starts = out.starts,
      ends = out.ends,
      bs = buf.starts,
      be = buf.ends;
    let n = out.length;
    for (let k = a; k < z; k += 3, n++) {
      ids[n] = toks[k]!;
      starts[n] = bs[from + toks[k + 1]!]!;
      ends[n] = be[from + toks[k + 2]! - 1]!;
    }
    out.length = n;
  }

  /** Writes [id, start, end) triples (start and end in code points of the word) to `triples`; returns their count * 3. */
  private viterbi(cps: Int32Array, from: number, to: number): number {
    const n = to - from;
    if (this.best.length < n + 1) {
      let cap = this.best.length;
      while (cap < n + 1) cap *= 2;
      this.best = new Float64Array(cap);
      this.from = new Int32Array(cap);
      this.bestId = new Int32Array(cap);
    }
    const best = this.best,
      start = this.from,
      bestId = this.bestId;
    start.fill(-1, 0, n + 1);
    best[0] = 0;
    const edges = this.edges,
      terminal = this.terminal,
      scores = this.scores;
    for (let s = 0; s < n; s++) {
      // Every position is reachable: each character has a piece or an unk node.
      const base = best[s]!;
      let single = false;
      let node = -1;
      for (let e = s; e < n; e++) {
        const c = cps[from + e]!;
        node = e === s && c < 0x10000 ? this.rootBmp[c]! : edges.get(e === s ? 0 : node, c);
        if (node < 0) break;
        const id = terminal[node]!;
        if (id < 0) continue;
        const score = base + scores[id]!;
        const at = e + 1;
        if (start[at] === -1 || score > best[at]!) {
          best[at] = score;
          start[at] = s;
          bestId[at] = id;
        }
        if (at === s + 1) single = true;
      }
      if (!single) {
        if (this.unkId === null) throw new Error('Unigram: a character has no piece and the model has no unk_id');
        const score = base + this.unkScore;
        if (start[s + 1] === -1 || score > best[s + 1]!) {
          best[s + 1] = score;
          start[s + 1] = s;
          bestId[s + 1] = this.unkId;
        }
      }
    }
    // Back from the end; consecutive unk nodes fuse into one token (HF's fuse_unk is always on for Unigram).
    const rev = this.rev;
    rev.length = 0;
    let end = n;
    let unkEnd = -1;
    while (end > 0) {
      const s = start[end]!;
      const id = bestId[end]!;
      if (this.unkId !== null && id === this.unkId) {
        if (unkEnd < 0) unkEnd = end;
      } else {
        if (unkEnd >= 0) {
          this.pushPiece(rev, cps, from, end, unkEnd);
          unkEnd = -1;
        }
        rev.push(id, s, end);
      }
      end = s;
    }
    if (unkEnd >= 0) this.pushPiece(rev, cps, from, 0, unkEnd);
    // rev holds triples from the last token to the first.
    if (this.triples.length < rev.length) this.triples = new Int32Array(rev.length * 2);
    const outArr = this.triples;
    for (let k = 0, j = rev.length - 3; j >= 0; j -= 3, k += 3) {
      outArr[k] = rev[j]!;
      outArr[k + 1] = rev[j + 1]!;
      outArr[k + 2] = rev[j + 2]!;
    }
    return rev.length;
  }

  /** A fused unk span [s, e): its own id if the text is a piece, else its bytes (byte fallback), else unk. */
  private pushPiece(rev: number[], cps: Int32Array, from: number, s: number, e: number): void {
    const text = String.fromCodePoint(...cps.subarray(from + s, from + e));
    const id = this.tokenToId.get(text);
    if (id !== undefined) {
      rev.push(id, s, e);
      return;
    }
    if (this.byteFallback) {
      const bytes = new TextEncoder().encode(text);
      const ids: number[] = [];
      for (const b of bytes) {
        const bid = this.byteIds[b]!;
        if (bid < 0) break;
        ids.push(bid);
      }
      if (ids.length === bytes.length) {
        // Pushed in reverse, as rev is read backwards.
        for (let k = ids.length - 1; k >= 0; k--) rev.push(ids[k]!, s, e);
        return;
      }
    }
    rev.push(this.unkId!, s, e);
  }
}

/**
 * The trie's edges (parent node, code point) -> child in an open-addressed table of typed arrays: the Viterbi loop
 * looks one up per character of an uncached word, and a Map keyed by node * 0x110000 + cp (beyond small integers)
 * hashed boxed doubles there.
 */
class EdgeTable {
  private readonly mask: number;
  /** Parent node + 1 per slot (0: empty). */
  private readonly parents: Int32Array;
  private readonly cps: Int32Array;
  private readonly children: Int32Array;

  constructor(size: number) {
    let cap = 16;
    while (cap < size * 2) cap *= 2;
    this.mask = cap - 1;
    this.parents = new Int32Array(cap);
    this.cps = new Int32Array(cap);
    this.children = new Int32Array(cap);
  }

  private slot(node: number, cp: number): number {
    const h = Math.imul(node, 0x9e3779b1) ^ Math.imul(cp, 0x85ebca77);
    return (h ^ (h >>> 15)) & this.mask;
  }

  /** The child of `node` by `cp`, or -1. */
  get(node: number, cp: number): number {
    for (let i = this.slot(node, cp); ; i = (i + 1) & this.mask) {
      const p = this.parents[i]!;
      if (p === 0) return -1;
      if (p === node + 1 && this.cps[i] === cp) return this.children[i]!;
    }
  }

  set(node: number, cp: number, child: number): void {
    let i = this.slot(node, cp);
    while (this.parents[i] !== 0) i = (i + 1) & this.mask;
    this.parents[i] = node + 1;
    this.cps[i] = cp;
    this.children[i] = child;
  }
}

/**
 * The f64 that HF (serde_json without float_roundtrip) reads for a number JavaScript read as `x`: it parses the
 * digits as an integer, converts that to f64 and divides by (or multiplies with) a power of ten, so a 17-digit
 * score can land one ulp away from the correctly rounded value, and Viterbi's ties then break differently.
 * The digits are recovered as the shortest round-trip form, which is what Python and Rust (ryu) write.
 */
export function serdeJsonF64(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const s = Math.abs(x).toExponential(); // shortest round-trip digits: d.ddddde[+-]n
  const e = s.indexOf('e');
  const mantissa = s.slice(0, e).replace('.', '');
  const exponent = Number(s.slice(e + 1)) - (mantissa.length - 1);
  const significand = BigInt(mantissa);
  if (significand <= 2n ** 53n && Math.abs(exponent) <= 22) return x; // exact operands: correctly rounded anyway
  let f = Number(significand);
  let exp = exponent;
  for (;;) {
    if (Math.abs(exp) <= 308) {
      const pow = Number(`1e${Math.abs(exp)}`);
      f = exp >= 0 ? f * pow : f / pow;
      break;
    }
    if (f === 0 || exp >= 0) break;
    f /= 1e308;
    exp += 308;
  }
  return x < 0 ? -f : f;
}
