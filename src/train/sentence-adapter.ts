// Connects SentenceTransformer and CrossEncoder to the one Trainer: batches of texts (embedding losses, GradCache
// included) or of encoded (query, passage) pairs with binary cross-entropy.
import type { SentenceTransformer } from '../model/sentence/sentence-transformer.js';
import type { CrossEncoder } from '../model/sentence/cross-encoder.js';
import type { IndexedDataset } from '../data/samplers.js';
import { encodedDataset, type BatchInputs } from '../data/batching.js';
import {
  cachedEmbeddingLossForward,
  coSentLoss,
  embeddingLossForward,
  matryoshkaLoss,
  multipleNegativesRankingLoss,
  type EmbeddingLoss,
  type PendingLoss,
} from './losses/index.js';
import { bertTrainerModel } from './bert-adapter.js';
import type { TrainerModel, TrainerParameter } from './trainer.js';

/** A batch of an embedding loss: row-aligned text columns and, for CoSENT, a score per row. */
export interface EmbeddingBatch {
  columns: string[][];
  scores: number[] | null;
}

export type EmbeddingLossName = 'mnrl' | 'cached-mnrl' | 'cosent';
export const EMBEDDING_LOSSES: readonly EmbeddingLossName[] = ['mnrl', 'cached-mnrl', 'cosent'];

export interface EmbeddingLossSpec {
  name: EmbeddingLossName;
  /** Similarity scale (1 / temperature) of MNRL and CoSENT; default 20. */
  scale?: number;
  /** Wrap the loss in MatryoshkaLoss over these dimensions (each <= the embedding dimension). */
  matryoshkaDims?: number[];
  /** Weights of the Matryoshka dimensions (default 1 each). */
  matryoshkaWeights?: number[];
  /** Texts per forward of cached-mnrl (default 32). */
  miniBatchSize?: number;
}

/** The loss over the embedding columns of one batch (the Matryoshka wrapper applied when asked). */
function columnLoss(spec: EmbeddingLossSpec, batch: EmbeddingBatch): EmbeddingLoss {
  const scale = spec.scale ?? 20;
  let inner: EmbeddingLoss;
  if (spec.name === 'cosent') {
    const scores = batch.scores;
    if (!scores) throw new Error('CoSENTLoss needs a score per pair (a score or label column)');
    inner = (cols) => coSentLoss(cols, scores, { scale });
  } else inner = (cols) => multipleNegativesRankingLoss(cols, { scale });
  const dims = spec.matryoshkaDims;
  return dims ? (cols) => matryoshkaLoss(inner, cols, dims, spec.matryoshkaWeights) : inner;
}

/** Wraps a SentenceTransformer and its loss for the Trainer. */
export function sentenceTrainerModel(
  model: SentenceTransformer,
  spec: EmbeddingLossSpec,
): TrainerModel<EmbeddingBatch> {
  const params: TrainerParameter[] = model
    .parameters()
    .map((p) => ({ name: p.name, shape: p.shape, data: p.data, grad: p.grad }));
  let pending: PendingLoss | null = null;
  return {
    forwardLoss(batch, train, forwardIndex) {
      const loss = columnLoss(spec, batch);
      // The trainer's forward index picks this step's dropout masks, so a resumed run replays them.
      const options = { train, seed: train ? forwardIndex : undefined };
      pending =
        spec.name === 'cached-mnrl'
          ? cachedEmbeddingLossForward(model, batch.columns, loss, { ...options, miniBatchSize: spec.miniBatchSize })
          : embeddingLossForward(model, batch.columns, loss, options);
      return pending.loss;
    },
    backward() {
      if (!pending) throw new Error('SentenceTransformer: backward without a forward, or backward already ran');
      const run = pending;
      pending = null;
      run.backward();
    },
    zeroGrad() {
      model.bert.zeroGrad();
      model.moduleStore.grad.fill(0);
    },
    parameters: () => params,
    seed: model.bert.seed,
  };
}

/** Embedding batches over row-aligned columns; a row's length is the characters of its texts (for bucketing). */
export function embeddingDataset(
  columns: readonly string[][],
  scores: readonly number[] | null,
): IndexedDataset<EmbeddingBatch> {
  const size = columns[0]?.length ?? 0;
  return {
    size,
    // Token counts are only reported; the texts are tokenized in the model's forward.
    lengthOf: (i) => columns.reduce((n, c) => n + Math.ceil((c[i]?.length ?? 0) / 4), 0),
    collate: (idx) => ({
      columns: columns.map((c) => idx.map((i) => c[i]!)),
      scores: scores ? idx.map((i) => scores[i]!) : null,
    }),
  };
}

/**
 * Wraps a CrossEncoder for the Trainer with sentence-transformers' BinaryCrossEntropyLoss (BCE with logits, mean over
 * the pairs): the classifier's multi-label loss on one logit per pair.
 */
export function crossEncoderTrainerModel(model: CrossEncoder): TrainerModel<BatchInputs> {
  if (model.numLabels !== 1)
    throw new Error(`binary cross-entropy trains a cross-encoder of one label; this one has ${model.numLabels}`);
  return bertTrainerModel(model.model);
}

/**
 * Runs `fn` with the classifier's loss set to BCE with logits (multi_label_classification on one label), then puts
 * back the folder's problem_type so that the saved config.json says what the checkpoint said.
 */
export async function withBinaryCrossEntropy<T>(model: CrossEncoder, fn: () => Promise<T>): Promise<T> {
  const before = model.model.config.problemType;
  model.model.config.problemType = 'multi_label_classification';
  try {
    return await fn();
  } finally {
    model.model.config.problemType = before;
  }
}

/** Encoded (query, passage) pairs with float labels [B, 1], truncated as the cross-encoder truncates. */
export function rerankerDataset(
  model: CrossEncoder,
  queries: readonly string[],
  passages: readonly string[],
  labels: readonly number[],
): IndexedDataset<BatchInputs> {
  const examples = queries.map((q, i) => {
    const e = model.tokenizer.encode(q, passages[i]!, { maxLength: model.maxLength, truncation: 'longest_first' });
    return { inputIds: e.inputIds, tokenTypeIds: e.tokenTypeIds, label: [labels[i]!] };
  });
  return encodedDataset(examples, 'sequence', model.tokenizer.padTokenId ?? 0);
}
