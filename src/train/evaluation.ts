// Evaluation loops for the fine-tuning heads: predictions in eval mode, then the matching metrics.
import type { BertInputs } from '../model/inputs.js';
import type { IndexedDataset } from '../data/samplers.js';
import { predictBatches, type BertHeadModel } from './bert-adapter.js';
import { gatherSlots, getDistributed, type Distributed } from './distributed.js';
import { argmaxRows, classificationReport, entityReport, multiLabelReport, regressionReport } from './metrics.js';
import type { ClassificationReport, EntityReport, MultiLabelReport, RegressionReport } from './metrics.js';
import { squadMetrics } from './metrics.js';
import { answerQuestions, type QaDecodeOptions, type QaTokenizer } from '../data/qa-spans.js';
import type { QaExample } from '../data/squad.js';
import { collateEncoded } from '../data/batching.js';

export type EvalDataset = Pick<IndexedDataset<BertInputs>, 'size' | 'collate'> & { lengthOf?: (i: number) => number };

export interface SequenceEvaluation {
  /** Flat numbers for the trainer / JSON output: accuracy, f1 (macro), precision, recall, loss, examples, ... */
  metrics: Record<string, number>;
  report: ClassificationReport | MultiLabelReport | RegressionReport;
  predictions: number[] | number[][];
  /** Every example's logits, [examples, numLabels] in example order (what compareDtypes compares). */
  logits: Float32Array;
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

/** The named numeric fields of a report, as metrics. */
function pick<R extends object, K extends keyof R & string>(report: R, keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, report[k] as number])) as Record<K, number>;
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
      metrics: { ...pick(report, ['mse', 'mae', 'pearson', 'spearman']), loss: loss.value, examples: rows },
      report,
      predictions: preds,
      logits: all,
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
      logits: all,
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
    logits: all,
  };
}

export interface TokenEvaluation {
  metrics: Record<string, number>;
  report: EntityReport;
  /**
   * The logits of every labelled position (label != -100: the words' first WordPieces), [positions, labels] in
   * example then position order (what compareDtypes compares).
   */
  logits: Float32Array;
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
  const numLabels = Object.keys(id2label).length;
  const logits = new Float32Array(predicted.length * numLabels);
  for (const b of predictBatches(model, data, batchSize, onProgress, dist)) {
    const [B, T, L] = b.logits.shape as [number, number, number];
    if (L !== numLabels) throw new Error(`the model gives ${L} logits per token, id2label names ${numLabels} labels`);
    loss.set(b.batch, b.loss, b.indices.length);
    const preds = argmaxRows(b.logits.data, B * T, L);
    b.indices.forEach((ex, r) => {
      const gold = tokenLabels[ex]!;
      for (let i = 0; i < gold.length && i < T; i++) {
        if (gold[i] === -100) continue;
        const at = (start[ex] ?? 0) + i;
        predicted[at] = preds[r * T + i]! + 1;
        logits.set(b.logits.data.subarray((r * T + i) * L, (r * T + i + 1) * L), at * L);
      }
    });
  }
  gatherSlots(dist, predicted);
  gatherSlots(dist, logits);
  // Only the labelled (and predicted) positions' rows, in order.
  const kept: number[] = [];
  predicted.forEach((id, at) => id !== 0 && kept.push(at));
  const labelledLogits = new Float32Array(kept.length * numLabels);
  kept.forEach((at, k) => labelledLogits.set(logits.subarray(at * numLabels, (at + 1) * numLabels), k * numLabels));
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
      ...pick(report, ['f1', 'precision', 'recall']),
      accuracy: report.tokenAccuracy,
      loss: loss.value(dist),
      examples: data.size,
    },
    report,
    logits: labelledLogits,
  };
}

/**
 * Multiple choice: accuracy of the best-scored choice (logits [batch, choices]). Under data parallelism each rank
 * predicts interleaved batches and every rank gets every choice, as for sequence classification.
 */
export function evaluateMultipleChoice(
  model: BertHeadModel,
  data: EvalDataset,
  labels: readonly number[],
  batchSize = 32,
  dist: Distributed = getDistributed(),
): { metrics: Record<string, number>; predictions: number[] } {
  // The chosen index + 1 of this rank's examples, 0 elsewhere (so the sum over ranks is exact).
  const chosen = new Float64Array(data.size);
  const lossMean = new LossMean(batchCount(data.size, batchSize));
  for (const b of predictBatches(model, data, batchSize, undefined, dist)) {
    const C = b.logits.shape[1] ?? 1;
    argmaxRows(b.logits.data, b.indices.length, C).forEach((k, r) => (chosen[b.indices[r]!] = k + 1));
    lossMean.set(b.batch, b.loss, b.indices.length);
  }
  gatherSlots(dist, chosen);
  const predictions = Array.from(chosen, (k) => k - 1);
  const correct = predictions.filter((p, i) => p === labels[i]).length;
  return {
    metrics: { accuracy: correct / Math.max(1, data.size), loss: lossMean.value(dist), examples: data.size },
    predictions,
  };
}

/**
 * Question answering: each question answered as the question-answering pipeline answers it (the same windows and
 * span decoding, src/data/qa-spans.ts), scored with the official SQuAD exact match and F1 (in percent).
 */
export function evaluateQuestionAnswering(
  model: BertHeadModel,
  tok: QaTokenizer & { padId: number },
  examples: readonly QaExample[],
  decode: Omit<QaDecodeOptions, 'topK'>,
): { metrics: Record<string, number>; predictions: string[] } {
  const answers = answerQuestions(tok, examples, { ...decode, topK: 1 }, (windows) => {
    const inputs = collateEncoded(
      windows,
      windows.map((_, i) => i),
      'qa',
      tok.padId,
    );
    const out = model.forward(inputs, { train: false, grad: false });
    const T = inputs.inputIds.shape[1]!;
    if (!out.startLogits || !out.endLogits) throw new Error(`${model.architecture}: no start / end logits`);
    const { startLogits, endLogits } = out;
    return windows.map((w, b) => ({
      start: startLogits.data.subarray(b * T, b * T + w.inputIds.length),
      end: endLogits.data.subarray(b * T, b * T + w.inputIds.length),
    }));
  });
  const predictions = answers.map((a) => a[0]?.answer ?? '');
  const scores = squadMetrics(
    predictions,
    examples.map((e) => e.answers.map((a) => a.text)),
  );
  return { metrics: { ...scores, examples: examples.length }, predictions };
}
