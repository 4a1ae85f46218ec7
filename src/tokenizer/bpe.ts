// HF's BPE model on one pre-token: characters to ids (unk / fuse_unk as HF), then the lowest-ranked merge first
// (leftmost among equals, HF's Word::merge_all), with a word cache; tokens carry original offsets.
import type { CodePoints } from './normalizers.js';
import type { TokenBuffer } from './wordpiece.js';

export interface BpeOptions {
  /** token -> id. */
  vocab: ReadonlyMap<string, number>;
  /** Merges in rank order. */
  merges: ReadonlyArray<readonly [string, string]>;
  unkId: number | null;
  fuseUnk: boolean;
  /** A pre-token that is itself a vocabulary entry is one token, merges or not (HF ignore_merges). */
  ignoreMerges: boolean;
}

// Pairs of ids as one number key; ids stay below 2^26 so the key is an exact double.
const PAIR_SHIFT = 0x4000000;
const CACHE_LIMIT = 1 << 16;

export class Bpe {
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly bmpIds: Int32Array;
  private readonly otherIds = new Map<number, number>();
  private readonly ranks = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly unkId: number | null;
  private readonly fuseUnk: boolean;
  private readonly ignoreMerges: boolean;
  /** Word (as a string of its characters) -> [id, characters, id, characters, ...]. */
  private cache = new Map<string, Int32Array>();
  // Scratch of one word.
  private ids = new Int32Array(64);
  private lens = new Int32Array(64);
  private next = new Int32Array(64);
  private prev = new Int32Array(64);
  private heap: number[] = [];

  constructor(o: BpeOptions, where: string) {
    this.vocab = o.vocab;
    this.unkId = o.unkId;
    this.fuseUnk = o.fuseUnk;
    this.ignoreMerges = o.ignoreMerges;
    this.bmpIds = new Int32Array(0x10000).fill(-1);
    for (const [token, id] of o.vocab) {
      const cp = token.codePointAt(0);
      if (cp === undefined || token.length !== (cp > 0xffff ? 2 : 1)) continue;
      if (cp < 0x10000) this.bmpIds[cp] = id;
      else this.otherIds.set(cp, id);
    }
    this.mergedId = new Int32Array(o.merges.length);
    o.merges.forEach(([a, b], rank) => {
      const ia = o.vocab.get(a),
        ib = o.vocab.get(b),
        merged = o.vocab.get(a + b);
      if (ia === undefined || ib === undefined || merged === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new Error(
          `${where}: merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) needs ${JSON.stringify(missing)}, which is not in the vocabulary`,
        );
      }
      const key = ia * PAIR_SHIFT + ib;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
      this.mergedId[rank] = merged;
    });
  }

  private charId(cp: number): number {
    if (cp < 0x10000) return this.bmpIds[cp]!;
    return this.otherIds.get(cp) ?? -1;
  }

  /** Tokens of buf[from, to) appended to `out` with their original offsets. */
  tokenize(buf: CodePoints, from: number, to: number, out: TokenBuffer): void {
    const n = to - from;
    if (n === 0) return;
    const cps = buf.cps;
    const key = buf.toString(from, to);
    let toks = this.cache.get(key);
    if (toks === undefined) {
      toks = this.merge(cps, from, to, key);
      if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
      this.cache.set(key, toks);
    }
    let p = from;
    out.reserve(toks.length >> 1);
    for (let k = 0; k < toks.length; k += 2) {
      const len = toks[k + 1]!;
      out.push(toks[k]!, buf.starts[p]!, buf.ends[p + len - 1]!);
      p += len;
    }
  }

  private merge(cps: Int32Array, from: number, to: number, key: string): Int32Array {
    if (this.ignoreMerges) {
      const id = this.vocab.get(key);
      if (id !== undefined) return Int32Array.of(id, to - from);
    }
    const n = to - from;
    if (this.ids.length < n) {
      let cap = this.ids.length;
      while (cap < n) cap *= 2;
      this.ids = new Int32Array(cap);
      this.lens = new Int32Array(cap);
      this.next = new Int32Array(cap);
      this.prev = new Int32Array(cap);
    }
    const ids = this.ids,
      lens = this.lens;
    // Initial symbols (HF merge_word): unknown characters become unk (a run of them one unk with fuse_unk), or
    // vanish when the model has no unk token (then, as in HF, later tokens' offsets shift left by what vanished).
    let m = 0;
    let unkLen = 0;
    for (let i = from; i < to; i++) {
      const id = this.charId(cps[i]!);
      if (id >= 0) {
        if (unkLen > 0) {
          ids[m] = this.unkId!;
          lens[m++] = unkLen;
          unkLen = 0;
        }
        ids[m] = id;
        lens[m++] = 1;
        continue;
      }
      if (this.unkId === null) continue;
      if (unkLen > 0 && !this.fuseUnk) {
        ids[m] = this.unkId;
        lens[m++] = unkLen;
        unkLen = 0;
      }
      unkLen++;
    }
    if (unkLen > 0) {
      ids[m] = this.unkId!;
      lens[m++] = unkLen;
    }
    this.mergeSymbols(m);
    const res: number[] = [];
    for (let i = 0; i !== -1 && i < m; i = this.next[i]!) res.push(ids[i]!, lens[i]!);
    return Int32Array.from(res);
  }

  /** HF Word::merge_all without dropout over ids/lens[0, m): the lowest rank first, leftmost among equal ranks. */
  private mergeSymbols(m: number): void {
    const ids = this.ids,
      lens = this.lens,
      next = this.next,
      prev = this.prev;
    for (let i = 0; i < m; i++) {
      next[i] = i + 1 < m ? i + 1 : -1;
      prev[i] = i - 1;
    }
    if (m < 2) return;
    const heap = this.heap;
    heap.length = 0;
    const ranks = this.ranks;
    // Entries are rank * 2^24 + position: ordered by rank, then position.
    for (let i = 0; i + 1 < m; i++) {
      const r = ranks.get(ids[i]! * PAIR_SHIFT + ids[i + 1]!);
      if (r !== undefined) heapPush(heap, r * 0x1000000 + i);
    }
    while (heap.length > 0) {
      const top = heapPop(heap);
      const rank = Math.floor(top / 0x1000000),
        pos = top - rank * 0x1000000;
      if (lens[pos] === 0) continue;
      const right = next[pos]!;
      if (right === -1) continue;
      if (ranks.get(ids[pos]! * PAIR_SHIFT + ids[right]!) !== rank) continue;
      ids[pos] = this.mergedId[rank]!;
      lens[pos]! += lens[right]!;
      lens[right] = 0;
      const after = next[right]!;
      next[pos] = after;
      if (after !== -1) prev[after] = pos;
      const before = prev[pos]!;
      if (before !== -1) {
        const r = ranks.get(ids[before]! * PAIR_SHIFT + ids[pos]!);
        if (r !== undefined) heapPush(heap, r * 0x1000000 + before);
      }
      if (after !== -1) {
        const r = ranks.get(ids[pos]! * PAIR_SHIFT + ids[after]!);
        if (r !== undefined) heapPush(heap, r * 0x1000000 + pos);
      }
    }
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  const n = h.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1]! < h[c]!) c++;
    if (h[c]! >= last) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = last;
  return top;
}
