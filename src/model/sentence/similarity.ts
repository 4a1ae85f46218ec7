// Similarity functions of sentence-transformers (util/similarity.py): cosine, dot, and the negated euclidean and
// manhattan distances, as [rows of a, rows of b] matrices.
import type { SimilarityFnName } from './folder.js';

/** Score matrix [a.length][b.length] of two lists of equally long embeddings. */
export function similarityMatrix(
  fn: SimilarityFnName,
  a: readonly Float32Array[],
  b: readonly Float32Array[],
): Float32Array[] {
  const norm = (v: Float32Array): number => Math.max(Math.sqrt(v.reduce((s, x) => s + x * x, 0)), 1e-12);
  const na = fn === 'cosine' ? a.map(norm) : null;
  const nb = fn === 'cosine' ? b.map(norm) : null;
  return a.map((u, i) =>
    Float32Array.from(b, (v, j) => {
      if (u.length !== v.length)
        throw new RangeError(`similarity: embeddings of ${u.length} and ${v.length} dimensions cannot be compared`);
      let s = 0;
      for (let k = 0; k < u.length; k++) {
        const x = u[k]!,
          y = v[k]!;
        if (fn === 'euclidean') s += (x - y) * (x - y);
        else if (fn === 'manhattan') s += Math.abs(x - y);
        else s += x * y;
      }
      if (fn === 'cosine') return s / (na![i]! * nb![j]!);
      if (fn === 'euclidean') return -Math.sqrt(s);
      if (fn === 'manhattan') return -s;
      return s;
    }),
  );
}
