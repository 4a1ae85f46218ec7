// Evaluation metrics: classification (accuracy, P/R/F1, confusion), multi-label, regression, and entity-level NER (conlleval/seqeval).
import { argmax } from '../tensor/math.js';

/** argmax of each row of a [rows, cols] logits buffer. */
export function argmaxRows(logits: Float32Array | number[], rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => argmax(logits, r * cols, cols));
}

function checkSameLength(a: readonly unknown[], b: readonly unknown[], what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} predictions but ${b.length} labels`);
  if (a.length === 0) throw new Error(`${what}: no examples to score`);
}

/** Fraction of exact matches. */
export function accuracy(preds: readonly number[], labels: readonly number[]): number {
  checkSameLength(preds, labels, 'accuracy');
  let ok = 0;
  for (let i = 0; i < preds.length; i++) if (preds[i] === labels[i]) ok++;
  return ok / preds.length;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  /** Unweighted mean over classes (sklearn `average='macro'`; classes never seen nor predicted count with 0). */
  macro: { precision: number; recall: number; f1: number };
  /** Mean weighted by support (sklearn `average='weighted'`). */
  weighted: { precision: number; recall: number; f1: number };
  perClass: ClassMetrics[];
  /** confusion[true][pred] counts. */
  confusion: number[][];
  examples: number;
}

const safeDiv = (a: number, b: number): number => (b === 0 ? 0 : a / b); // sklearn's zero_division=0

/** Precision / recall / F1 per class and averaged, and the confusion matrix, for single-label classification. */
export function classificationReport(
  preds: readonly number[],
  labels: readonly number[],
  numLabels: number,
): ClassificationReport {
  checkSameLength(preds, labels, 'classificationReport');
  const confusion = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (let i = 0; i < preds.length; i++) {
    const t = labels[i]!;
    const p = preds[i]!;
    if (!(t >= 0 && t < numLabels) || !(p >= 0 && p < numLabels)) {
      throw new Error(
        `classificationReport: example ${i} has label ${t} / prediction ${p} outside 0..${numLabels - 1}`,
      );
    }
    confusion[t]![p]!++;
  }
  const perClass: ClassMetrics[] = [];
  for (let c = 0; c < numLabels; c++) {
    const tp = confusion[c]![c]!;
    let predicted = 0;
    let support = 0;
    for (let k = 0; k < numLabels; k++) {
      predicted += confusion[k]![c]!;
      support += confusion[c]![k]!;
    }
    const precision = safeDiv(tp, predicted);
    const recall = safeDiv(tp, support);
    perClass.push({ precision, recall, f1: safeDiv(2 * precision * recall, precision + recall), support });
  }
  const mean = (f: (m: ClassMetrics) => number) => perClass.reduce((s, m) => s + f(m), 0) / numLabels;
  const wmean = (f: (m: ClassMetrics) => number) => perClass.reduce((s, m) => s + f(m) * m.support, 0) / preds.length;
  return {
    accuracy: accuracy(preds, labels),
    macro: { precision: mean((m) => m.precision), recall: mean((m) => m.recall), f1: mean((m) => m.f1) },
    weighted: { precision: wmean((m) => m.precision), recall: wmean((m) => m.recall), f1: wmean((m) => m.f1) },
    perClass,
    confusion,
    examples: preds.length,
  };
}

export interface MultiLabelReport {
  microF1: number;
  macroF1: number;
  microPrecision: number;
  microRecall: number;
  /** Fraction of examples whose whole label set is predicted exactly. */
  subsetAccuracy: number;
  perLabelF1: number[];
  examples: number;
}

/**
 * Multi-label metrics from logits [rows, numLabels] and 0/1 targets; a label is predicted when sigmoid(logit) > 0.5,
 * i.e. logit > 0 (HF's problem_type multi_label_classification uses BCE-with-logits).
 */
export function multiLabelReport(
  logits: Float32Array | number[],
  targets: readonly (readonly number[])[],
  numLabels: number,
): MultiLabelReport {
  const rows = targets.length;
  if (rows === 0) throw new Error('multiLabelReport: no examples to score');
  if (logits.length !== rows * numLabels)
    throw new Error(`multiLabelReport: ${logits.length} logits for ${rows} x ${numLabels}`);
  const tp = new Array<number>(numLabels).fill(0);
  const fp = new Array<number>(numLabels).fill(0);
  const fn = new Array<number>(numLabels).fill(0);
  let exact = 0;
  for (let r = 0; r < rows; r++) {
    let allOk = true;
    for (let c = 0; c < numLabels; c++) {
      const p = logits[r * numLabels + c]! > 0;
      const t = targets[r]![c]! >= 0.5;
      if (p && t) tp[c]!++;
      else if (p) fp[c]!++;
      else if (t) fn[c]!++;
      if (p !== t) allOk = false;
    }
    if (allOk) exact++;
  }
  const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
  const microPrecision = safeDiv(sum(tp), sum(tp) + sum(fp));
  const microRecall = safeDiv(sum(tp), sum(tp) + sum(fn));
  const perLabelF1 = tp.map((t, c) => safeDiv(2 * t, 2 * t + fp[c]! + fn[c]!));
  return {
    microF1: safeDiv(2 * sum(tp), 2 * sum(tp) + sum(fp) + sum(fn)),
    macroF1: sum(perLabelF1) / numLabels,
    microPrecision,
    microRecall,
    subsetAccuracy: exact / rows,
    perLabelF1,
    examples: rows,
  };
}

export interface RegressionReport {
  mse: number;
  mae: number;
  pearson: number;
  spearman: number;
  examples: number;
}

function pearsonOf(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  // A constant input has no correlation; scipy returns NaN there, which JSON cannot carry.
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average'). */
export function averageRanks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const ranks = new Array<number>(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

/** MSE, MAE, Pearson r and Spearman rho (Pearson of average ranks) of predictions against targets. */
export function regressionReport(preds: readonly number[], targets: readonly number[]): RegressionReport {
  checkSameLength(preds, targets, 'regressionReport');
  let se = 0;
  let ae = 0;
  for (let i = 0; i < preds.length; i++) {
    const d = preds[i]! - targets[i]!;
    se += d * d;
    ae += Math.abs(d);
  }
  return {
    mse: se / preds.length,
    mae: ae / preds.length,
    pearson: pearsonOf(preds, targets),
    spearman: pearsonOf(averageRanks(preds), averageRanks(targets)),
    examples: preds.length,
  };
}

// ---- entity-level NER (conlleval / seqeval default mode) ----

export interface Entity {
  type: string;
  /** Inclusive word indices. */
  start: number;
  end: number;
}

function splitTag(tag: string): [string, string] {
  if (tag === 'O' || tag === '') return ['O', ''];
  const m = /^([BIESL])[-_](.*)$/.exec(tag);
  // A bare type without prefix is read as I- (conlleval does the same with its default "raw" handling off).
  return m ? [m[1]!, m[2]!] : ['I', tag];
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if (prevTag === 'B' && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  if (prevTag === 'I' && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  if (prevTag !== 'O' && prevType !== type) return true;
  return false;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  if (tag !== 'O' && prevType !== type) return true;
  return false;
}

/**
 * Chunks of a tag sequence with conlleval's rules (what seqeval's default, non-strict mode implements): an I- tag
 * after O or after a different type starts a new entity; a type change ends one.
 */
export function extractEntities(tags: readonly string[]): Entity[] {
  const out: Entity[] = [];
  let prevTag = 'O';
  let prevType = '';
  let start = -1;
  const seq = [...tags, 'O'];
  for (let i = 0; i < seq.length; i++) {
    const [tag, type] = splitTag(seq[i]!);
    if (start >= 0 && endOfChunk(prevTag, tag, prevType, type)) {
      out.push({ type: prevType, start, end: i - 1 });
      start = -1;
    }
    if (startOfChunk(prevTag, tag, prevType, type)) start = i;
    prevTag = tag;
    prevType = type;
  }
  return out;
}

export interface EntityReport {
  /** Micro-averaged over all entities (conlleval's overall figures; seqeval's default f1_score). */
  precision: number;
  recall: number;
  f1: number;
  perType: Record<string, ClassMetrics>;
  /** Token-level accuracy over all scored words (conlleval's "accuracy"). */
  tokenAccuracy: number;
  trueEntities: number;
  predictedEntities: number;
  examples: number;
}

/** Entity-level precision / recall / F1 (exact type and span) over sentences of IOB2 tags. */
export function entityReport(
  predTags: readonly (readonly string[])[],
  trueTags: readonly (readonly string[])[],
): EntityReport {
  checkSameLength(predTags, trueTags, 'entityReport');
  // NUL-separated keys: entity types may contain any printable character.
  const key = (s: number, e: Entity) => `${s}\u0000${e.type}\u0000${e.start}\u0000${e.end}`;
  const trueSet = new Set<string>();
  const predSet = new Set<string>();
  const types = new Set<string>();
  let tokens = 0;
  let tokOk = 0;
  for (let s = 0; s < trueTags.length; s++) {
    const t = trueTags[s]!;
    const p = predTags[s]!;
    if (t.length !== p.length)
      throw new Error(`entityReport: sentence ${s} has ${t.length} true tags but ${p.length} predicted`);
    for (let i = 0; i < t.length; i++) {
      tokens++;
      if (t[i] === p[i]) tokOk++;
    }
    for (const e of extractEntities(t)) {
      trueSet.add(key(s, e));
      types.add(e.type);
    }
    for (const e of extractEntities(p)) {
      predSet.add(key(s, e));
      types.add(e.type);
    }
  }
  let tp = 0;
  for (const k of predSet) if (trueSet.has(k)) tp++;
  const perType: Record<string, ClassMetrics> = {};
  for (const ty of [...types].sort()) {
    const tt = [...trueSet].filter((k) => k.split('\u0000')[1] === ty);
    const pp = [...predSet].filter((k) => k.split('\u0000')[1] === ty);
    const hit = pp.filter((k) => trueSet.has(k)).length;
    const precision = safeDiv(hit, pp.length);
    const recall = safeDiv(hit, tt.length);
    perType[ty] = { precision, recall, f1: safeDiv(2 * precision * recall, precision + recall), support: tt.length };
  }
  const precision = safeDiv(tp, predSet.size);
  const recall = safeDiv(tp, trueSet.size);
  return {
    precision,
    recall,
    f1: safeDiv(2 * precision * recall, precision + recall),
    perType,
    tokenAccuracy: safeDiv(tokOk, tokens),
    trueEntities: trueSet.size,
    predictedEntities: predSet.size,
    examples: trueTags.length,
  };
}

/** The official SQuAD normalisation: lower case, ASCII punctuation removed, articles removed, whitespace collapsed. */
export function normalizeAnswer(s: string): string {
  const noPunct = Array.from(s.toLowerCase())
    .filter((ch) => !SQUAD_PUNCTUATION.has(ch))
    .join('');
  // Python's \b with re.UNICODE: a word character is a letter, a digit or "_".
  return noPunct
    .replace(/(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu, ' ')
    .split(/\s+/u)
    .filter((w) => w !== '')
    .join(' ');
}

/** Python's string.punctuation, which the official script removes. */
const SQUAD_PUNCTUATION = new Set(Array.from('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'));

/** Token-overlap F1 of a prediction against one gold answer (1 when both are empty, 0 when only one is). */
function squadF1(gold: string, prediction: string): number {
  const g = normalizeAnswer(gold).split(' ').filter(Boolean);
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  if (g.length === 0 || p.length === 0) return g.length === p.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** One question's exact match and F1 (0 / 1 and [0, 1]), the best over its gold answers ('' when unanswerable). */
export function squadScore(prediction: string, golds: readonly string[]): { exact: number; f1: number } {
  const refs = golds.length === 0 ? [''] : golds;
  return {
    exact: Math.max(...refs.map((g) => (normalizeAnswer(g) === normalizeAnswer(prediction) ? 1 : 0))),
    f1: Math.max(...refs.map((g) => squadF1(g, prediction))),
  };
}

/** The SQuAD metric over questions: exact_match and f1 in percent, as the official evaluation script prints them. */
export function squadMetrics(
  predictions: readonly string[],
  golds: readonly (readonly string[])[],
): { exact_match: number; f1: number } {
  if (predictions.length !== golds.length)
    throw new RangeError(`squadMetrics: ${predictions.length} predictions for ${golds.length} questions`);
  let exact = 0;
  let f1 = 0;
  predictions.forEach((p, i) => {
    const s = squadScore(p, golds[i]!);
    exact += s.exact;
    f1 += s.f1;
  });
  const n = Math.max(1, predictions.length);
  return { exact_match: (100 * exact) / n, f1: (100 * f1) / n };
}
