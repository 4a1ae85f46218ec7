// compareDtypes(options): the quantization report. evaluate() runs the model on the user's labelled data in a baseline
// dtype and in another (q8, bf16), and the two runs' logits and metrics are compared, so that a quantized model is
// never shipped without knowing what it costs.
import { readConfig } from '../model/checkpoint.js';
import { InputError } from '../model/errors.js';
import { parseModelDtype, type ModelDtype } from '../model/linear-dtype.js';
import { argmaxRows } from './metrics.js';
import { evaluate, type EvaluateOptions, type EvaluateResult } from './evaluate.js';

export interface CompareDtypesOptions extends Omit<EvaluateOptions, 'dtype'> {
  /** The dtype to check ('q8' or 'bf16'). */
  dtype: ModelDtype;
  /** What it is compared with (default 'fp32'). */
  baseline?: ModelDtype;
  /** The folder of the baseline run (default `model`): the original of a quantized folder. */
  baselineModel?: string;
}

export interface DtypeComparison {
  task: 'text-classification' | 'token-classification';
  dtype: ModelDtype;
  baseline: ModelDtype;
  /** What was compared: texts (text classification) or labelled word positions (token classification). */
  unit: 'examples' | 'tokens';
  compared: number;
  /**
   * Fraction of the compared units where both dtypes predict the same: the top label (single-label and token
   * classification) or every label's yes / no (multi-label); null for regression (no label to agree on).
   */
  agreement: number | null;
  /** The largest |logit(dtype) - logit(baseline)| over every compared unit and label. */
  maxAbsLogitDiff: number;
  /** The task's headline metric: accuracy (single-label), f1 (multi-label: micro; tokens: entity F1), or mse. */
  metric: string;
  baselineValue: number;
  value: number;
  /** value - baselineValue. */
  change: number;
  /** evaluate()'s flat metrics of each run (the timings show the speed of each dtype on this data). */
  baselineMetrics: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

type Compared = Extract<EvaluateResult, { task: 'text-classification' | 'token-classification' }>;

function classified(result: EvaluateResult): Compared {
  if (result.task === 'text-classification' || result.task === 'token-classification') return result;
  throw new InputError(
    'compareDtypes',
    `compares text-classification and token-classification models; this is ${result.task}`,
  );
}

/** Fraction of rows whose predictions agree: argmax (one label per row) or each logit's sign (multi-label). */
function agreement(a: Float32Array, b: Float32Array, rows: number, labels: number, multiLabel: boolean): number {
  if (rows === 0) return 1;
  let same = 0;
  if (multiLabel) {
    for (let r = 0; r < rows; r++) {
      let all = true;
      for (let j = 0; j < labels; j++) all &&= a[r * labels + j]! > 0 === b[r * labels + j]! > 0;
      if (all) same++;
    }
    return same / rows;
  }
  const pa = argmaxRows(a, rows, labels);
  const pb = argmaxRows(b, rows, labels);
  for (let r = 0; r < rows; r++) if (pa[r] === pb[r]) same++;
  return same / rows;
}

/**
 * Evaluates `options.model` on `options.data` in `baseline` (default fp32) and in `dtype`, and compares them: top-1
 * agreement, the metric of each and its change, and the largest logit difference (see DtypeComparison). Text and
 * token classification; the data is read and scored exactly as evaluate() does.
 */
export async function compareDtypes(options: CompareDtypesOptions): Promise<DtypeComparison> {
  const { dtype: given, baseline: givenBaseline, baselineModel, ...rest } = options;
  const dtype = parseModelDtype(given, 'compareDtypes');
  const baseline = parseModelDtype(givenBaseline ?? 'fp32', 'compareDtypes');
  const base = classified(await evaluate({ ...rest, model: baselineModel ?? rest.model, dtype: baseline }));
  // Load warnings were printed by the first run; the second reads the same folder (or its quantized copy).
  const other = classified(await evaluate({ ...rest, dtype, warn: () => {} }));
  const a = base.logits;
  const b = other.logits;
  if (a.length !== b.length) throw new Error(`the two runs gave ${a.length} and ${b.length} logits`);
  let maxAbsLogitDiff = 0;
  for (let i = 0; i < a.length; i++) maxAbsLogitDiff = Math.max(maxAbsLogitDiff, Math.abs(a[i]! - b[i]!));
  const problemType = base.task === 'text-classification' ? base.problemType : 'single_label_classification';
  const labels = readConfig(rest.model).numLabels;
  const rows = a.length / labels;
  const metric =
    base.task === 'token-classification' || problemType === 'multi_label_classification'
      ? 'f1'
      : problemType === 'regression'
        ? 'mse'
        : 'accuracy';
  const baselineValue = Number(base.metrics[metric]);
  const value = Number(other.metrics[metric]);
  return {
    task: base.task,
    dtype,
    baseline,
    unit: base.task === 'token-classification' ? 'tokens' : 'examples',
    compared: rows,
    agreement:
      problemType === 'regression' ? null : agreement(a, b, rows, labels, problemType === 'multi_label_classification'),
    maxAbsLogitDiff,
    metric,
    baselineValue,
    value,
    change: value - baselineValue,
    baselineMetrics: base.metrics,
    metrics: other.metrics,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The report as text lines (what `bert evaluate --compare` prints). */
export function formatDtypeComparison(c: DtypeComparison): string {
  const mse = c.metric === 'mse';
  const sign = c.change >= 0 ? '+' : '';
  const change = mse ? `${sign}${c.change.toExponential(2)}` : `${sign}${(c.change * 100).toFixed(2)} points`;
  const show = (x: number): string => (mse ? x.toExponential(3) : pct(x));
  const agree = c.agreement === null ? 'none (regression: no labels to agree on)' : pct(c.agreement);
  const seconds = (m: Record<string, unknown>): string => String(m['seconds']);
  return [
    `${c.dtype} vs ${c.baseline} on ${c.compared} ${c.unit === 'tokens' ? 'labelled words' : 'examples'}:`,
    `  top-1 agreement      ${agree}`,
    `  ${c.metric.padEnd(20)} ${c.baseline} ${show(c.baselineValue)}  ${c.dtype} ${show(c.value)}  change ${change}`,
    `  max |logit diff|     ${c.maxAbsLogitDiff.toPrecision(3)}`,
    `  seconds              ${c.baseline} ${seconds(c.baselineMetrics)}  ${c.dtype} ${seconds(c.metrics)}`,
  ].join('\n');
}
