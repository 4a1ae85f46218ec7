// BertForPreTraining for pre-training: the MLM + NSP forward on a padded batch with accuracy counts, and its Trainer adapter.
//
// The MLM output layer is [hidden x vocab] per token: for BERT-mini at 128 tokens it is most of a training step's
// FLOPs. HF's BertForPreTraining computes it for every token and ignores all but ~15% in the loss; the model's
// `mlmLabeledOnly` option gathers the encoder output rows at the masked positions first and runs the head on those
// rows only, with the same loss and gradients (tested) at ~15% of the cost.
import { BertForPreTraining, type ModelOptions } from '../model/bert.js';
import { crossEntropyLoss } from '../model/heads.js';
import { newlyInitialized } from '../model/checkpoint.js';
import { argmax } from '../tensor/math.js';
import type { PretrainingBatch } from '../data/batching.js';
import type { TrainerModel } from './trainer.js';

/** Losses and counts of one pre-training forward. */
export interface PretrainingStepOutput {
  /** mlmLoss + nspLoss. */
  loss: number;
  mlmLoss: number;
  nspLoss: number;
  /** Masked positions predicted correctly (argmax) and how many there were. */
  mlmCorrect: number;
  mlmCount: number;
  nspCorrect: number;
  nspCount: number;
}

export interface PretrainingForwardOptions {
  /** Dropout on (default true). */
  train?: boolean;
  /** Index of this training forward: picks the dropout masks with the model's seed (default: the model's counter). */
  forwardIndex?: number;
  /** Index of the batch's first example in the whole (data-parallel) micro-batch: dropout masks per example. */
  firstExample?: number;
  /** false: run the MLM head on every token, as HF does (for comparison and benchmarks). Default true. */
  gather?: boolean;
}

/** Rows of `logits` [rows, cols] whose argmax equals the label at the row given by rowOf(k), for labels[k]. */
export function argmaxCorrect(
  logits: Float32Array,
  cols: number,
  labels: Int32Array,
  rowOf: (k: number) => number,
): number {
  let correct = 0;
  labels.forEach((label, k) => {
    if (argmax(logits, rowOf(k) * cols, cols) === label) correct++;
  });
  return correct;
}

/** Labels [B * T]: the original token at masked positions, -100 elsewhere. */
export function maskedLabels(batch: PretrainingBatch): Int32Array {
  const labels = new Int32Array(batch.B * batch.T).fill(-100);
  batch.maskedIndex.forEach((i, m) => (labels[i] = batch.maskedLabels[m] ?? -100));
  return labels;
}

/**
 * MLM + NSP forward of `model` on a batch through `forward(..., { mlmLabeledOnly })`; a following backward()
 * accumulates the gradients of mlmLoss + nspLoss.
 */
export function pretrainingForward(
  model: BertForPreTraining,
  batch: PretrainingBatch,
  options: PretrainingForwardOptions = {},
): PretrainingStepOutput {
  const gather = options.gather ?? true;
  const train = options.train ?? true;
  const { B, T } = batch;
  const N = B * T;
  const M = batch.maskedIndex.length;
  if (M === 0)
    throw new Error('pretrainingForward: the batch has no masked positions (unmasked data needs dynamic masking)');
  const labels = maskedLabels(batch);
  const out = model.forward(
    {
      inputIds: { data: batch.inputIds, shape: [B, T] },
      tokenTypeIds: { data: batch.tokenTypeIds, shape: [B, T] },
      attentionMask: { data: batch.attentionMask, shape: [B, T] },
      labels: { data: labels, shape: [B, T] },
      nextSentenceLabel: { data: batch.nextSentenceLabels, shape: [B] },
    },
    {
      train,
      mlmLabeledOnly: gather,
      firstExample: options.firstExample,
      ...(train && options.forwardIndex !== undefined ? { seed: options.forwardIndex } : {}),
    },
  );
  const V = model.config.vocabSize;
  // Gathered logits are the labelled rows in row-major order; full logits are indexed by flat position.
  const rowLabels = gather ? labels.filter((l) => l !== -100) : batch.maskedLabels;
  const mlmCorrect = argmaxCorrect(
    out.predictionLogits.data,
    V,
    rowLabels,
    gather ? (k) => k : (k) => batch.maskedIndex[k] ?? 0,
  );
  const nspLogits = out.seqRelationshipLogits.data;
  const nspLoss = crossEntropyLoss(
    model.kernels,
    nspLogits,
    batch.nextSentenceLabels,
    B,
    2,
    -100,
    new Float32Array(B * 2),
  );
  const nspCorrect = argmaxCorrect(nspLogits, 2, batch.nextSentenceLabels, (k) => k);
  const loss = out.loss;
  if (loss === undefined)
    throw new Error('pretrainingForward: BertForPreTraining returned no loss for a labelled batch');
  return { loss, mlmLoss: loss - nspLoss, nspLoss, mlmCorrect, mlmCount: M, nspCorrect, nspCount: B };
}

/** Wraps a BertForPreTraining for the Trainer (`gather`: the MLM head at the masked positions only, default true). */
export function pretrainingTrainerModel(
  model: BertForPreTraining,
  options: { gather?: boolean } = {},
): TrainerModel<PretrainingBatch> {
  const params = model.parameters();
  let last: PretrainingStepOutput | null = null;
  return {
    forwardLoss: (batch, train, forwardIndex, firstExample) => {
      last = pretrainingForward(model, batch, { train, forwardIndex, firstExample, gather: options.gather });
      return last.loss;
    },
    // MLM is a mean over masked tokens, NSP over sequences: data-parallel ranks weight each term by its own count.
    lossTerms: () => {
      if (!last) throw new Error('pretrainingTrainerModel: lossTerms before any forward');
      return [
        { loss: last.mlmLoss, count: last.mlmCount },
        { loss: last.nspLoss, count: last.nspCount },
      ];
    },
    scaleLossTerms: ([mlm = 1, nsp = 1]) => model.scaleLossGradients(mlm, nsp),
    backward: (ready) => (ready ? model.backwardReporting(ready) : model.backward()),
    zeroGrad: () => model.zeroGrad(),
    parameters: () => params,
    seed: model.seed,
  };
}

/**
 * A BertForPreTraining from a model folder through the model's one loader (fromPretrained: folder snapshot,
 * config-vs-weights check), with the names of the weights the folder lacked (initialised afresh).
 */
export async function loadPretrainingModel(
  dir: string,
  options: ModelOptions = {},
): Promise<{ model: BertForPreTraining; newlyInitialized: string[] }> {
  const model = await BertForPreTraining.fromPretrained(dir, options);
  const report = model.loadReport ?? { missing: [], unexpected: [], mismatched: [] };
  return { model, newlyInitialized: newlyInitialized(report, BertForPreTraining) };
}
