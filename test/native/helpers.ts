// Shared by the native-vs-js kernel tests: a seeded stream of random inputs and a relative-tolerance comparison.
import assert from 'node:assert/strict';

/** A linear congruential stream from `seed`: rand() in [0, 1) and arrays uniform in [lo, hi). */
export function lcgRandom(seed: number): {
  rand: () => number;
  randomArray: (n: number, lo?: number, hi?: number) => Float32Array;
} {
  let state = seed;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const randomArray = (n: number, lo = -1, hi = 1): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
    return a;
  };
  return { rand, randomArray };
}

/**
 * |a - b| <= tol * (1 + |b|) everywhere, reporting the worst element. A NaN fails, except NaN in both where
 * `nanPadding` says the kernel must leave padding untouched (NaN-filled outputs).
 */
export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  tol: number,
  what: string,
  nanPadding = false,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const got = actual[i]!,
      want = expected[i]!;
    if (nanPadding && Number.isNaN(want) && Number.isNaN(got)) continue;
    const err = Math.abs(got - want) / (1 + Math.abs(want));
    if (!(err <= worstErr)) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0 && !(worstErr <= tol))
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rel err ${worstErr} > ${tol})`,
    );
}
