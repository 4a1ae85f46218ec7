// Pre-training's held-out evaluation: MLM loss and accuracy at the masked positions, NSP loss and accuracy.
import { gatherSlots, getDistributed, ownsBatch, type Distributed } from './distributed.js';
import type { BertForPreTraining } from '../model/bert.js';
import { collatePretraining, type PretrainingBatch } from '../data/batching.js';
import {
  maskDynamically,
  type MaskingOptions,
  type PretrainingInstance,
  type PretrainingVocab,
} from '../data/pretraining.js';
import { readDataset, readDatasetManifest } from '../data/shards.js';
import { pretrainingForward } from './pretrain-model.js';

export interface PretrainEvaluation {
  mlm_loss: number;
  mlm_accuracy: number;
  nsp_loss: number;
  nsp_accuracy: number;
  /** Share of random-next pairs: the NSP accuracy of always answering "random" (the recipe's majority class). */
  nsp_random_fraction: number;
  instances: number;
}

/**
 * The first `limit` instances of a held-out dataset, in shard order. A dynamically masked dataset is masked once,
 * with a seed derived from `seed`, so that every evaluation of a run scores the same predictions.
 */
export function readEvalInstances(
  dir: string,
  limit: number,
  vocab: PretrainingVocab,
  seed: number,
): PretrainingInstance[] {
  const m = readDatasetManifest(dir);
  if (m.vocabSize !== vocab.size) {
    throw new Error(
      `${dir}: made with a vocabulary of ${m.vocabSize} tokens, the model's vocabulary has ${vocab.size}; use the same vocabulary`,
    );
  }
  const masking: MaskingOptions = {
    maskedLmProb: m.maskedLmProb,
    maxPredictions: m.maxPredictionsPerSeq,
    wholeWordMask: m.wholeWordMask,
  };
  const out: PretrainingInstance[] = [];
  for (const inst of readDataset(dir, m)) {
    if (out.length >= limit) break;
    out.push(m.masking === 'dynamic' ? maskDynamically(inst, vocab, masking, seed ^ 0x5eed, 0, out.length) : inst);
  }
  return out;
}

/**
 * Sums `width` figures per held-out batch (what `score` returns for batch number `index`) over all batches. Under data parallelism each
 * rank runs interleaved batches; the per-batch sums are gathered exactly and added in batch order, so every rank gets
 * the one-process figures.
 */
export function sumOverBatches(
  instances: readonly PretrainingInstance[],
  batchSize: number,
  padId: number,
  width: number,
  score: (batch: PretrainingBatch, index: number) => readonly number[],
  dist: Distributed = getDistributed(),
): number[] {
  const batches = Math.ceil(instances.length / batchSize);
  const slots = new Float64Array(width * batches);
  for (let k = 0; k < batches; k++) {
    if (!ownsBatch(dist, k)) continue;
    slots.set(score(collatePretraining(instances.slice(k * batchSize, (k + 1) * batchSize), padId), k), width * k);
  }
  gatherSlots(dist, slots);
  const sum = new Array<number>(width).fill(0);
  for (let k = 0; k < batches; k++) for (let j = 0; j < width; j++) sum[j]! += slots[width * k + j] ?? 0;
  return sum;
}

/** Held-out evaluation (dropout off): MLM loss (mean over predicted positions) and accuracy, NSP loss and accuracy. */
export function evaluatePretraining(
  model: BertForPreTraining,
  instances: readonly PretrainingInstance[],
  batchSize: number,
  padId: number,
  dist: Distributed = getDistributed(),
): PretrainEvaluation {
  let randomNext = 0;
  for (const x of instances) if (x.isRandomNext) randomNext++;
  const [mlmLoss = 0, mlmCorrect = 0, mlmCount = 0, nspLoss = 0, nspCorrect = 0, nspCount = 0] = sumOverBatches(
    instances,
    batchSize,
    padId,
    6,
    (batch) => {
      const o = pretrainingForward(model, batch, { train: false });
      return [o.mlmLoss * o.mlmCount, o.mlmCorrect, o.mlmCount, o.nspLoss * o.nspCount, o.nspCorrect, o.nspCount];
    },
    dist,
  );
  return {
    mlm_loss: mlmLoss / mlmCount,
    mlm_accuracy: mlmCorrect / mlmCount,
    nsp_loss: nspLoss / nspCount,
    nsp_accuracy: nspCorrect / nspCount,
    nsp_random_fraction: randomNext / nspCount,
    instances: nspCount,
  };
}
