// Batching: encoded examples and pre-training instances into padded model inputs, each batch to its longest example.
import type { PretrainingInstance } from './pretraining.js';
import type { IndexedDataset } from './samplers.js';

/** A row-major array with its shape. */
export interface ShapedInts {
  data: Int32Array | Float32Array;
  shape: number[];
}

/**
 * A padded batch as the BERT models take it: structurally the model's `BertInputs` (src/model/inputs.ts), which the
 * data layer does not import.
 */
export interface BatchInputs {
  inputIds: ShapedInts;
  attentionMask?: ShapedInts;
  tokenTypeIds?: ShapedInts;
  /** Class ids (Int32Array), token label ids (-100 ignored), or multi-label / regression targets (Float32Array). */
  labels?: ShapedInts;
  startPositions?: ShapedInts;
  endPositions?: ShapedInts;
  nextSentenceLabel?: ShapedInts;
}

/** One tokenized example: ids (with [CLS]/[SEP]) and segment ids, plus the head's target. */
export interface EncodedExample {
  inputIds: number[];
  tokenTypeIds?: number[];
  /** Sequence classification: class id, multi-hot vector, or regression target(s). */
  label?: number | number[];
  /** Token classification: one label per piece (-100 ignored). */
  tokenLabels?: number[];
  /** Question answering: answer span in token positions. */
  startPosition?: number;
  endPosition?: number;
}

/** A multiple-choice example: one encoded sequence per choice and the index of the right one. */
export interface EncodedChoices {
  choices: { inputIds: number[]; tokenTypeIds?: number[] }[];
  label: number;
}

export type EncodedTask = 'sequence' | 'token' | 'qa';

function pad2d(
  rows: readonly (readonly number[] | undefined)[],
  T: number,
  fill: number,
  fallbackLen: readonly number[],
): Int32Array {
  const out = new Int32Array(rows.length * T).fill(fill);
  rows.forEach((r, i) => {
    if (r) out.set(r, i * T);
    else out.fill(0, i * T, i * T + fallbackLen[i]!);
  });
  return out;
}

/**
 * Pads `examples[indices]` into BatchInputs. Labels are typed so the model picks the HF problem type: Int32Array for
 * class ids (single label, token labels), Float32Array [B, L] for multi-label / regression.
 */
export function collateEncoded(
  examples: readonly EncodedExample[],
  indices: readonly number[],
  task: EncodedTask,
  padId: number,
): BatchInputs {
  const ex = indices.map((i) => examples[i]!);
  const B = ex.length;
  const T = Math.max(...ex.map((e) => e.inputIds.length));
  const lens = ex.map((e) => e.inputIds.length);
  const ids = pad2d(
    ex.map((e) => e.inputIds),
    T,
    padId,
    lens,
  );
  const types = pad2d(
    ex.map((e) => e.tokenTypeIds ?? new Array<number>(e.inputIds.length).fill(0)),
    T,
    0,
    lens,
  );
  const mask = new Int32Array(B * T);
  lens.forEach((n, i) => mask.fill(1, i * T, i * T + n));
  const inputs: BatchInputs = {
    inputIds: { data: ids, shape: [B, T] },
    tokenTypeIds: { data: types, shape: [B, T] },
    attentionMask: { data: mask, shape: [B, T] },
  };
  if (task === 'token') {
    if (ex.some((e) => e.tokenLabels === undefined)) return inputs;
    inputs.labels = {
      data: pad2d(
        ex.map((e) => e.tokenLabels),
        T,
        -100,
        lens,
      ),
      shape: [B, T],
    };
  } else if (task === 'qa') {
    if (ex.some((e) => e.startPosition === undefined || e.endPosition === undefined)) return inputs;
    inputs.startPositions = { data: Int32Array.from(ex.map((e) => e.startPosition!)), shape: [B] };
    inputs.endPositions = { data: Int32Array.from(ex.map((e) => e.endPosition!)), shape: [B] };
  } else {
    if (ex.some((e) => e.label === undefined)) return inputs;
    if (typeof ex[0]!.label === 'number') {
      inputs.labels = { data: Int32Array.from(ex.map((e) => e.label as number)), shape: [B] };
    } else {
      const L = (ex[0]!.label as number[]).length;
      inputs.labels = { data: Float32Array.from(ex.flatMap((e) => e.label as number[])), shape: [B, L] };
    }
  }
  return inputs;
}

