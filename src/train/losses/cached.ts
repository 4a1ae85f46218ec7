// Embedding losses driven through a model: in one pass (all columns in one forward), or with GradCache (Gao et al.
// 2021, sentence-transformers' CachedMultipleNegativesRankingLoss): embed in mini-batches without keeping
// activations, take the loss gradient w.r.t. the embeddings, then re-run each mini-batch with the same dropout
// seed and back-propagate its slice — the gradients of the full batch in the memory of one mini-batch.
import type { EmbeddingPass } from '../../model/sentence/sentence-transformer.js';
import { multipleNegativesRankingLoss, type MnrlOptions } from './mnrl.js';
import type { EmbeddingColumn, EmbeddingLoss } from './types.js';

/** What the drivers need from a model (SentenceTransformer has it). */
export interface EmbeddingModel {
  forward(texts: readonly string[], options: { grad?: boolean; train?: boolean; seed?: number }): EmbeddingPass;
}

export interface DriverOptions {
  /** Dropout on (training mode); default false. */
  train?: boolean;
  /** Dropout seed of this step (a non-negative integer); each mini-batch derives its own from it. */
  seed?: number;
}

function checkTexts(columns: readonly (readonly string[])[]): number {
  const rows = columns[0]?.length ?? 0;
  if (rows === 0) throw new RangeError('embedding loss: empty batch');
  columns.forEach((c, i) => {
    if (c.length !== rows) throw new RangeError(`embedding loss: column ${i} has ${c.length} texts, column 0 ${rows}`);
  });
  return rows;
}

/** A loss computed by a forward, with the backward that adds its gradients into the model's (+=) still to run. */
export interface PendingLoss {
  loss: number;
  backward(): void;
}

/** One forward of every column's texts together and the loss; backward() back-propagates it. */
export function embeddingLossForward(
  model: EmbeddingModel,
  columns: readonly (readonly string[])[],
  loss: EmbeddingLoss,
  options: DriverOptions = {},
): PendingLoss {
  const rows = checkTexts(columns);
  const pass = model.forward(columns.flat(), { grad: true, train: options.train, seed: options.seed });
  const { dim } = pass;
  const cols: EmbeddingColumn[] = columns.map((_, c) => ({
    data: pass.embeddings.slice(c * rows * dim, (c + 1) * rows * dim),
    rows,
    dim,
  }));
  const result = loss(cols);
  return {
    loss: result.loss,
    backward: () => {
      const d = new Float32Array(pass.embeddings.length);
      result.grads.forEach((g, c) => d.set(g, c * rows * dim));
      pass.backward(d);
    },
  };
}

/** One forward of every column's texts together, the loss, one backward. Returns the loss. */
export function embeddingLossStep(
  model: EmbeddingModel,
  columns: readonly (readonly string[])[],
  loss: EmbeddingLoss,
  options: DriverOptions = {},
): number {
  const pending = embeddingLossForward(model, columns, loss, options);
  pending.backward();
  return pending.loss;
}

/**
 * GradCache: the loss of embeddingLossForward from forwards of `miniBatchSize` texts without activations kept;
 * backward() re-runs each mini-batch (same dropout) and back-propagates its slice of d(loss)/d(embeddings).
 */
export function cachedEmbeddingLossForward(
  model: EmbeddingModel,
  columns: readonly (readonly string[])[],
  loss: EmbeddingLoss,
  options: DriverOptions & { miniBatchSize?: number } = {},
): PendingLoss {
  const rows = checkTexts(columns);
  const mini = options.miniBatchSize ?? 32;
  if (!Number.isInteger(mini) || mini < 1)
    throw new RangeError(`cached loss: miniBatchSize must be a positive integer, got ${mini}`);
  const base = options.seed ?? 0;
  // The re-run of a mini-batch must draw the dropout masks of its first run.
  const seedOf = (c: number, start: number): number | undefined =>
    options.train ? base * 4096 + c * 1024 + start / mini : undefined;
  let dim = 0;
  const embedded = columns.map((texts, c) => {
    const parts: Float32Array[] = [];
    for (let start = 0; start < rows; start += mini) {
      const pass = model.forward(texts.slice(start, start + mini), {
        grad: false,
        train: options.train,
        seed: seedOf(c, start),
      });
      dim = pass.dim;
      parts.push(pass.embeddings.slice(0, pass.rows * pass.dim));
    }
    const data = new Float32Array(rows * dim);
    let offset = 0;
    for (const p of parts) {
      data.set(p, offset);
      offset += p.length;
    }
    return { data, rows, dim };
  });
  const result = loss(embedded);
  return {
    loss: result.loss,
    backward: () =>
      columns.forEach((texts, c) => {
        const g = result.grads[c]!;
        for (let start = 0; start < rows; start += mini) {
          const pass = model.forward(texts.slice(start, start + mini), {
            grad: true,
            train: options.train,
            seed: seedOf(c, start),
          });
          pass.backward(g.slice(start * dim, (start + pass.rows) * dim));
        }
      }),
  };
}

/** GradCache: the same loss and gradients as embeddingLossStep, `miniBatchSize` texts per forward. */
export function cachedEmbeddingLossStep(
  model: EmbeddingModel,
  columns: readonly (readonly string[])[],
  loss: EmbeddingLoss,
  options: DriverOptions & { miniBatchSize?: number } = {},
): number {
  const pending = cachedEmbeddingLossForward(model, columns, loss, options);
  pending.backward();
  return pending.loss;
}

/** CachedMultipleNegativesRankingLoss: MNRL through GradCache. */
export function cachedMultipleNegativesRankingLoss(
  model: EmbeddingModel,
  columns: readonly (readonly string[])[],
  options: DriverOptions & MnrlOptions & { miniBatchSize?: number } = {},
): number {
  return cachedEmbeddingLossStep(model, columns, (cols) => multipleNegativesRankingLoss(cols, options), options);
}
