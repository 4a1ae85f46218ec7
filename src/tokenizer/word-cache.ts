// A bounded cache from a pre-token's code points to its tokens, held in typed arrays: the lookup hashes the code
// points where they lie, so a hit builds no key string and leaves nothing for the garbage collector.

/** Entries kept before the cache starts over (as the Map it replaces did). */
const ENTRY_LIMIT = 1 << 16;
const SLOTS = ENTRY_LIMIT * 2;
/** Code points and token ints kept before the cache starts over (a few long pre-tokens must not pin memory). */
const ARENA_LIMIT = 1 << 22;

export class WordCache {
  /** Per slot: the hash | 1 (0: empty), where the key and the value lie in the arenas, their lengths. */
  private readonly hashes = new Int32Array(SLOTS);
  private readonly keyAt = new Int32Array(SLOTS);
  private readonly keyLength = new Int32Array(SLOTS);
  private readonly valueAt = new Int32Array(SLOTS);
  private readonly valueLength = new Int32Array(SLOTS);
  private keys = new Int32Array(1 << 16);
  private keysUsed = 0;
  /** The cached values, read by callers at [valueAt(slot), valueAt(slot) + valueLength(slot)). */
  values = new Int32Array(1 << 16);
  private valuesUsed = 0;
  private entries = 0;
  /** The slot the last `find` stopped at: where `insert` puts a missing key. */
  private lastSlot = 0;
  private lastHash = 0;

  /** The slot holding cps[from, to), or -1 (then `insert` may follow for the same key). */
  find(cps: Int32Array, from: number, to: number): number {
    let h = 0x811c9dc5 ^ (to - from);
    for (let i = from; i < to; i++) h = Math.imul(h ^ cps[i]!, 0x01000193);
    h = (h ^ (h >>> 16)) | 1;
    const mask = SLOTS - 1;
    const n = to - from;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const sh = this.hashes[s]!;
      if (sh === 0) {
        this.lastSlot = s;
        this.lastHash = h;
        return -1;
      }
      if (sh === h && this.keyLength[s] === n) {
        const keys = this.keys;
        let k = this.keyAt[s]!;
        let i = from;
        while (i < to && keys[k] === cps[i]) {
          k++;
          i++;
        }
        if (i === to) return s;
      }
    }
  }

  valueStart(slot: number): number {
    return this.valueAt[slot]!;
  }

  valueEnd(slot: number): number {
    return this.valueAt[slot]! + this.valueLength[slot]!;
  }

  /** Stores value[0, length) for the key the last `find` missed; returns its slot. */
  insert(cps: Int32Array, from: number, to: number, value: Int32Array, length: number): number {
    const n = to - from;
    if (this.entries >= ENTRY_LIMIT || this.keysUsed + n > ARENA_LIMIT || this.valuesUsed + length > ARENA_LIMIT) {
      this.clear();
      this.find(cps, from, to);
    }
    this.keys = grow(this.keys, this.keysUsed + n);
    this.values = grow(this.values, this.valuesUsed + length);
    const s = this.lastSlot;
    this.hashes[s] = this.lastHash;
    this.keyAt[s] = this.keysUsed;
    this.keyLength[s] = n;
    this.keys.set(cps.subarray(from, to), this.keysUsed);
    this.keysUsed += n;
    this.valueAt[s] = this.valuesUsed;
    this.valueLength[s] = length;
    this.values.set(value.subarray(0, length), this.valuesUsed);
    this.valuesUsed += length;
    this.entries++;
    return s;
  }

  private clear(): void {
    this.hashes.fill(0);
    this.keysUsed = 0;
    this.valuesUsed = 0;
    this.entries = 0;
  }
}

function grow(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}
