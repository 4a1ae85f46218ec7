// Question-answering windows and span scoring (src/data/qa-spans.ts: the pipeline's and QA fine-tuning's) against
// examples worked by hand through HF's pipeline code.
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildWindows,
  decodeWindowSpans,
  rankAnswers,
  spanToChars,
  type ContextTokens,
} from '../../src/data/qa-spans.js';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { at } from '../helpers/at.js';

const CLS = 9;
const SEP = 10;
/** BERT's pair template around ids ([CLS] a [SEP] b [SEP], types 0 then 1) with made-up [CLS] / [SEP] ids. */
const BERT = {
  clsId: CLS,
  withSpecialTokens: (a: readonly number[], b: readonly number[]) => ({
    inputIds: [CLS, ...a, SEP, ...b, SEP],
    tokenTypeIds: [0, ...a.map(() => 0), 0, ...b.map(() => 1), 1],
    sequenceIds: [null, ...a.map(() => 0 as const), null, ...b.map(() => 1 as const), null],
  }),
};

test('windows overlap by the stride and cover the whole context', () => {
  const context: ContextTokens = { ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => x + 100), offsets: [], wordIds: [] };
  // maxSeqLen 10 with a 2-token question leaves 5 context tokens per window; stride 2 -> windows start 0, 3, 6.
  const windows = buildWindows([50, 51], context, BERT, 10, 2);
  assert.deepEqual(
    windows.map((w) => [w.contextStart, w.contextEnd]),
    [
      [0, 5],
      [3, 8],
      [6, 10],
    ],
  );
  assert.deepEqual(at(windows, 0).inputIds, [CLS, 50, 51, SEP, 101, 102, 103, 104, 105, SEP]);
  assert.deepEqual(at(windows, 0).tokenTypeIds, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(at(windows, 0).pMask, [0, 1, 1, 1, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(at(windows, 2).inputIds, [CLS, 50, 51, SEP, 107, 108, 109, 110, SEP]);
  assert.equal(at(windows, 1).contextOffset, 4);
  // A context that fits is one window.
  assert.equal(buildWindows([50], context, BERT, 64, 32).length, 1);
  assert.throws(
    () => buildWindows([50, 51], context, BERT, 10, 5),
    /docStride 5 must be smaller than the 5 context tokens/,
  );
  assert.throws(() => buildWindows(new Array(8).fill(50), context, BERT, 10, 1), /leaving no room/);
});

test("windows follow the tokenizer's pair template: RoBERTa's <s> q </s></s> c </s>, BERT's [CLS] q [SEP] c [SEP]", () => {
  const context: ContextTokens = { ids: [101, 102, 103, 104, 105, 106], offsets: [], wordIds: [] };
  // RobertaProcessing (a tokenizer.json trained with HF tokenizers): 4 special tokens, every type 0.
  const roberta = BertTokenizer.fromTokenizerJson(readFileSync('test/tokenizer/fixtures/bpe-roberta.json', 'utf8'));
  const [s, e] = [roberta.clsTokenId!, roberta.sepTokenId!];
  const windows = buildWindows(
    [50, 51],
    context,
    { clsId: s, withSpecialTokens: (a, b) => roberta.withSpecialTokens(a, b) },
    10,
    1,
  );
  assert.deepEqual(at(windows, 0).inputIds, [s, 50, 51, e, e, 101, 102, 103, 104, e]);
  assert.deepEqual(at(windows, 0).tokenTypeIds, new Array(10).fill(0));
  assert.deepEqual(at(windows, 0).pMask, [0, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
  assert.equal(at(windows, 0).contextOffset, 5);
  assert.deepEqual(
    windows.map((w) => [w.contextStart, w.contextEnd]),
    [
      [0, 4],
      [3, 6],
    ],
  );
  // The same through BertTokenizer's BertProcessing template (the hf-tiny fixture's tokenizer.json).
  const bert = BertTokenizer.fromPretrained('../shared/fixtures/hf-tiny/tokenizer');
  const [c, p] = [bert.clsTokenId!, bert.sepTokenId!];
  const w = at(
    buildWindows([50, 51], context, { clsId: c, withSpecialTokens: (a, b) => bert.withSpecialTokens(a, b) }, 10, 1),
    0,
  );
  assert.deepEqual(w.inputIds, [c, 50, 51, p, 101, 102, 103, 104, 105, p]);
  assert.deepEqual(w.tokenTypeIds, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  // A tokenizer whose model_input_names leave token_type_ids out gives the model type 0 everywhere.
  assert.deepEqual(bert.withoutTokenTypeIds().withSpecialTokens([50], [101]).tokenTypeIds, [0, 0, 0, 0, 0]);
});

// Window [CLS] q [SEP] c1 c2 c3 c4 [SEP]: start probabilities over the allowed tokens ([CLS], c1..c4) are
// 1,1,4,2,1 / 9 and end probabilities 1,1,1,5,2 / 10; question and [SEP] logits are huge but must be ignored.
const pMask = [0, 1, 1, 0, 0, 0, 0, 1];
const startLogits = [0, 100, 100, 0, Math.log(4), Math.log(2), 0, 100];
const endLogits = [0, 100, 100, 0, 0, Math.log(5), Math.log(2), 100];

test('span scores are start_prob * end_prob over context tokens, [CLS] excluded, length bounded', () => {
  const { spans, nullScore } = decodeWindowSpans(startLogits, endLogits, pMask, 3, 15);
  assert.ok(Math.abs(nullScore - 1 / 90) < 1e-12);
  const expected = [
    { start: 4, end: 5, score: (4 / 9) * 0.5 },
    { start: 5, end: 5, score: (2 / 9) * 0.5 },
    { start: 4, end: 6, score: (4 / 9) * 0.2 },
  ];
  assert.equal(spans.length, 3);
  spans.forEach((s, i) => {
    const want = at(expected, i);
    assert.equal(s.start, want.start);
    assert.equal(s.end, want.end);
    assert.ok(Math.abs(s.score - want.score) < 1e-12, `${s.score} vs ${want.score}`);
  });
  // maxAnswerLen 1 allows only single tokens: c3 alone (2/9 * 1/2) wins over c2 alone (4/9 * 1/10).
  const single = decodeWindowSpans(startLogits, endLogits, pMask, 1, 1).spans;
  assert.deepEqual(
    single.map((s) => [s.start, s.end]),
    [[5, 5]],
  );
  assert.ok(Math.abs(at(single, 0).score - 1 / 9) < 1e-12);
});

test('answers are widened to whole words and ranked across windows', () => {
  const contextText = 'The quick brownish fox';
  const ctx: ContextTokens = {
    ids: [1, 2, 3, 4, 5],
    offsets: [
      [0, 3],
      [4, 9],
      [10, 15],
      [15, 18],
      [19, 22],
    ],
    wordIds: [0, 1, 2, 2, 3], // BertTokenizer.wordIds: "##ish" continues "brown"
  };
  assert.deepEqual(ctx.wordIds, [0, 1, 2, 2, 3]);
  const whole = at(buildWindows([50], ctx, BERT, 64, 32), 0);
  // "##ish" alone (window position 3 + 3) widens to "brownish".
  assert.deepEqual(spanToChars(whole, ctx, 6, 6), [10, 18]);
  assert.deepEqual(spanToChars(whole, ctx, 4, 5), [4, 18]);
  // In a window that starts at "##ish", the word is only the part inside the window (tokenizers' word_to_chars).
  const windows = buildWindows([50], ctx, BERT, 7, 1); // 3 context tokens per window, step 2
  assert.deepEqual(
    windows.map((w) => [w.contextStart, w.contextEnd]),
    [
      [0, 3],
      [2, 5],
    ],
  );
  assert.deepEqual(spanToChars(at(windows, 1), ctx, 3, 3), [10, 18]);
  const tail = buildWindows([50], ctx, BERT, 6, 1); // 2 per window, step 1: [0,2] [1,3] [2,4] [3,5]
  assert.deepEqual(spanToChars(at(tail, 3), ctx, 3, 3), [15, 18]);
  assert.deepEqual(spanToChars(at(tail, 3), ctx, 0, 0), [0, 0]);

  const perWindow = [
    { spans: [{ start: 3, end: 3, score: 0.2 }], nullScore: 0.3 },
    { spans: [{ start: 4, end: 5, score: 0.6 }], nullScore: 0.05 },
  ];
  const ranked = rankAnswers(contextText, ctx, windows, perWindow, 2, false);
  assert.deepEqual(ranked, [
    { score: 0.6, start: 10, end: 22, answer: 'brownish fox' }, // window 1 holds brown ##ish fox: whole word
    { score: 0.2, start: 0, end: 3, answer: 'The' },
  ]);
  // handleImpossibleAnswer adds the smallest null score as an empty answer.
  const withNull = rankAnswers(contextText, ctx, windows, perWindow, 3, true);
  assert.deepEqual(withNull[2], { score: 0.05, start: 0, end: 0, answer: '' });
});
