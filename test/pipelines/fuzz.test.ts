// Seeded fuzzing of the pipelines on random Unicode: no throw, offsets inside the text and ordered, answers
// that are exact substrings of the context, probabilities that sum to 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pipeline } from '../../src/pipelines/pipeline.js';
import { at } from '../helpers/at.js';

const TINY = '../shared/fixtures/hf-tiny';
const options = { tokenizer: `${TINY}/tokenizer`, warn: () => {} };

// Words from the fixture vocabulary mixed with arbitrary Unicode (emoji, CJK, accents, controls, spaces).
const word = fc.oneof(
  fc.constantFrom(
    'the',
    'movie',
    'was',
    'good',
    'bad',
    'acting',
    'superb',
    '!',
    ',',
    '.',
    "'s",
    'hugging',
    'face',
    'café',
    'naïve',
  ),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const text = fc.array(word, { maxLength: 40 }).map((ws) => ws.join(' '));

test('text-classification and token-classification on random Unicode', { timeout: 60_000 }, async () => {
  const classify = await pipeline('text-classification', `${TINY}/seq_cls3`, options);
  const ner = await pipeline('ner', `${TINY}/token_cls5`, options);
  await fc.assert(
    fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 4 }), async (texts) => {
      const all = await classify.predictEach(texts, { topK: null });
      for (const labels of all) {
        assert.equal(labels.length, 3);
        assert.ok(Math.abs(labels.reduce((a, l) => a + l.score, 0) - 1) < 1e-6);
      }
      for (const strategy of ['none', 'simple', 'first', 'average', 'max'] as const) {
        const results = await ner.predictEach(texts, { aggregationStrategy: strategy, ignoreLabels: [] });
        results.forEach((entities, i) => {
          const text = at(texts, i);
          let last = 0;
          for (const e of entities as { start: number; end: number; score: number }[]) {
            assert.ok(
              e.start >= last && e.start <= e.end && e.end <= text.length,
              `${strategy}: ${e.start}..${e.end} in ${JSON.stringify(text)}`,
            );
            assert.ok(e.score > 0 && e.score <= 1 + 1e-9);
            last = e.start;
          }
        });
      }
    }),
    { seed: 7, numRuns: 60 },
  );
});

test(
  'question-answering on random Unicode contexts: answers are substrings at their offsets',
  { timeout: 60_000 },
  async () => {
    const qa = await pipeline('question-answering', `${TINY}/qa`, options);
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(word, { minLength: 1, maxLength: 120 }).map((ws) => ws.join(' ')),
        async (question, context) => {
          const q = [...question].slice(0, 40).join(''); // by code points: never cut a surrogate pair
          let answers;
          try {
            answers = (await qa({ question: q, context }, { topK: 3, maxSeqLen: 48, docStride: 12 })) as
              | {
                  score: number;
                  start: number;
                  end: number;
                  answer: string;
                }[]
              | { score: number; start: number; end: number; answer: string };
          } catch (error) {
            // A question too long for the window is the one allowed, specific refusal.
            assert.match((error as Error).message, /leaving no room for the context|docStride 12 must be smaller/);
            return;
          }
          for (const a of Array.isArray(answers) ? answers : [answers]) {
            assert.equal(a.answer, context.slice(a.start, a.end));
            assert.ok(a.score >= 0 && a.score <= 1);
          }
        },
      ),
      { seed: 11, numRuns: 60 },
    );
  },
);
