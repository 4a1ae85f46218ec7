// What the embedding evaluators need from a model: encode() as SentenceTransformer has it.

export interface TextEncoder {
  encode(texts: readonly string[], options?: { batchSize?: number }): Float32Array[];
}

/** Unit-length copies, so that a dot product is the cosine similarity (sentence-transformers' cos_sim). */
export function normalizedRows(vectors: readonly Float32Array[]): Float32Array[] {
  return vectors.map((v) => {
    let s = 0;
    for (let k = 0; k < v.length; k++) s += v[k]! * v[k]!;
    const n = Math.max(Math.sqrt(s), 1e-12);
    return v.map((x) => x / n);
  });
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}
