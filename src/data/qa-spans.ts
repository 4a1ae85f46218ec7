// Question-answering windows and span scoring as HF's QuestionAnsweringPipeline does them (shared by the
// question-answering pipeline and QA fine-tuning's features and evaluation): the context is cut into
// overlapping windows ("only_second" truncation with a stride), each window's start/end logits are softmaxed over
// the context tokens and [CLS], spans are scored start_prob * end_prob with end - start < maxAnswerLen, and the
// best span is widened to whole words.
/** The context, tokenized once without special tokens. */
export interface ContextTokens {
  ids: number[];
  /** Character [start, end) of each token in the context string. */
  offsets: [number, number][];
  /** Word number of each token (a word is a piece without "##" plus the "##" pieces that follow it). */
  wordIds: number[];
}

/** One model input built from the question and a slice of the context. */
export interface QaWindow {
  inputIds: number[];
  tokenTypeIds: number[];
  /** 1 where a token cannot be part of an answer (question, [SEP]); 0 for context tokens and [CLS]. */
  pMask: number[];
  /** Position in the window of context token `contextStart`. */
  contextOffset: number;
  /** Context tokens [contextStart, contextEnd) are in this window. */
  contextStart: number;
  contextEnd: number;
}

export interface QaAnswer {
  score: number;
  start: number;
  end: number;
  answer: string;
}

/**
 * Cuts the context into windows of at most `maxSeqLen` tokens in all (the tokenizer's pair template around the
 * question and a slice of the context: `[CLS] question [SEP] context [SEP]` for BERT, `<s> question </s></s> context
 * </s>` for RoBERTa); each window repeats the last `stride` context tokens of the previous one, as tokenizers'
 * overflowing truncation does. pMask as HF's QuestionAnsweringPipeline: 0 for the context and [CLS], 1 elsewhere.
 */
export function buildWindows(
  questionIds: number[],
  context: ContextTokens,
  tok: Pick<QaTokenizer, 'withSpecialTokens' | 'clsId'>,
  maxSeqLen: number,
  stride: number,
  fail: (problem: string) => never = (problem) => {
    throw new RangeError(problem);
  },
): QaWindow[] {
  const probe = tok.withSpecialTokens(questionIds, [tok.clsId]);
  const added = probe.inputIds.length - questionIds.length - 1;
  const head = probe.sequenceIds.indexOf(1);
  const room = maxSeqLen - questionIds.length - added;
  if (room <= 0) {
    fail(
      `the question has ${questionIds.length} tokens, leaving no room for the context in ${maxSeqLen} tokens; ` +
        'shorten the question or raise maxSeqLen',
    );
  }
  if (stride >= room) {
    fail(
      `docStride ${stride} must be smaller than the ${room} context tokens that fit in a window ` +
        `(maxSeqLen ${maxSeqLen} minus a ${questionIds.length}-token question and ${added} special tokens)`,
    );
  }
  const windows: QaWindow[] = [];
  const n = context.ids.length;
  for (let start = 0; ; start += room - stride) {
    const end = Math.min(start + room, n);
    const w = tok.withSpecialTokens(questionIds, context.ids.slice(start, end));
    const pMask = w.sequenceIds.map((s, i) => (s === 1 || w.inputIds[i] === tok.clsId ? 0 : 1));
    windows.push({
      inputIds: w.inputIds,
      tokenTypeIds: w.tokenTypeIds,
      pMask,
      contextOffset: head,
      contextStart: start,
      contextEnd: end,
    });
    if (end >= n) break;
  }
  return windows;
}

function maskedSoftmax(logits: ArrayLike<number>, allowed: boolean[]): Float64Array {
  // HF replaces excluded logits by -10000 (not -inf) before the softmax; the same here, in float64.
  const n = allowed.length;
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, allowed[i] ? logits[i]! : -10000);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp((allowed[i] ? logits[i]! : -10000) - max);
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}

export interface SpanCandidate {
  /** Token positions in the window. */
  start: number;
  end: number;
  score: number;
}

/**
 * HF's select_starts_ends + decode_spans for one window: the `topK` best (start, end) pairs with start <= end <
 * start + maxAnswerLen, both on allowed tokens, and the null score ([CLS] start * [CLS] end) before [CLS] is zeroed.
 */
export function decodeWindowSpans(
  startLogits: ArrayLike<number>,
  endLogits: ArrayLike<number>,
  pMask: number[],
  topK: number,
  maxAnswerLen: number,
): { spans: SpanCandidate[]; nullScore: number } {
  const allowed = pMask.map((m) => m === 0);
  const start = maskedSoftmax(startLogits, allowed);
  const end = maskedSoftmax(endLogits, allowed);
  const nullScore = start[0]! * end[0]!;
  start[0] = 0;
  end[0] = 0;
  const n = allowed.length;
  // Every candidate of the (start, end) band; the full n x n matrix is only zeros outside it, and zeros rank after
  // any positive score, so ranking the band alone gives the same top-k (then undesired spans are filtered out).
  const candidates: SpanCandidate[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i; j < Math.min(n, i + maxAnswerLen); j++)
      candidates.push({ start: i, end: j, score: start[i]! * end[j]! });
  }
  // Stable sort: ties keep row-major order, as numpy's argmax does for topK = 1.
  candidates.sort((a, b) => b.score - a.score);
  const spans = candidates.slice(0, topK).filter((c) => allowed[c.start] && allowed[c.end]);
  return { spans, nullScore };
}

