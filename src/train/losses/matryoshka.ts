// MatryoshkaLoss: an embedding loss applied to the first d dimensions for each d, weighted and summed, so that
// truncated embeddings stay useful (sentence-transformers' MatryoshkaLoss with n_dims_per_step -1).
import type { EmbeddingColumn, EmbeddingLoss, EmbeddingLossResult } from './types.js';

export function matryoshkaLoss(
  inner: EmbeddingLoss,
  columns: readonly EmbeddingColumn[],
  dims: readonly number[],
  weights: readonly number[] = dims.map(() => 1),
): EmbeddingLossResult {
  if (dims.length === 0) throw new RangeError('MatryoshkaLoss: give at least one dimension');
  if (weights.length !== dims.length)
    throw new RangeError(`MatryoshkaLoss: ${weights.length} weights for ${dims.length} dimensions`);
  const first = columns[0];
  if (!first) throw new RangeError('MatryoshkaLoss: no columns');
  const { rows, dim } = first;
  const grads = columns.map(() => new Float32Array(rows * dim));
  let loss = 0;
  dims.forEach((d, n) => {
    if (!Number.isInteger(d) || d < 1 || d > dim)
      throw new RangeError(`MatryoshkaLoss: dimension ${d} must be an integer in [1, ${dim}]`);
    const w = weights[n]!;
    const shrunk = columns.map((c) => {
      const data = new Float32Array(rows * d);
      for (let r = 0; r < rows; r++) data.set(c.data.subarray(r * dim, r * dim + d), r * d);
      return { data, rows, dim: d };
    });
    const result = inner(shrunk);
    loss += w * result.loss;
    result.grads.forEach((g, c) => {
      const out = grads[c]!;
      for (let r = 0; r < rows; r++) for (let k = 0; k < d; k++) out[r * dim + k]! += w * g[r * d + k]!;
    });
  });
  return { loss, grads };
}
