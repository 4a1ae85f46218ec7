// Shared shapes of the embedding losses: columns of row-major embeddings in, loss and d(loss)/d(column) out.

/** One column of a batch (anchors, positives, negatives, ...): `rows` embeddings of `dim` values, row-major. */
export interface EmbeddingColumn {
  data: Float32Array;
  rows: number;
  dim: number;
}

/** A loss value and its gradient with respect to each input column (same layout as the columns). */
export interface EmbeddingLossResult {
  loss: number;
  grads: Float32Array[];
}

/** A loss over embedding columns, as the Matryoshka wrapper and the GradCache driver call it. */
export type EmbeddingLoss = (columns: readonly EmbeddingColumn[]) => EmbeddingLossResult;

export type LossSimilarity = 'cosine' | 'dot';

export function checkColumns(columns: readonly EmbeddingColumn[], what: string, atLeast: number): void {
  if (columns.length < atLeast)
    throw new RangeError(`${what}: needs at least ${atLeast} columns, got ${columns.length}`);
  const { rows, dim } = columns[0]!;
  columns.forEach((c, i) => {
    if (c.data.length !== c.rows * c.dim)
      throw new RangeError(`${what}: column ${i} has ${c.data.length} values, expected rows*dim = ${c.rows * c.dim}`);
    if (c.rows !== rows || c.dim !== dim)
      throw new RangeError(`${what}: column ${i} is [${c.rows}, ${c.dim}], column 0 is [${rows}, ${dim}]`);
  });
  if (rows < 1) throw new RangeError(`${what}: empty batch`);
}
