// The question-answering pipeline's window and span helpers, which live in src/data/qa-spans.ts (QA fine-tuning's
// features and evaluation use the same ones).
export {
  buildWindows,
  decodeWindowSpans,
  rankAnswers,
  spanToChars,
  wordIdsFromTokens,
  type ContextTokens,
  type QaAnswer,
  type QaWindow,
  type SpanCandidate,
} from '../data/qa-spans.js';
