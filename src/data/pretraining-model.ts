// BertForPreTraining computing the MLM head only at the masked positions ("gather first"), and batching of shard instances.
//
// The MLM output layer is [hidden x vocab] per token: for BERT-mini at 128 tokens it is most of a training step's
// FLOPs. HF's BertForPreTraining computes it for every token and ignores all but ~15% in the loss; here the encoder
// output rows at the masked positions are gathered first, the head runs on those M rows, and its input gradient is
// scattered back. The loss and every gradient are the same as the full computation (tested), at ~15% of the cost.
import { BertForPreTraining, type ModelOptions } from '../model/bert.js';
import { BertConfig, type ConfigJson } from '../model/config.js';
import { LMHead, LinearHead, crossEntropyLoss } from '../model/heads.js';
import { loadIntoStore, readConfig, readWeights } from '../model/checkpoint.js';
import { dropoutHash } from '../tensor/kernels.js';
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
export function collatePretraining(instances: readonly PretrainingInstance[], padId: number, padTo?: number): PretrainingBatch {
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
  /** mlmLoss + nspLoss (unscaled). */
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
  /** Multiplies the gradients (1 / accumulation steps); the returned losses are not scaled. */
  lossScale?: number;
  /** false: run the MLM head on every token, as HF does (for comparison and benchmarks). Default true. */
  gather?: boolean;
  /** Compute gradients (prepare backward()). Default: same as train. */
  withBackward?: boolean;
}

function argmaxCorrect(logits: Float32Array, labels: Int32Array, rows: number, cols: number): number {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let best = 0;
    let bv = logits[o]!;
    for (let c = 1; c < cols; c++) {
      const v = logits[o + c]!;
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    if (best === labels[r]) correct++;
  }
  return correct;
}

/**
 * BertForPreTraining (same parameters, names and saved folder: `BertForPreTraining.from_pretrained` loads it) with
 * {@link forwardPretraining}. Dropout seeds come from a counter that a checkpoint can save and restore
 * (`trainForwards`), so that a resumed run draws the same masks as an uninterrupted one.
 */
export class PretrainingBert extends BertForPreTraining {
  private readonly gatheredLm: LMHead;
  private readonly gatheredNsp: LinearHead;
  /** Training forwards so far: the dropout seed of the next one derives from it and `dropoutSeed`. */
  trainForwards = 0;
  /** Seed of the dropout masks (default: the model's seed); the pre-training loop sets it to the run's seed. */
  dropoutSeed: number;
  private gathered = new Float32Array(0);
  private dSeq = new Float32Array(0);

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options);
    this.dropoutSeed = this.seed;
    this.gatheredLm = new LMHead(this.config, this.store, 'bert.', this.kernels);
    this.gatheredNsp = new LinearHead(this.store, 'cls.seq_relationship', 2, this.config.hiddenSize, this.kernels);
  }

  /** Loads config.json + weights of a folder (a BertForPreTraining / BertModel checkpoint); missing heads stay initialised. */
  static load(dir: string, options: ModelOptions = {}): { model: PretrainingBert; missing: string[]; unexpected: string[] } {
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
   * MLM + NSP forward on a batch; with `withBackward`, a following backward() accumulates the gradients of
   * lossScale * (mlmLoss + nspLoss).
   */
  forwardPretraining(batch: PretrainingBatch, options: PretrainingForwardOptions = {}): PretrainingStepOutput {
    const train = options.train ?? true;
    const withBackward = options.withBackward ?? train;
    const scale = options.lossScale ?? 1;
    const gather = options.gather ?? true;
    const { B, T } = batch;
    const c = this.config;
    const H = c.hiddenSize;
    const V = c.vocabSize;
    const N = B * T;
    const M = batch.maskedIndex.length;
    if (M === 0) throw new Error('forwardPretraining: the batch has no masked positions (unmasked data needs dynamic masking)');
    const { batch: bb } = this.prepare(
      {
        inputIds: { data: batch.inputIds, shape: [B, T] },
        tokenTypeIds: { data: batch.tokenTypeIds, shape: [B, T] },
        attentionMask: { data: batch.attentionMask, shape: [B, T] },
      },
      2,
    );
    this.runBackbone(bb, { train }, this.nextSeed(train));
    const seq = this.backbone.sequenceOutput;
    const lm = this.gatheredLm;

    let logits: Float32Array;
    let mlmLoss: number;
    let mlmCorrect: number;
    if (gather) {
      if (this.gathered.length !== M * H) this.gathered = new Float32Array(M * H);
      for (let m = 0; m < M; m++) {
        const i = batch.maskedIndex[m]!;
        this.gathered.set(seq.subarray(i * H, (i + 1) * H), m * H);
      }
      logits = lm.forward(this.gathered, M);
      mlmLoss = crossEntropyLoss(this.kernels, logits, batch.maskedLabels, M, V, -100, lm.dLogits, scale);
      mlmCorrect = argmaxCorrect(logits, batch.maskedLabels, M, V);
    } else {
      const labels = new Int32Array(N).fill(-100);
      for (let m = 0; m < M; m++) labels[batch.maskedIndex[m]!] = batch.maskedLabels[m]!;
      logits = lm.forward(seq, N);
      mlmLoss = crossEntropyLoss(this.kernels, logits, labels, N, V, -100, lm.dLogits, scale);
      const rows = new Float32Array(M * V);
      for (let m = 0; m < M; m++) rows.set(logits.subarray(batch.maskedIndex[m]! * V, (batch.maskedIndex[m]! + 1) * V), m * V);
      mlmCorrect = argmaxCorrect(rows, batch.maskedLabels, M, V);
    }
    const nspLogits = this.gatheredNsp.forward(this.backbone.pooledOutput, B, null);
    const nspLoss = crossEntropyLoss(this.kernels, nspLogits, batch.nextSentenceLabels, B, 2, -100, this.gatheredNsp.dLogits, scale);
    const nspCorrect = argmaxCorrect(nspLogits, batch.nextSentenceLabels, B, 2);

    this.pending = null;
    if (withBackward) {
      this.pending = () => {
        const dX = lm.backward();
        let dSeq: Float32Array;
        if (gather) {
          if (this.dSeq.length !== N * H) this.dSeq = new Float32Array(N * H);
          else this.dSeq.fill(0);
          dSeq = this.dSeq;
          // Scatter-add: a position appears once per batch, but add anyway so duplicates would stay correct.
          for (let m = 0; m < M; m++) {
            const o = batch.maskedIndex[m]! * H;
            for (let h = 0; h < H; h++) dSeq[o + h]! += dX[m * H + h]!;
          }
        } else dSeq = dX;
        const dPooled = this.gatheredNsp.backward();
        this.backbone.backward(dSeq, dPooled);
      };
    }
    return { loss: mlmLoss + nspLoss, mlmLoss, nspLoss, mlmCorrect, mlmCount: M, nspCorrect, nspCount: B };
  }
}
