// The text-classification task (alias sentiment-analysis): BertForSequenceClassification's logits through HF's
// function_to_apply, the topK labels of each text.
import { BertForSequenceClassification } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import { InputError } from '../model/errors.js';
import { sigmoid, softmax, topKIndices } from './math.js';
import type { PipelineBase } from './pipeline.js';
import { dims, INFERENCE, inChunks, labelOf, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { LabelScore, TextClassificationCallOptions, TextInput, EitherSpelling } from './types.js';

export interface TextClassificationPipeline extends PipelineBase<
  TextInput,
  LabelScore[],
  TextClassificationCallOptions
> {
  /** One text: its topK labels, best first. */
  (input: TextInput, options?: EitherSpelling<TextClassificationCallOptions>): Promise<LabelScore[]>;
  /** Several texts: one {label, score} each when topK is 1 (HF's shape), else a list per text. */
  (
    inputs: TextInput[],
    options?: EitherSpelling<TextClassificationCallOptions>,
  ): Promise<LabelScore[] | LabelScore[][]>;
}

/**
 * The topK labels of each text. Runnable from the repository root (hf-tiny's random 3-label fixture, so the score
 * means nothing; real output):
 * ```ts
 * const classify = await pipeline('sentiment-analysis', '../shared/fixtures/hf-tiny/seq_cls3', { tokenizer: '../shared/fixtures/hf-tiny/tokenizer' });
 * await classify('This movie was absolutely fantastic!'); // [{ label: 'positive', score: 0.4215713333557226 }]
 * ```
 */
export function textClassification(
  ctx: RunnerContext<{ logits: Tensor }>,
  inputs: TextInput[],
  options: TextClassificationCallOptions = {},
): LabelScore[][] {
  const config = ctx.model.config;
  const numLabels = Object.keys(config.id2label).length;
  // HF's choice: regression -> none; multi-label or a single output -> sigmoid; otherwise softmax.
  const fn =
    options.functionToApply ??
    (config.problemType === 'regression'
      ? 'none'
      : config.problemType === 'multi_label_classification' || numLabels === 1
        ? 'sigmoid'
        : 'softmax');
  const topK = options.topK === null ? Infinity : (options.topK ?? 1);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1 (or null for every label), got ${options.topK}`);
  const encoded = inputs.map((input) => {
    const [text, pair] = typeof input === 'string' ? [input, null] : [input.text, input.text_pair ?? null];
    if (typeof text !== 'string')
      throw new InputError('text-classification', 'an input must be a string or {text, text_pair}');
    return ctx.tokenizer.encode(text, pair, ctx.maxLength);
  });
  // Batches of texts of similar length (a list's outputs stay in its order).
  const byLength = (e: { inputIds: number[] }): number => e.inputIds.length;
  return inChunks(
    encoded,
    ctx.batchSize,
    (encodings) => {
      const { logits } = ctx.model.forward(padBatch(encodings, ctx.tokenizer.padId), INFERENCE);
      const [, L] = dims(logits, 2, 'text-classification logits');
      return encodings.map((_, b) => {
        const row = logits.data.subarray(b * L, (b + 1) * L);
        const scores =
          fn === 'softmax' ? softmax(row) : fn === 'sigmoid' ? Float64Array.from(row, sigmoid) : Float64Array.from(row);
        return topKIndices(scores, Math.min(topK, L)).map((i) => ({ label: labelOf(config, i), score: scores[i]! }));
      });
    },
    byLength,
  );
}

export const textClassificationTask: TaskDefinition<
  { logits: Tensor },
  TextInput,
  LabelScore[],
  TextClassificationCallOptions
> = {
  loadModel: (folder, options) => BertForSequenceClassification.fromPretrained(folder, options),
  run: textClassification,
  call: (predictEach, readOptions) => async (input: TextInput | TextInput[], given?: unknown) => {
    const options = readOptions(given);
    if (!Array.isArray(input)) return (await predictEach([input], options))[0];
    return listShape(await predictEach(input, options), options.topK);
  },
};

/**
 * What a list of texts returns (HF's and transformers.js's shape): one {label, score} per text at topK 1 (the
 * default), else a list per text. The server answers a list request with the same shape.
 */
export function listShape(
  each: readonly LabelScore[][],
  topK: number | null | undefined,
): LabelScore[] | LabelScore[][] {
  // topK null asks for every label: a list per text, as for any topK above 1.
  return topK === undefined || topK === 1
    ? each.map((r) => r[0]).filter((r): r is LabelScore => r !== undefined)
    : [...each];
}
