// What every pipeline task shares: the task definition a row of the task table holds, the runner context (model,
// tokenizer, limits), padding a batch and running it in chunks.
import { batchOrder } from '../data/batching.js';
import { BATCH_TOKENS } from '../model/linear-dtype.js';
import type { PretrainedOptions } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { PipelineOptions, PipelineTokenizer } from './types.js';

/** Pipelines never back-propagate: layers share activation buffers. */
export const INFERENCE = { grad: false } as const;

/** The inputs every BERT model takes, as shaped Int32 arrays. */
export interface ModelBatch {
  inputIds: { data: Int32Array; shape: number[] };
  attentionMask: { data: Int32Array; shape: number[] };
  tokenTypeIds: { data: Int32Array; shape: number[] };
}

/** The model surface a runner needs: a forward pass returning named tensors. */
export interface ForwardModel<O> {
  readonly config: BertConfig;
  forward(inputs: ModelBatch, options?: { grad?: boolean }): O;
}

/** Shared state of a runner: the model, the tokenizer and the length and batch limits. */
export interface RunnerContext<O> {
  model: ForwardModel<O>;
  tokenizer: PipelineTokenizer;
  maxLength: number;
  batchSize: number;
}

/** One output per input: what the server and the worker pool call. */
export type PredictEach<I, O, C> = (inputs: I[], options?: C) => Promise<O[]>;

/**
 * A row of the task table (transformers.js `SUPPORTED_TASKS`): the model class a task loads, its runner, and how a
 * call's arguments map onto the runner. `Out` is what the model's forward returns, `I` / `O` one input / output,
 * `C` the call options.
 */
export interface TaskDefinition<Out, I, O, C> {
  /** Loads the task's model class from a local folder. */
  loadModel(folder: string, options: PretrainedOptions): Promise<ForwardModel<Out>>;
  /** Runs the task: one output per input. */
  run(ctx: RunnerContext<Out>, inputs: I[], options?: C): O[];
  /**
   * The call signature; without it, one input gives its output and a list a list. `readOptions` reads a call's
   * options in either spelling (top_k / topK), refusing unknown ones.
   */
  call?: (
    predictEach: PredictEach<I, O, C>,
    readOptions: (options: unknown) => C,
  ) => (...args: never[]) => Promise<unknown>;
}

/** The context of a runner, with `batchSize` and `maxLength` checked and capped by the model and tokenizer. */
export function runnerContext<O>(
  model: ForwardModel<O>,
  tokenizer: PipelineTokenizer,
  options: PipelineOptions,
): RunnerContext<O> {
  const limit = Math.min(tokenizer.modelMaxLength, model.config.maxSequenceLength);
  const maxLength = Math.min(options.maxLength ?? limit, limit);
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(maxLength) || maxLength < 3)
    throw new RangeError(`maxLength must be an integer >= 3, got ${maxLength}`);
  return { model, tokenizer, maxLength, batchSize };
}

/** Pads encodings to the longest of them (right padding, attention mask 0 on pads). */
export function padBatch(
  encodings: { inputIds: number[]; tokenTypeIds: number[] }[],
  padId: number,
): ModelBatch & { T: number } {
  const B = encodings.length;
  const T = Math.max(1, ...encodings.map((e) => e.inputIds.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const types = new Int32Array(B * T);
  encodings.forEach((e, b) => {
    ids.set(e.inputIds, b * T);
    mask.fill(1, b * T, b * T + e.inputIds.length);
    types.set(e.tokenTypeIds.slice(0, e.inputIds.length), b * T);
  });
  const shape = [B, T];
  return {
    inputIds: { data: ids, shape },
    attentionMask: { data: mask, shape },
    tokenTypeIds: { data: types, shape },
    T,
  };
}

/**
 * Runs `fn` on slices of at most `size` items and returns the results in the items' order: consecutive slices, or,
 * with `lengthOf` (tokens), slices of items of similar length (longest first) of at most BATCH_TOKENS padded tokens,
 * so that a list of texts of varying length is not padded to its longest text in every batch, and a batch of long
 * texts runs on the weights packed for inference (measured in docs/performance.md).
 */
export function inChunks<I, O>(items: I[], size: number, fn: (chunk: I[]) => O[], lengthOf?: (item: I) => number): O[] {
  const out = new Array<O>(items.length);
  for (const idx of batchOrder(items.length, size, lengthOf && ((i) => lengthOf(items[i]!)), BATCH_TOKENS))
    fn(idx.map((i) => items[i]!)).forEach((o, k) => (out[idx[k]!] = o));
  return out;
}

/** The label of a class id: config.id2label, else HF's default name. */
export function labelOf(config: BertConfig, id: number): string {
  return config.id2label[id] ?? `LABEL_${id}`;
}

/** The dimensions of a model output, checked against the rank the task reads it with. */
export function dims<N extends 2 | 3>(
  tensor: { shape: number[] },
  rank: N,
  what: string,
): N extends 2 ? [number, number] : [number, number, number] {
  const shape = tensor.shape;
  if (shape.length !== rank || shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`${what}: expected a ${rank}-dimensional output, got shape [${shape.join(', ')}]`);
  return shape.slice() as N extends 2 ? [number, number] : [number, number, number];
}
