// Open-addressing hash table from UTF-16 code-unit slices to ids: vocabulary lookups without building strings.

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/** FNV-1a over code units; callers hashing incrementally use the same two constants. */
export function hashUnits(units: Uint16Array, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ units[i]!, FNV_PRIME);
  return h;
}

export class PieceTable {
  /** Longest key, in code units: no lookup needs to try longer slices. */
  readonly maxLength: number;
  readonly size: number;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly keyStart: Int32Array;
  private readonly keyLength: Int32Array;
  private readonly keyHash: Int32Array;
  private readonly values: Int32Array;
  private readonly pool: Uint16Array;

  constructor(entries: ReadonlyArray<readonly [string, number]>) {
    const n = entries.length;
    let cap = 16;
    while (cap < n * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.keyStart = new Int32Array(n);
    this.keyLength = new Int32Array(n);
    this.keyHash = new Int32Array(n);
    this.values = new Int32Array(n);
    let total = 0;
    for (const [k] of entries) total += k.length;
    this.pool = new Uint16Array(total);
    let at = 0,
      maxLength = 0,
      size = 0;
    for (const [key, value] of entries) {
      const start = at;
      for (let i = 0; i < key.length; i++) this.pool[at++] = key.charCodeAt(i);
      const h = hashUnits(this.pool, start, at);
      if (this.find(this.pool, start, at, h) >= 0) continue; // first occurrence wins, callers pass unique keys
      const e = size++;
      this.keyStart[e] = start;
      this.keyLength[e] = key.length;
      this.keyHash[e] = h;
      this.values[e] = value;
      let slot = (h ^ (h >>> 16)) & this.mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slots[slot] = e;
      if (key.length > maxLength) maxLength = key.length;
    }
    this.maxLength = maxLength;
    this.size = size;
  }

  /** Value of units[from, to) whose FNV-1a hash is h, or -1. */
  find(units: Uint16Array, from: number, to: number, h: number): number {
    const len = to - from;
    const slots = this.slots,
      mask = this.mask;
    let slot = (h ^ (h >>> 16)) & mask;
    for (;;) {
      const e = slots[slot]!;
      if (e === -1) return -1;
      if (this.keyHash[e] === h && this.keyLength[e] === len) {
        const pool = this.pool;
        let p = this.keyStart[e]!,
          i = from;
        while (i < to && pool[p] === units[i]) {
          p++;
          i++;
        }
        if (i === to) return this.values[e]!;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Lookup of a JavaScript string (convenience path, allocates). */
  get(key: string): number {
    const units = new Uint16Array(key.length);
    for (let i = 0; i < key.length; i++) units[i] = key.charCodeAt(i);
    return this.find(units, 0, units.length, hashUnits(units, 0, units.length));
  }
}
