// L2 normalisation of embedding rows (sentence-transformers' Normalize module, torch F.normalize with eps 1e-12),
// forward and backward side by side.

const EPS = 1e-12;

/** y[r] = x[r] / max(||x[r]||, 1e-12) for each of `rows` rows of `dim` values; returns y and the row norms. */
export function l2NormalizeForward(
  x: Float32Array,
  rows: number,
  dim: number,
): { y: Float32Array; norms: Float32Array } {
  const y = new Float32Array(rows * dim);
  const norms = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[r * dim + i]! * x[r * dim + i]!;
    const n = Math.sqrt(s);
    norms[r] = n;
    const inv = 1 / Math.max(n, EPS);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i]! * inv;
  }
  return { y, norms };
}

/**
 * Backward of l2NormalizeForward: reads dy, the output y and the norms; returns a new dx = (dy - y (y.dy)) / n
 * (below the eps clamp the scale is constant, so dx = dy / eps).
 */
export function l2NormalizeBackward(
  dy: Float32Array,
  y: Float32Array,
  norms: Float32Array,
  rows: number,
  dim: number,
): Float32Array {
  const dx = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const n = norms[r]!;
    const o = r * dim;
    if (n <= EPS) {
      for (let i = 0; i < dim; i++) dx[o + i] = dy[o + i]! / EPS;
      continue;
    }
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += y[o + i]! * dy[o + i]!;
    for (let i = 0; i < dim; i++) dx[o + i] = (dy[o + i]! - y[o + i]! * dot) / n;
  }
  return dx;
}
