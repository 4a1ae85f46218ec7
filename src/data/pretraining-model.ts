// Batching of pre-training instances and the pre-training forward over BertForPreTraining (MLM head at masked positions).
//
// The MLM output layer is [hidden x vocab] per token: for BERT-mini at 128 tokens it is most of a training step's
// FLOPs. HF's BertForPreTraining computes it for every token and ignores all but ~15% in the loss; the model's
// `mlmLabeledOnly` option gathers the encoder output rows at the masked positions first and runs the head on those
// rows only, with the same loss and gradients (tested) at ~15% of the cost.
import { BertForPreTraining, type ModelOptions } from '../model/bert.js';
import { readConfig, readWeights, loadIntoStore } from '../model/checkpoint.js';
import { crossEntropyLoss } from '../model/heads.js';
import { dropoutHash } from '../tensor/kernels.js';
import { argmax } from '../tensor/math.js';
import type { PretrainingInstance } from './pretraining.js';

/** A padded batch of instances, flat row-major [B, T]. */
export interface PretrainingBatch {
  B: number;
  T: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** Flat indices b * T + position of the tokens to predict, and their labels. */
  maskedIndex: Int32Array;
  maskedLabels: Int32Array;
  /** [B]: 0 = B follows A, 1 = random. */
  nextSentenceLabels: Int32Array;
}

/** Pads instances (masked ones) into a batch of the longest length, or of `padTo`. */
export function collatePretraining(
  instances: readonly PretrainingInstance[],
  padId: number,
  padTo?: number,
): PretrainingBatch {
  const B = instances.length;
  if (B === 0) throw new Error('collatePretraining: empty batch');
  let T = padTo ?? 0;
  for (const x of instances) T = Math.max(T, x.inputIds.length);
  const inputIds = new Int32Array(B * T).fill(padId);
  const tokenTypeIds = new Int32Array(B * T);
  const attentionMask = new Int32Array(B * T);
  let M = 0;
  for (const x of instances) M += x.maskedPositions.length;
  const maskedIndex = new Int32Array(M);
  const maskedLabels = new Int32Array(M);
  const nextSentenceLabels = new Int32Array(B);
  let m = 0;
  instances.forEach((x, b) => {
    const n = x.inputIds.length;
    inputIds.set(x.inputIds, b * T);
    attentionMask.fill(1, b * T, b * T + n);
    tokenTypeIds.fill(1, b * T + x.segmentALength, b * T + n);
    for (let k = 0; k < x.maskedPositions.length; k++) {
      maskedIndex[m] = b * T + x.maskedPositions[k]!;
      maskedLabels[m] = x.maskedLabels[k]!;
      m++;
    }
    nextSentenceLabels[b] = x.isRandomNext ? 1 : 0;
  });
  return { B, T, inputIds, tokenTypeIds, attentionMask, maskedIndex, maskedLabels, nextSentenceLabels };
}

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
  /** false: run the MLM head on every token, as HF does (for comparison and benchmarks). Default true. */
  gather?: boolean;
}

/** Rows of `logits` [rows, cols] whose argmax equals the label at the row given by rowOf(k), for labels[k]. */
function argmaxCorrect(logits: Float32Array, cols: number, labels: Int32Array, rowOf: (k: number) => number): number {
  let correct = 0;
  for (let k = 0; k < labels.length; k++) {
    if (argmax(logits, rowOf(k) * cols, cols) === labels[k]) correct++;
  }
  return correct;
}

/**
 * BertForPreTraining (same parameters, names and saved folder: `BertForPreTraining.from_pretrained` loads it) with
 * {@link forwardPretraining}. Dropout seeds come from a counter that a checkpoint can save and restore
 * (`trainForwards`), so that a resumed run draws the same masks as an uninterrupted one.
 */
export class PretrainingBert extends BertForPreTraining {
  /** Training forwards so far: the dropout seed of the next one derives from it and `dropoutSeed`. */
  trainForwards = 0;
  /** Seed of the dropout masks (default: the model's seed); the pre-training loop sets it to the run's seed. */
  dropoutSeed: number;
  private nspScratch = new Float32Array(0);

  constructor(...args: ConstructorParameters<typeof BertForPreTraining>) {
    super(...args);
    this.dropoutSeed = this.seed;
  }

  /** Loads config.json + weights of a folder (a BertForPreTraining / BertModel checkpoint); missing heads stay initialised. */
  static load(
    dir: string,
    options: ModelOptions = {},
  ): { model: PretrainingBert; missing: string[]; unexpected: string[] } {
    const model = new PretrainingBert(readConfig(dir), options);
    const { tensors, file } = readWeights(dir);
    const report = loadIntoStore(model.store, model.prefix, tensors, file);
    return { model, missing: report.missing, unexpected: report.unexpected };
  }

  protected override nextSeed(train: boolean): number {
    if (!train) return 0;
    this.trainForwards++;
    return dropoutHash(this.dropoutSeed >>> 0, this.trainForwards);
  }

  /**
   * MLM + NSP forward on a batch through `forward(..., { mlmLabeledOnly })`; a following backward() accumulates the
   * gradients of mlmLoss + nspLoss.
   */
  forwardPretraining(batch: PretrainingBatch, options: PretrainingForwardOptions = {}): PretrainingStepOutput {
    const gather = options.gather ?? true;
    const { B, T } = batch;
    const N = B * T;
    const M = batch.maskedIndex.length;
    if (M === 0)
      throw new Error('forwardPretraining: the batch has no masked positions (unmasked data needs dynamic masking)');
    const labels = new Int32Array(N).fill(-100);
    for (let m = 0; m < M; m++) labels[batch.maskedIndex[m]!] = batch.maskedLabels[m]!;
    const out = this.forward(
      {
        inputIds: { data: batch.inputIds, shape: [B, T] },
        tokenTypeIds: { data: batch.tokenTypeIds, shape: [B, T] },
        attentionMask: { data: batch.attentionMask, shape: [B, T] },
        labels: { data: labels, shape: [B, T] },
        nextSentenceLabel: { data: batch.nextSentenceLabels, shape: [B] },
      },
      { train: options.train ?? true, mlmLabeledOnly: gather },
    );
    const V = this.config.vocabSize;
    // Gathered logits are the labelled rows in row-major order; full logits are indexed by flat position.
    const rowLabels = gather ? labels.filter((l) => l !== -100) : batch.maskedLabels;
    const mlmCorrect = argmaxCorrect(
      out.predictionLogits.data,
      V,
      rowLabels,
      gather ? (k) => k : (k) => batch.maskedIndex[k]!,
    );
    const nspLogits = out.seqRelationshipLogits.data;
    if (this.nspScratch.length !== B * 2) this.nspScratch = new Float32Array(B * 2);
    const nspLoss = crossEntropyLoss(this.kernels, nspLogits, batch.nextSentenceLabels, B, 2, -100, this.nspScratch);
    const nspCorrect = argmaxCorrect(nspLogits, 2, batch.nextSentenceLabels, (k) => k);
    const loss = out.loss!;
    return { loss, mlmLoss: loss - nspLoss, nspLoss, mlmCorrect, mlmCount: M, nspCorrect, nspCount: B };
  }
}
