// WordCache against a Map over the same keys: hits return what was stored, across the start-over at the entry bound
// and at the arena bound (long keys), for keys that share prefixes and hashes' low bits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WordCache } from '../../src/tokenizer/word-cache.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function lookup(cache: WordCache, cps: Int32Array, from: number, to: number): number[] | null {
  const slot = cache.find(cps, from, to);
  return slot < 0 ? null : [...cache.values.subarray(cache.valueStart(slot), cache.valueEnd(slot))];
}

test('WordCache: a stored value comes back for the same code points, never for another key', () => {
  // A miss after a start-over is allowed (the Map keeps everything); a hit must be the value stored for that key.
  const cache = new WordCache();
  const next = rng(7);
  const reference = new Map<string, number[]>();
  const buf = new Int32Array(4096);
  let hits = 0;
  for (let i = 0; i < 200_000; i++) {
    // Short words over a small alphabet (many shared prefixes, many repeats), now and then a long or astral one.
    const n = next() < 0.001 ? 1000 + Math.floor(next() * 2000) : 1 + Math.floor(next() * 6);
    const from = Math.floor(next() * 8);
    for (let k = 0; k < n; k++)
      buf[from + k] = next() < 0.01 ? 0x1f600 + Math.floor(next() * 8) : 97 + Math.floor(next() * 12);
    const key = String.fromCodePoint(...buf.subarray(from, from + n));
    const got = lookup(cache, buf, from, from + n);
    if (got === null) {
      const value = Int32Array.from({ length: 3 * (1 + (n % 4)) }, () => Math.floor(next() * 1e6));
      const slot = cache.insert(buf, from, from + n, value, value.length);
      assert.deepEqual([...cache.values.subarray(cache.valueStart(slot), cache.valueEnd(slot))], [...value]);
      reference.set(key, [...value]);
    } else {
      assert.deepEqual(got, reference.get(key), `key of ${n} code points`);
      hits++;
    }
  }
  assert.ok(hits > 50_000, `${hits} hits`);
  assert.ok(reference.size > 1 << 16, `${reference.size} distinct keys: the start-over was exercised`);
});

test('WordCache: the cache starts over at 65,536 entries and keeps working', () => {
  const cache = new WordCache();
  const buf = new Int32Array(3);
  const put = (i: number) => {
    buf[0] = i & 0xff;
    buf[1] = (i >> 8) & 0xff;
    buf[2] = i >> 16;
    assert.equal(cache.find(buf, 0, 3), -1);
    cache.insert(buf, 0, 3, Int32Array.of(i, 0, 3), 3);
  };
  for (let i = 0; i < 1 << 16; i++) put(i);
  buf[0] = 5;
  buf[1] = 0;
  buf[2] = 0;
  assert.deepEqual(lookup(cache, buf, 0, 3), [5, 0, 3]);
  put(1 << 16); // the 65,537th: everything before is dropped
  buf[0] = 5;
  buf[1] = 0;
  buf[2] = 0;
  assert.equal(cache.find(buf, 0, 3), -1);
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = 1;
  assert.deepEqual(lookup(cache, buf, 0, 3), [1 << 16, 0, 3]);
});
