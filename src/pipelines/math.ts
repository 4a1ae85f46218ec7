// Small numeric helpers of the pipelines: softmax and sigmoid in float64, top-k and vector norms.
import { argmax } from '../tensor/math.js';

/** Softmax of `logits[offset .. offset+n)` computed in float64 (max-shifted, so large logits do not overflow). */
export function softmax(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): Float64Array {
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(logits[offset + i]! - max);
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Indices of the k largest values, largest first; ties keep the lower index first. */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const n = values.length;
  k = Math.max(0, Math.min(k, n));
  if (k === 0) return [];
  if (k === 1) return [argmax(values)];
  // A bounded insertion list: O(n k), fine for k up to a few hundred over a 30k vocabulary.
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (best.length === k && !(v > values[best[k - 1]!]!)) continue;
    let j = best.length === k ? k - 1 : best.length;
    while (j > 0 && v > values[best[j - 1]!]!) j--;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Divides a vector by its L2 norm in place (a zero vector stays zero). */
export function normalizeL2(v: number[]): number[] {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
