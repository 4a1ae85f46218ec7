// Evaluation loops for the fine-tuning heads: predictions in eval mode, then the matching metrics.
import type { BertInputs } from '../model/inputs.js';
import type { IndexedDataset } from '../data/samplers.js';
import { predictBatches, type BertHeadModel } from './bert-adapter.js';
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
}

/** Mean loss weighted by batch size (each batch's loss is a mean). */
class LossMean {
  private sum = 0;
  private n = 0;
  add(loss: number | undefined, count: number): void {
    if (loss !== undefined && Number.isFinite(loss)) {
      this.sum += loss * count;
      this.n += count;
    }
  }
  get value(): number {
    return this.n ? this.sum / this.n : Number.NaN;
  }
}

/** The named numeric fields of a report, as metrics. */
function pick<R extends object, K extends keyof R & string>(report: R, keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, report[k] as number])) as Record<K, number>;
}

/** Sequence classification (single-label, multi-label or regression, by `problemType`). */
export function evaluateSequenceClassification(
  model: BertHeadModel,
  data: EvalDataset,
  labels: readonly (number | number[])[],
  numLabels: number,
  problemType: 'single_label_classification' | 'multi_label_classification' | 'regression',
  batchSize = 32,
  onProgress?: (done: number, total: number) => void,
): SequenceEvaluation {
  const rows = data.size;
  const all = new Float32Array(rows * numLabels);
  const loss = new LossMean();
  for (const b of predictBatches(model, data, batchSize, onProgress)) {
    // Batches come in length order: put each row back at its example's index.
    b.indices.forEach((ex, r) => all.set(b.logits.data.subarray(r * numLabels, (r + 1) * numLabels), ex * numLabels));
    loss.add(b.loss, b.indices.length);
  }
  if (problemType === 'regression') {
    const preds = Array.from({ length: rows }, (_, r) => all[r * numLabels]!);
    const targets = labels.map((l) => (Array.isArray(l) ? l[0]! : l));
    const report = regressionReport(preds, targets);
    return {
      metrics: { ...pick(report, ['mse', 'mae', 'pearson', 'spearman']), loss: loss.value, examples: rows },
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
): TokenEvaluation {
  const predTags: string[][] = new Array(data.size);
  const trueTags: string[][] = new Array(data.size);
  const loss = new LossMean();
  const name = (id: number): string => {
    const l = id2label[id];
    if (l === undefined) throw new Error(`label id ${id} has no name in id2label`);
    return l;
  };
  for (const b of predictBatches(model, data, batchSize, onProgress)) {
    const [B, T, L] = b.logits.shape as [number, number, number];
    loss.add(b.loss, b.indices.length);
    const preds = argmaxRows(b.logits.data, B * T, L);
    b.indices.forEach((ex, r) => {
      const gold = tokenLabels[ex]!;
      const p: string[] = [];
      const t: string[] = [];
      for (let i = 0; i < gold.length && i < T; i++) {
        if (gold[i] === -100) continue;
        t.push(name(gold[i]!));
        p.push(name(preds[r * T + i]!));
      }
      predTags[ex] = p;
      trueTags[ex] = t;
    });
  }
  const report = entityReport(predTags, trueTags);
  return {
    metrics: {
      ...pick(report, ['f1', 'precision', 'recall']),
      accuracy: report.tokenAccuracy,
      loss: loss.value,
      examples: data.size,
    },
    report,
  };
}

/** Multiple choice: accuracy of the best-scored choice (logits [batch, choices]). */
export function evaluateMultipleChoice(
  model: BertHeadModel,
  data: EvalDataset,
  labels: readonly number[],
  batchSize = 32,
): { metrics: Record<string, number>; predictions: number[] } {
  const predictions = new Array<number>(data.size).fill(-1);
  const loss = new LossMean();
  for (const b of predictBatches(model, data, batchSize)) {
    const C = b.logits.shape[1] ?? 1;
    argmaxRows(b.logits.data, b.indices.length, C).forEach((k, r) => (predictions[b.indices[r]!] = k));
    loss.add(b.loss, b.indices.length);
  }
  const correct = predictions.filter((p, i) => p === labels[i]).length;
  return {
    metrics: { accuracy: correct / Math.max(1, data.size), loss: loss.value, examples: data.size },
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