/** Pads multiple-choice examples into [B, C, T] inputs (T = longest choice of the batch). */
export function collateChoices(
  examples: readonly EncodedChoices[],
  indices: readonly number[],
  padId: number,
): BatchInputs {
  const ex = indices.map((i) => examples[i]!);
  const B = ex.length;
  const C = ex[0]!.choices.length;
  if (ex.some((e) => e.choices.length !== C))
    throw new Error(`multiple choice: every example needs the same number of choices (${C})`);
  const T = Math.max(...ex.flatMap((e) => e.choices.map((c) => c.inputIds.length)));
  const ids = new Int32Array(B * C * T).fill(padId);
  const types = new Int32Array(B * C * T);
  const mask = new Int32Array(B * C * T);
  ex.forEach((e, b) =>
    e.choices.forEach((c, k) => {
      const o = (b * C + k) * T;
      ids.set(c.inputIds, o);
      if (c.tokenTypeIds) types.set(c.tokenTypeIds, o);
      mask.fill(1, o, o + c.inputIds.length);
    }),
  );
  return {
    inputIds: { data: ids, shape: [B, C, T] },
    tokenTypeIds: { data: types, shape: [B, C, T] },
    attentionMask: { data: mask, shape: [B, C, T] },
    labels: { data: Int32Array.from(ex.map((e) => e.label)), shape: [B] },
  };
}

/** An indexed dataset over encoded single-sequence examples (classification, tokens, QA). */
export function encodedDataset(
  examples: readonly EncodedExample[],
  task: EncodedTask,
  padId: number,
): IndexedDataset<BatchInputs> {
  return {
    size: examples.length,
    lengthOf: (i) => examples[i]!.inputIds.length,
    collate: (idx) => collateEncoded(examples, idx, task, padId),
  };
}

/** An indexed dataset over multiple-choice examples. */
export function choicesDataset(examples: readonly EncodedChoices[], padId: number): IndexedDataset<BatchInputs> {
  return {
    size: examples.length,
    lengthOf: (i) => Math.max(...examples[i]!.choices.map((c) => c.inputIds.length)),
    collate: (idx) => collateChoices(examples, idx, padId),
  };
}

/** A padded batch of pre-training instances, flat row-major [B, T]. */
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
    x.maskedPositions.forEach((p, k) => {
      maskedIndex[m] = b * T + p;
      maskedLabels[m] = x.maskedLabels[k] ?? -100;
      m++;
    });
    nextSentenceLabels[b] = x.isRandomNext ? 1 : 0;
  });
  return { B, T, inputIds, tokenTypeIds, attentionMask, maskedIndex, maskedLabels, nextSentenceLabels };
}

/**
 * The indices 0..count-1 in slices of at most `size`: consecutive, or with `lengthOf`, longest first (ties in index
 * order), so that a list of texts of varying length is not padded to its longest text in every batch (as
 * sentence-transformers' encode and CrossEncoder.predict batch). `maxTokens` (with `lengthOf`) also ends a slice
 * before its padded size (items x its first, longest, length) would pass it; a slice always holds one item.
 */
export function batchOrder(
  count: number,
  size: number,
  lengthOf?: (index: number) => number,
  maxTokens = Infinity,
): number[][] {
  const order = Array.from({ length: count }, (_, i) => i);
  const lengths = lengthOf ? order.map(lengthOf) : null;
  if (lengths) order.sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const out: number[][] = [];
  for (let s = 0; s < count;) {
    const longest = lengths ? lengths[order[s]!]! : 0;
    const fit = lengths ? Math.max(1, Math.floor(maxTokens / Math.max(longest, 1))) : size;
    const n = Math.min(size, fit);
    out.push(order.slice(s, s + n));
    s += n;
  }
  return out;
}
