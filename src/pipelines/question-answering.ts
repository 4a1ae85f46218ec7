// The question-answering task: BertForQuestionAnswering's start / end logits over the context's windows, the
// best spans ranked as HF does (the window helpers are in qa.ts).
import { BertForQuestionAnswering } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import { InputError } from '../model/errors.js';
import type { PipelineBase } from './pipeline.js';
import {
  buildWindows,
  decodeWindowSpans,
  rankAnswers,
  wordIdsFromTokens,
  type ContextTokens,
  type QaAnswer,
} from './qa.js';
import { INFERENCE, inChunks, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { QaInput, QuestionAnsweringCallOptions, EitherSpelling } from './types.js';

export interface QuestionAnsweringPipeline extends PipelineBase<
  QaInput,
  QaAnswer | QaAnswer[],
  QuestionAnsweringCallOptions
> {
  /** One question: the best answer, or a list when topK > 1. */
  (input: QaInput, options?: EitherSpelling<QuestionAnsweringCallOptions>): Promise<QaAnswer | QaAnswer[]>;
  (
    question: string,
    context: string,
    options?: EitherSpelling<QuestionAnsweringCallOptions>,
  ): Promise<QaAnswer | QaAnswer[]>;
  (inputs: QaInput[], options?: EitherSpelling<QuestionAnsweringCallOptions>): Promise<(QaAnswer | QaAnswer[])[]>;
}

/**
 * The topK answers of each question, best first. Runnable from the repository root (hf-tiny's random fixture;
 * real output):
 * ```ts
 * const qa = await pipeline('question-answering', '../shared/fixtures/hf-tiny/qa', { tokenizer: '../shared/fixtures/hf-tiny/tokenizer' });
 * await qa('Where does John live?', 'John lives in Paris.'); // { score: 0.07173027165046272, start: 19, end: 20, answer: '.' }
 * ```
 */
export function questionAnswering(
  ctx: RunnerContext<{ startLogits: Tensor; endLogits: Tensor }>,
  inputs: QaInput[],
  options: QuestionAnsweringCallOptions = {},
): QaAnswer[][] {
  const tok = ctx.tokenizer;
  const maxSeqLen = Math.min(options.maxSeqLen ?? 384, ctx.maxLength);
  const docStride = options.docStride ?? Math.min(128, Math.floor(maxSeqLen / 2));
  const maxAnswerLen = options.maxAnswerLen ?? 15;
  const topK = options.topK ?? 1;
  if (!(maxAnswerLen >= 1)) throw new RangeError(`maxAnswerLen must be at least 1, got ${options.maxAnswerLen}`);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1, got ${options.topK}`);
  // Every window of every input goes through the model in batches; answers are then ranked per input.
  const prepared = inputs.map((input, n) => {
    if (!input || typeof input.question !== 'string' || typeof input.context !== 'string') {
      throw new InputError('question-answering', `input ${n} must be {question: string, context: string}`);
    }
    const question = tok.tokenize(input.question).ids;
    const ctxTokens = tok.tokenize(input.context);
    const context: ContextTokens = {
      ids: ctxTokens.ids,
      offsets: ctxTokens.offsets,
      wordIds: wordIdsFromTokens(ctxTokens.ids.map((id) => tok.idToToken(id))),
    };
    const windows = buildWindows(question, context, { cls: tok.clsId, sep: tok.sepId }, maxSeqLen, docStride);
    return { input, context, windows };
  });
  const flat = prepared.flatMap((p, n) => p.windows.map((w) => ({ n, w })));
  const decoded = inChunks(flat, ctx.batchSize, (chunk) => {
    const batch = padBatch(
      chunk.map(({ w }) => w),
      tok.padId,
    );
    const { startLogits, endLogits } = ctx.model.forward(batch, INFERENCE);
    const T = batch.T;
    return chunk.map(({ w }, b) => {
      const n = w.inputIds.length;
      return decodeWindowSpans(
        startLogits.data.subarray(b * T, b * T + n),
        endLogits.data.subarray(b * T, b * T + n),
        w.pMask,
        topK,
        maxAnswerLen,
      );
    });
  });
  return prepared.map((p, n) => {
    const perWindow = decoded.filter((_, i) => flat[i]?.n === n);
    return rankAnswers(p.input.context, p.context, p.windows, perWindow, topK, options.handleImpossibleAnswer ?? false);
  });
}

export const questionAnsweringTask: TaskDefinition<
  { startLogits: Tensor; endLogits: Tensor },
  QaInput,
  QaAnswer | QaAnswer[],
  QuestionAnsweringCallOptions
> = {
  loadModel: (folder, options) => BertForQuestionAnswering.fromPretrained(folder, options),
  // HF returns the answer itself for top_k 1, a list otherwise.
  run: (ctx, inputs, options) =>
    questionAnswering(ctx, inputs, options).map((answers) =>
      (options?.topK ?? 1) === 1 && answers.length === 1 && answers[0] ? answers[0] : answers,
    ),
  call:
    (predictEach) =>
    async (
      input: QaInput | QaInput[] | string,
      contextOrOptions?: string | QuestionAnsweringCallOptions,
      maybeOptions?: QuestionAnsweringCallOptions,
    ) => {
      if (typeof input === 'string') {
        if (typeof contextOrOptions !== 'string')
          throw new TypeError('question-answering: pass (question, context) or {question, context}');
        return (await predictEach([{ question: input, context: contextOrOptions }], maybeOptions))[0];
      }
      const options = typeof contextOrOptions === 'string' ? maybeOptions : contextOrOptions;
      return Array.isArray(input) ? predictEach(input, options) : (await predictEach([input], options))[0];
    },
};
