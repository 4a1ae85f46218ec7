// Evaluation loops for the fine-tuning heads: predictions in eval mode, then the matching metrics.
import type { BertInputs } from '../model/inputs.js';
import type { IndexedDataset } from '../data/samplers.js';
import { predictBatches, type BertHeadModel } from './bert-adapter.js';
import { gatherSlots, getDistributed, type Distributed } from './distributed.js';
import { argmaxRows, classificationReport, entityReport, multiLabelReport, regressionReport } from './metrics.js';
import type { ClassificationReport, EntityReport, MultiLabelReport, RegressionReport } from './metrics.js';

export type EvalDataset = Pick<IndexedDataset<BertInputs>, 'size' | 'collate'> & { lengthOf?: (i: number) => number };

export interface SequenceEvaluation {
  /** Flat numbers for the trainer / JSON output: accuracy, f1 (macro), precision, recall, loss, examples, ... */
  metrics: Record<string, number>;
  report: ClassificationReport | MultiLabelReport | RegressionReport;
  predictions: number[] | number[][];
}

/**
 * Mean loss weighted by batch size (each batch's loss is a mean), kept per batch so that data-parallel ranks can
 * gather them exactly and add them in batch order, as one process does.
 */
class LossMean {
  private readonly slots: Float64Array;
  constructor(batches: number) {
    // [loss, count] per batch; an undefined loss is NaN (skipped).
    this.slots = new Float64Array(2 * batches);
  }
  set(batch: number, loss: number | undefined, count: number): void {
    this.slots[2 * batch] = loss ?? Number.NaN;
    this.slots[2 * batch + 1] = count;
  }
  /** The mean over every rank's batches (every rank calls this, in step). */
  value(dist: Distributed): number {
    gatherSlots(dist, this.slots);
    let sum = 0;
    let n = 0;
    for (let k = 0; 2 * k < this.slots.length; k++) {
      const loss = this.slots[2 * k] ?? Number.NaN;
      const count = this.slots[2 * k + 1] ?? 0;
      if (Number.isFinite(loss)) {
        sum += loss * count;
        n += count;
      }
    }
    return n ? sum / n : Number.NaN;
  }
}

/** Batches of `batchSize` over `size` examples. */
const batchCount = (size: number, batchSize: number): number => Math.ceil(size / batchSize);

/**
 * Sequence classification (single-label, multi-label or regression, by `problemType`). Under data parallelism each
 * rank predicts interleaved batches and every rank gets every logit exactly, so the metrics are the one-process ones.
 */
export function evaluateSequenceClassification(
  model: BertHeadModel,
  data: EvalDataset,
  labels: readonly (number | number[])[],
  numLabels: number,
  problemType: 'single_label_classification' | 'multi_label_classification' | 'regression',
  batchSize = 32,
  onProgress?: (done: number, total: number) => void,
  dist: Distributed = getDistributed(),
): SequenceEvaluation {
  const rows = data.size;
  const all = new Float32Array(rows * numLabels);
  const lossMean = new LossMean(batchCount(rows, batchSize));
  for (const b of predictBatches(model, data, batchSize, onProgress, dist)) {
    // Batches come in length order: put each row back at its example's index.
    b.indices.forEach((ex, r) => all.set(b.logits.data.subarray(r * numLabels, (r + 1) * numLabels), ex * numLabels));
    lossMean.set(b.batch, b.loss, b.indices.length);
  }
  gatherSlots(dist, all);
  const loss = { value: lossMean.value(dist) };
  if (problemType === 'regression') {
    const preds = Array.from({ length: rows }, (_, r) => all[r * numLabels]!);
    const targets = labels.map((l) => (Array.isArray(l) ? l[0]! : l));
    const report = regressionReport(preds, targets);
    return {
      metrics: {
        mse: report.mse,
        mae: report.mae,
        pearson: report.pearson,
        spearman: report.spearman,
        loss: loss.value,
        examples: rows,
      },
      report,
      predictions: preds,
    };
  }
  if (problemType === 'multi_label_classification') {
    const report = multiLabelReport(all, labels as number[][], numLabels);
    const predictions = Array.from({ length: rows }, (_, r) =>
      Array.from(all.subarray(r * numLabels, (r + 1) * numLabels), (x) => (x > 0 ? 1 : 0)),
    );
    return {
      metrics: {
        f1: report.microF1,
        micro_f1: report.microF1,
        macro_f1: report.macroF1,
        subset_accuracy: report.subsetAccuracy,
        accuracy: report.subsetAccuracy,
        loss: loss.value,
        examples: rows,
      },
      report,
      predictions,
    };
  }
  const preds = argmaxRows(all, rows, numLabels);
  const report = classificationReport(preds, labels as number[], numLabels);
  return {
    metrics: {
      accuracy: report.accuracy,
      f1: report.macro.f1,
      precision: report.macro.precision,
      recall: report.macro.recall,
      loss: loss.value,
      examples: rows,
    },
    report,
    predictions: preds,
  };
}

export interface TokenEvaluation {
  metrics: Record<string, number>;
  report: EntityReport;
}

/**
 * Token classification scored at entity level: for each sentence the tags of labelled positions (first WordPieces,
 * label != -100) are compared as IOB2 sequences with conlleval semantics.
 */
export function evaluateTokenClassification(
  model: BertHeadModel,
  data: EvalDataset,
  tokenLabels: readonly (readonly number[])[],
  id2label: Readonly<Record<number, string>>,
  batchSize = 32,
  onProgress?: (done: number, total: number) => void,
  dist: Distributed = getDistributed(),
): TokenEvaluation {
  const loss = new LossMean(batchCount(data.size, batchSize));
  const name = (id: number): string => {
    const l = id2label[id];
    if (l === undefined) throw new Error(`label id ${id} has no name in id2label`);
    return l;
  };
  // The predicted label + 1 at each position of each example (0: not predicted), gathered over the ranks.
  const start: number[] = [0];
  for (const gold of tokenLabels) start.push((start.at(-1) ?? 0) + gold.length);
  const predicted = new Float64Array(start.at(-1) ?? 0);
  for (const b of predictBatches(model, data, batchSize, onProgress, dist)) {
    const [B, T, L] = b.logits.shape as [number, number, number];
    loss.set(b.batch, b.loss, b.indices.length);
    const preds = argmaxRows(b.logits.data, B * T, L);
    b.indices.forEach((ex, r) => {
      const gold = tokenLabels[ex]!;
      for (let i = 0; i < gold.length && i < T; i++)
        if (gold[i] !== -100) predicted[(start[ex] ?? 0) + i] = preds[r * T + i]! + 1;
    });
  }
  gatherSlots(dist, predicted);
  const predTags: string[][] = [];
  const trueTags: string[][] = [];
  tokenLabels.forEach((gold, ex) => {
    const p: string[] = [];
    const t: string[] = [];
    gold.forEach((g, i) => {
      const id = predicted[(start[ex] ?? 0) + i] ?? 0;
      if (g === -100 || id === 0) return;
      t.push(name(g));
      p.push(name(id - 1));
    });
    predTags.push(p);
    trueTags.push(t);
  });
  const report = entityReport(predTags, trueTags);
  return {
    metrics: {
      f1: report.f1,
      precision: report.precision,
      recall: report.recall,
      accuracy: report.tokenAccuracy,
      loss: loss.value(dist),
      examples: data.size,
    },
    report,
  };
}
