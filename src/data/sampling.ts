// Seeded subsets: shuffle then take N, so `--train-samples 1000 --seed 42` always picks the same reviews.
import { Rng } from './rng.js';

/**
 * Returns `n` items chosen uniformly without replacement, in shuffled order, from a seeded shuffle of all items.
 * The input is not modified. n >= items.length returns a seeded shuffle of everything.
 */
export function sampleSubset<T>(items: readonly T[], n: number, seed: number): T[] {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`sample size must be a positive integer, got ${n}`);
  const copy = items.slice();
  new Rng(seed ^ 0x5eed).shuffle(copy);
  return copy.slice(0, Math.min(n, copy.length));
}
