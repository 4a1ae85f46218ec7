// Pipeline options in both spellings (transformers.js / HF snake_case `top_k`, camelCase `topK`): each task's call
// options and pipeline()'s own, read into camelCase; an unknown option is an InputError naming the known ones.
import { InputError } from '../model/errors.js';
import { readOptions } from '../tokenizer/options.js';

/** pipeline(task, model, options)'s options (camelCase; snake_case accepted). */
export const PIPELINE_OPTIONS = [
  'kernels',
  'tokenizer',
  'batchSize',
  'maxLength',
  'revision',
  'warn',
  'quiet',
  'dtype',
];

/** Each task's call options (camelCase; snake_case accepted). The server's `parameters` are the same names. */
export const CALL_OPTIONS = {
  'text-classification': ['topK', 'functionToApply'],
  'fill-mask': ['topK', 'targets'],
  'token-classification': ['aggregationStrategy', 'ignoreLabels', 'stride'],
  'question-answering': ['topK', 'maxAnswerLen', 'maxSeqLen', 'docStride', 'handleImpossibleAnswer'],
  // returnTensor is read by the call itself (a Tensor or nested arrays), not by the runner.
  'feature-extraction': ['pooling', 'normalize', 'returnTensor'],
} as const;

/** `options` read in either spelling into the camelCase names `known` lists; `where` starts the error message. */
export function readCallOptions<C>(where: string, options: unknown, known: readonly string[]): C {
  return readOptions(options, known, (problem) => {
    throw new InputError(where, problem);
  }) as C;
}
