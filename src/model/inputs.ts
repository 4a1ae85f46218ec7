// Model inputs: nested number arrays or typed arrays with a shape, flattened and validated once per forward.
import { InputError } from './errors.js';

/** A typed (or plain) array with an explicit row-major shape. */
export interface ShapedArray {
  data: ArrayLike<number> | BigInt64Array | BigUint64Array;
  shape: readonly number[];
}

/** Nested arrays ([batch][seq], [batch][choices][seq], [batch], ...) or a shaped typed array. */
export type ArrayInput = number | number[] | number[][] | number[][][] | ShapedArray;

export interface BertInputs {
  inputIds: ArrayInput;
  /** 1 for tokens to attend to, 0 for padding; all ones when omitted. */
  attentionMask?: ArrayInput;
  /** Segment ids (0 or 1 for sentence pairs); zeros when omitted. */
  tokenTypeIds?: ArrayInput;
  /** Head labels: class ids, token label ids (-100 ignored), regression targets or multi-label 0/1 floats. */
  labels?: ArrayInput;
  /** Question answering targets, one position per example. */
  startPositions?: ArrayInput;
  endPositions?: ArrayInput;
  /** BertForPreTraining: 0 = sentence B follows A, 1 = random sentence. */
  nextSentenceLabel?: ArrayInput;
}

export interface Flat {
  data: Float64Array;
  shape: number[];
}

function isShaped(x: unknown): x is ShapedArray {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && 'data' in x && 'shape' in x;
}

/** Flattens an input to doubles (ids fit exactly) with its shape; `what` names the input in errors. */
export function flatten(input: ArrayInput, what: string): Flat {
  if (typeof input === 'number') return { data: Float64Array.of(input), shape: [] };
  if (isShaped(input)) {
    const shape = Array.from(input.shape);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new InputError(what, `invalid shape [${shape.join(', ')}]`);
    if (input.data.length !== n)
      throw new InputError(what, `shape [${shape.join(', ')}] needs ${n} values but data has ${input.data.length}`);
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = Number(input.data[i]);
    return { data, shape };
  }
  if (!Array.isArray(input))
    throw new InputError(what, `expected nested number arrays or { data, shape }, found ${typeof input}`);
  const shape: number[] = [];
  let probe: unknown = input;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  let pos = 0;
  const walk = (x: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof x !== 'number' || Number.isNaN(x))
        throw new InputError(`${what}${path}`, `expected a number, found ${JSON.stringify(x)}`);
      data[pos++] = x;
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new InputError(
        `${what}${path}`,
        `ragged input, expected an array of length ${shape[depth]} (pad sequences to one length)`,
      );
    }
    for (let i = 0; i < x.length; i++) walk(x[i], depth + 1, `${path}[${i}]`);
  };
  walk(input, 0, '');
  return { data, shape };
}

/** Flattens integer input, checking every value is an integer (ids, labels). */
export function flattenInt(input: ArrayInput, what: string): { data: Int32Array; shape: number[] } {
  const f = flatten(input, what);
  const out = new Int32Array(f.data.length);
  for (let i = 0; i < f.data.length; i++) {
    const v = f.data[i]!;
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)
      throw new InputError(what, `value ${v} at flat index ${i} is not a 32-bit integer`);
    out[i] = v;
  }
  return { data: out, shape: f.shape };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