/**
 * Character span of a token span in a window, widened to whole words (HF's align_to_words): the start of the first
 * token's word and the end of the last token's word, counting only the word's pieces inside this window.
 */
export function spanToChars(window: QaWindow, context: ContextTokens, start: number, end: number): [number, number] {
  const toContext = (i: number): number => window.contextStart + (i - window.contextOffset);
  const inContext = (i: number): boolean =>
    i >= window.contextOffset && i < window.contextOffset + window.contextEnd - window.contextStart;
  if (!inContext(start) || !inContext(end)) return [0, 0]; // a [CLS] span: HF's offsets for [CLS] are (0, 0)
  const s = toContext(start);
  const e = toContext(end);
  let first = s;
  while (first > window.contextStart && context.wordIds[first - 1] === context.wordIds[s]) first--;
  let last = e;
  while (last + 1 < window.contextEnd && context.wordIds[last + 1] === context.wordIds[e]) last++;
  return [context.offsets[first]![0], context.offsets[last]![1]];
}

/** Ranks the answers of every window together (stable: earlier windows first on ties) and keeps the best topK. */
export function rankAnswers(
  context: string,
  contextTokens: ContextTokens,
  windows: QaWindow[],
  perWindow: { spans: SpanCandidate[]; nullScore: number }[],
  topK: number,
  handleImpossibleAnswer: boolean,
): QaAnswer[] {
  const answers: QaAnswer[] = [];
  let minNull = 1_000_000;
  perWindow.forEach(({ spans, nullScore }, w) => {
    minNull = Math.min(minNull, nullScore);
    const window = windows[w];
    if (window === undefined)
      throw new RangeError(`rankAnswers: ${perWindow.length} window results for ${windows.length} windows`);
    for (const span of spans) {
      const [start, end] = spanToChars(window, contextTokens, span.start, span.end);
      answers.push({ score: span.score, start, end, answer: context.slice(start, end) });
    }
  });
  if (handleImpossibleAnswer) answers.push({ score: minNull, start: 0, end: 0, answer: '' });
  return answers.sort((a, b) => b.score - a.score).slice(0, topK);
}

/** What QA features need from a tokenizer: context tokens with offsets and word ids, question ids, the pair template. */
export interface QaTokenizer {
  /** Ids of a text without special tokens, with [start, end) character offsets. */
  tokenize(text: string): { ids: number[]; offsets: [number, number][] };
  /** The word of each token of a text (BertTokenizer.wordIds: HF's word_ids), for whole-word answers. */
  wordIds(text: string): number[];
  /** The pair template around the question's and the context's ids (BertTokenizer.withSpecialTokens). */
  withSpecialTokens(
    a: readonly number[],
    b: readonly number[],
  ): { inputIds: number[]; tokenTypeIds: number[]; sequenceIds: (0 | 1 | null)[] };
  /** [CLS] (RoBERTa's <s>): the no-answer position, never masked. */
  readonly clsId: number;
}

/** The question's ids and the context's tokens as the QA windows take them. */
export function qaTokens(
  tok: QaTokenizer,
  ex: { question: string; context: string },
): { question: number[]; context: ContextTokens } {
  const question = tok.tokenize(ex.question).ids;
  const c = tok.tokenize(ex.context);
  const wordIds = tok.wordIds(ex.context);
  const context: ContextTokens = { ids: c.ids, offsets: c.offsets, wordIds };
  return { question, context };
}

/** How answers are decoded (HF's QuestionAnsweringPipeline parameters). */
export interface QaDecodeOptions {
  maxSeqLen: number;
  docStride: number;
  maxAnswerLen: number;
  topK: number;
  handleImpossibleAnswer: boolean;
  /** Windows per forward call. */
  batchSize: number;
}

/**
 * The topK answers of each question, best first, as HF's pipeline finds them: every window of every input through
 * `forward` (a batch of windows in, each window's start and end logits out), spans scored per window, ranked per
 * input. The question-answering pipeline and QA evaluation both answer through this.
 */
export function answerQuestions(
  tok: QaTokenizer,
  inputs: readonly { question: string; context: string }[],
  o: QaDecodeOptions,
  forward: (windows: QaWindow[]) => { start: ArrayLike<number>; end: ArrayLike<number> }[],
  fail?: (problem: string) => never,
): QaAnswer[][] {
  const prepared = inputs.map((input) => {
    const { question, context } = qaTokens(tok, input);
    const windows = buildWindows(question, context, tok, o.maxSeqLen, o.docStride, fail);
    return { input, context, windows };
  });
  const flat = prepared.flatMap((p, n) => p.windows.map((w) => ({ n, w })));
  const decoded: { spans: SpanCandidate[]; nullScore: number }[] = [];
  for (let i = 0; i < flat.length; i += o.batchSize) {
    const chunk = flat.slice(i, i + o.batchSize);
    forward(chunk.map(({ w }) => w)).forEach((logits, b) =>
      decoded.push(decodeWindowSpans(logits.start, logits.end, chunk[b]!.w.pMask, o.topK, o.maxAnswerLen)),
    );
  }
  return prepared.map((p, n) => {
    const perWindow = decoded.filter((_, i) => flat[i]?.n === n);
    return rankAnswers(p.input.context, p.context, p.windows, perWindow, o.topK, o.handleImpossibleAnswer);
  });
}
