// What the embedding evaluators need from a model: encode() as SentenceTransformer has it.

export interface TextEncoder {
  encode(texts: readonly string[], options?: { batchSize?: number; promptName?: string }): Float32Array[];
  /** Prompts by name (config_sentence_transformers.json), for the query / document prompts of retrieval. */
  readonly prompts?: Readonly<Record<string, string>>;
}

/** Queries as sentence-transformers' encode_query embeds them: the "query" prompt when the model has one. */
export function encodeQueries(model: TextEncoder, texts: readonly string[], batchSize?: number): Float32Array[] {
  const promptName = model.prompts && 'query' in model.prompts ? 'query' : undefined;
  return model.encode(texts, { batchSize, promptName });
}

/** Documents as encode_document embeds them: the first of the "document", "passage", "corpus" prompts it has. */
export function encodeDocuments(model: TextEncoder, texts: readonly string[], batchSize?: number): Float32Array[] {
  const promptName = ['document', 'passage', 'corpus'].find((p) => model.prompts && p in model.prompts);
  return model.encode(texts, { batchSize, promptName });
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
