// The question-answering pipeline's window and span helpers (src/data/qa-spans.ts), its bad inputs as InputError.
import { buildWindows as windows, type ContextTokens, type QaWindow } from '../data/qa-spans.js';
import { InputError } from '../model/errors.js';

export {
  decodeWindowSpans,
  rankAnswers,
  spanToChars,
  wordIdsFromTokens,
  type ContextTokens,
  type QaAnswer,
  type QaWindow,
  type SpanCandidate,
} from '../data/qa-spans.js';

/** buildWindows of src/data/qa-spans.ts, a question or stride that leaves no room refused as an InputError. */
export function buildWindows(
  questionIds: number[],
  context: ContextTokens,
  special: { cls: number; sep: number },
  maxSeqLen: number,
  stride: number,
): QaWindow[] {
  return windows(questionIds, context, special, maxSeqLen, stride, (problem) => {
    throw new InputError('question-answering', problem);
  });
}
