// The question-answering task: BertForQuestionAnswering's start / end logits over the context's windows, the
// best spans ranked as HF does (windows and spans in src/data/qa-spans.ts, shared with QA evaluation).
import { BertForQuestionAnswering } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import { InputError } from '../model/errors.js';
import type { PipelineBase } from './pipeline.js';
import { answerQuestions, type QaAnswer } from '../data/qa-spans.js';
import { INFERENCE, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
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
  inputs.forEach((input, n) => {
    if (!input || typeof input.question !== 'string' || typeof input.context !== 'string') {
      throw new InputError('question-answering', `input ${n} must be {question: string, context: string}`);
    }
  });
  const decode = { maxSeqLen, docStride, maxAnswerLen, topK, batchSize: ctx.batchSize };
  return answerQuestions(
    tok,
    inputs,
    { ...decode, handleImpossibleAnswer: options.handleImpossibleAnswer ?? false },
    (windows) => {
      const batch = padBatch(windows, tok.padId);
      const { startLogits, endLogits } = ctx.model.forward(batch, INFERENCE);
      const T = batch.T;
      return windows.map((w, b) => ({
        start: startLogits.data.subarray(b * T, b * T + w.inputIds.length),
        end: endLogits.data.subarray(b * T, b * T + w.inputIds.length),
      }));
    },
    (problem) => {
      throw new InputError('question-answering', problem);
    },
  );
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
