// The feature-extraction task: BertModel's last hidden state per token, or one vector per text with cls / mean
// pooling (optionally L2-normalised, as sentence-transformers).
import { BertModel } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import { normalizeL2 } from './math.js';
import type { PipelineBase } from './pipeline.js';
import { dims, INFERENCE, inChunks, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { FeatureExtractionCallOptions } from './types.js';

export interface FeatureExtractionPipeline extends PipelineBase<
  string,
  number[] | number[][],
  FeatureExtractionCallOptions
> {
  /** One text: [tokens][hidden] without pooling, [hidden] with cls/mean pooling. */
  (input: string, options?: FeatureExtractionCallOptions): Promise<number[] | number[][]>;
  (inputs: string[], options?: FeatureExtractionCallOptions): Promise<(number[] | number[][])[]>;
}

/**
 * Hidden states per token, or one vector per text with pooling. Runnable from the repository root (real output of
 * the shipped BERT-mini):
 * ```ts
 * const embed = await pipeline('feature-extraction', 'assets/default-model');
 * await embed('A great film.', { pooling: 'mean', normalize: true });
 * // 256 numbers: [0.00325209281363599, -0.13050483547859434, -0.09548895639110132, ...]
 * ```
 */
export function featureExtraction(
  ctx: RunnerContext<{ lastHiddenState: Tensor }>,
  inputs: string[],
  options: FeatureExtractionCallOptions = {},
): (number[] | number[][])[] {
  const pooling = options.pooling ?? 'none';
  if (!['none', 'cls', 'mean'].includes(pooling))
    throw new Error(`unknown pooling "${pooling}": use none, cls or mean`);
  return inChunks(inputs, ctx.batchSize, (chunk) => {
    const encodings = chunk.map((text) => ctx.tokenizer.encode(text, null, ctx.maxLength));
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
  });
}

export const featureExtractionTask: TaskDefinition<
  { lastHiddenState: Tensor },
  string,
  number[] | number[][],
  FeatureExtractionCallOptions
> = {
  // A checkpoint with a task head loads into BertModel with the head's weights unused: expected, so not warned.
  loadModel: (folder, options) => BertModel.fromPretrained(folder, { ...options, warn: options.warn ?? (() => {}) }),
  run: featureExtraction,
};
