// The feature-extraction task: BertModel's last hidden state per token, or one vector per text with cls / mean
// pooling (optionally L2-normalised, as sentence-transformers), or a sentence-transformers folder's own modules.
import { BertModel } from '../model/bert.js';
import { InputError } from '../model/errors.js';
import { isSentenceTransformersFolder, SentenceTransformer } from '../model/sentence/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { normalizeL2 } from './math.js';
import type { PipelineBase } from './pipeline.js';
import { dims, INFERENCE, inChunks, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { EitherSpelling, FeatureExtractionCallOptions } from './types.js';
import { ResultTensor } from '../tensor/result.js';

type Options = EitherSpelling<FeatureExtractionCallOptions>;
type AsArrays = { returnTensor: false } | { return_tensor: false };

export interface FeatureExtractionPipeline extends PipelineBase<
  string,
  number[] | number[][],
  FeatureExtractionCallOptions
> {
  /**
   * As transformers.js: a float32 ResultTensor, [batch, tokens, hidden] without pooling (a shorter text's padding
   * positions are zero vectors), [batch, dims] with cls / mean / model pooling; one text is a batch of one.
   */
  (
    input: string | string[],
    options?: Options & { returnTensor?: true; return_tensor?: true },
  ): Promise<ResultTensor<'float32'>>;
  /** returnTensor false: one text gives [tokens][hidden] without pooling, [dims] with it; a list a list of those. */
  (input: string, options: Options & AsArrays): Promise<number[] | number[][]>;
  (inputs: string[], options: Options & AsArrays): Promise<(number[] | number[][])[]>;
  (
    input: string | string[],
    options?: Options,
  ): Promise<ResultTensor<'float32'> | number[] | number[][] | (number[] | number[][])[]>;
}

/**
 * Hidden states per token, or one vector per text with pooling. Runnable from the repository root (real output of
 * the shipped RoBERTa-mini):
 * ```ts
 * const embed = await pipeline('feature-extraction', 'assets/default-model');
 * await embed('A great film.', { pooling: 'mean', normalize: true });
 * // 256 numbers: [-0.057481877505779266, 0.03604757413268089, 0.0584208182990551, ...]
 * ```
 */
export function featureExtraction(
  ctx: RunnerContext<{ lastHiddenState: Tensor }>,
  inputs: string[],
  options: FeatureExtractionCallOptions = {},
): (number[] | number[][])[] {
  // A folder with modules.json: pooling 'model' (the default then) runs sentence-transformers' encode (its pooling,
  // Dense layers, Normalize, max_seq_length).
  const sentence = sentenceModules.get(ctx.model) ?? null;
  const pooling = options.pooling ?? (sentence ? 'model' : 'none');
  if (!['none', 'cls', 'mean', 'model'].includes(pooling))
    throw new Error(`unknown pooling "${pooling}": use none, cls, mean or model`);
  if (pooling === 'model') {
    if (!sentence) throw new Error('pooling "model" needs a sentence-transformers folder (one with modules.json)');
    inputs.forEach((t, i) => {
      if (typeof t !== 'string') throw new InputError('feature-extraction', `input ${i} must be a string`);
    });
    return sentence
      .encode(inputs, { batchSize: ctx.batchSize, normalize: options.normalize ?? false })
      .map((v) => Array.from(v));
  }
  const encoded = inputs.map((text) => ctx.tokenizer.encode(text, null, ctx.maxLength));
  // Batches of texts of similar length (a list's outputs stay in its order).
  return inChunks(
    encoded,
    ctx.batchSize,
    (encodings) => {
      const { lastHiddenState } = ctx.model.forward(padBatch(encodings, ctx.tokenizer.padId), INFERENCE);
      const [, T, H] = dims(lastHiddenState, 3, 'feature-extraction hidden states');
      const data = lastHiddenState.data;
      return encodings.map((e, b) => {
        const n = e.inputIds.length;
        const row = (t: number): number[] => Array.from(data.subarray((b * T + t) * H, (b * T + t + 1) * H));
        const finish = (v: number[]): number[] => (options.normalize ? normalizeL2(v) : v);
        if (pooling === 'cls') return finish(row(0));
        if (pooling === 'mean') {
          // Mean over the real tokens ([CLS] and [SEP] included, padding excluded), as sentence-transformers does.
          const mean = new Array<number>(H).fill(0);
          for (let t = 0; t < n; t++) row(t).forEach((x, h) => (mean[h] = (mean[h] ?? 0) + x));
          return finish(mean.map((x) => x / n));
        }
        return Array.from({ length: n }, (_, t) => finish(row(t)));
      });
    },
    (e) => e.inputIds.length,
  );
}

/** The sentence-transformers modules of a model that loadModel read from a folder with modules.json. */
const sentenceModules = new WeakMap<object, SentenceTransformer>();

export const featureExtractionTask: TaskDefinition<
  { lastHiddenState: Tensor },
  string,
  number[] | number[][],
  FeatureExtractionCallOptions
> = {
  // A checkpoint with a task head loads into BertModel with the head's weights unused: expected, so not warned.
  loadModel: async (folder, options) => {
    const quiet = { ...options, warn: options.warn ?? (() => {}) };
    if (!isSentenceTransformersFolder(folder)) return BertModel.fromPretrained(folder, quiet);
    const sentence = await SentenceTransformer.fromPretrained(folder, quiet);
    sentenceModules.set(sentence.bert, sentence);
    return sentence.bert;
  },
  run: featureExtraction,
  call: (predictEach, readOptions) => async (input: string | string[], given?: unknown) => {
    const { returnTensor, ...options } = readOptions(given);
    const each = await predictEach(Array.isArray(input) ? input : [input], options);
    if (returnTensor === false) return Array.isArray(input) ? each : each[0];
    return stack(each);
  },
};

/** Per-text vectors ([dims]) or token vectors ([tokens][hidden]) as one tensor, shorter texts padded with zeros. */
function stack(each: (number[] | number[][])[]): ResultTensor<'float32'> {
  const first = each[0];
  if (first === undefined) return new ResultTensor('float32', new Float32Array(0), [0, 0]);
  if (!Array.isArray(first[0])) {
    const H = first.length;
    const data = new Float32Array(each.length * H);
    each.forEach((v, b) => data.set(v as number[], b * H));
    return new ResultTensor('float32', data, [each.length, H]);
  }
  const rows = each as number[][][];
  const T = Math.max(...rows.map((r) => r.length));
  const H = rows[0]![0]!.length;
  const data = new Float32Array(rows.length * T * H);
  rows.forEach((r, b) => r.forEach((v, t) => data.set(v, (b * T + t) * H)));
  return new ResultTensor('float32', data, [rows.length, T, H]);
}
