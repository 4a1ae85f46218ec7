// Token-classification aggregation against examples worked by hand through HF's TokenClassificationPipeline code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateEntities,
  wordPieceTokensToString,
  isSubwordPiece,
  type PreEntity,
} from '../../src/pipelines/aggregation.js';
import { aggregateOverlappingEntities } from '../../src/pipelines/token-classification.js';
import { at } from '../helpers/at.js';

const id2label = { 0: 'O', 1: 'B-ORG', 2: 'I-ORG', 3: 'B-LOC', 4: 'I-LOC' };
const text = 'Hugging Face is in New York';

// Word pieces of the text with the model's label probabilities (rows sum to 1).
function pieces(): PreEntity[] {
  const rows: [string, number, number, number[]][] = [
    ['hu', 0, 2, [0.1, 0.7, 0.1, 0.05, 0.05]],
    ['##gging', 2, 7, [0.05, 0.05, 0.9, 0, 0]],
    ['face', 8, 12, [0.1, 0.1, 0.8, 0, 0]],
    ['is', 13, 15, [0.9, 0.025, 0.025, 0.025, 0.025]],
    ['in', 16, 18, [0.8, 0.05, 0.05, 0.05, 0.05]],
    ['new', 19, 22, [0.1, 0, 0, 0.6, 0.3]],
    ['york', 23, 27, [0.2, 0, 0, 0.3, 0.5]],
  ];
  return rows.map(([word, start, end, scores], i) => ({
    word,
    start,
    end,
    scores,
    index: i + 1, // [CLS] is index 0
    isSubword: isSubwordPiece(word, text.slice(start, end), false),
  }));
}

function close(actual: unknown, expected: unknown): void {
  // Scores are float sums; compare them to 1e-12 and everything else exactly.
  const round = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isInteger(x) ? Math.round(x * 1e12) / 1e12 : x)),
    );
  assert.deepEqual(round(actual), round(expected));
}

test("the subword test is HF's length comparison", () => {
  assert.deepEqual(
    pieces().map((p) => p.isSubword),
    [false, true, false, false, false, false, false],
  );
  assert.equal(text.slice(2, 7), 'gging');
  assert.equal(isSubwordPiece('[UNK]', 'ab', true), false);
  assert.equal(isSubwordPiece('😀', '😀', false), false); // one code point each, though two UTF-16 units
});

test('none: one entity per piece, "O" dropped, index kept', () => {
  close(aggregateEntities(pieces(), 'none', id2label), [
    { entity: 'B-ORG', score: 0.7, index: 1, word: 'hu', start: 0, end: 2 },
    { entity: 'I-ORG', score: 0.9, index: 2, word: '##gging', start: 2, end: 7 },
    { entity: 'I-ORG', score: 0.8, index: 3, word: 'face', start: 8, end: 12 },
    { entity: 'B-LOC', score: 0.6, index: 6, word: 'new', start: 19, end: 22 },
    { entity: 'I-LOC', score: 0.5, index: 7, word: 'york', start: 23, end: 27 },
  ]);
});

test('simple: pieces grouped by tag, score is the mean of the piece scores', () => {
  close(aggregateEntities(pieces(), 'simple', id2label), [
    { entity_group: 'ORG', score: (0.7 + 0.9 + 0.8) / 3, word: 'hugging face', start: 0, end: 12 },
    { entity_group: 'LOC', score: (0.6 + 0.5) / 2, word: 'new york', start: 19, end: 27 },
  ]);
});

test("first: a word takes its first piece's label", () => {
  close(aggregateEntities(pieces(), 'first', id2label), [
    { entity_group: 'ORG', score: (0.7 + 0.8) / 2, word: 'hugging face', start: 0, end: 12 },
    { entity_group: 'LOC', score: 0.55, word: 'new york', start: 19, end: 27 },
  ]);
});

test("average: a word takes the argmax of its pieces' mean probabilities", () => {
  // hugging = mean([.1,.7,.1,.05,.05], [.05,.05,.9,0,0]) = [.075,.375,.5,.025,.025] -> I-ORG .5
  close(aggregateEntities(pieces(), 'average', id2label), [
    { entity_group: 'ORG', score: (0.5 + 0.8) / 2, word: 'hugging face', start: 0, end: 12 },
    { entity_group: 'LOC', score: 0.55, word: 'new york', start: 19, end: 27 },
  ]);
});

test('max: a word takes the label of its most confident piece', () => {
  close(aggregateEntities(pieces(), 'max', id2label), [
    { entity_group: 'ORG', score: (0.9 + 0.8) / 2, word: 'hugging face', start: 0, end: 12 },
    { entity_group: 'LOC', score: 0.55, word: 'new york', start: 19, end: 27 },
  ]);
});

test('B- starts a new group even after the same tag; labels without prefix group as I-; "O" separates', () => {
  const mk = (word: string, start: number, label: number, score: number, index: number): PreEntity => {
    const scores = [0, 0, 0, 0, 0];
    scores[label] = score;
    scores[0] = 1 - score;
    return { word, start, end: start + word.length, scores, index, isSubword: false };
  };
  // "paris london . rome": B-LOC B-LOC O I-LOC
  const entities = [
    mk('paris', 0, 3, 0.9, 1),
    mk('london', 6, 3, 0.8, 2),
    { ...mk('.', 12, 0, 1, 3), scores: [1, 0, 0, 0, 0] },
    mk('rome', 14, 4, 0.7, 4),
  ];
  close(aggregateEntities(entities, 'simple', id2label), [
    { entity_group: 'LOC', score: 0.9, word: 'paris', start: 0, end: 5 },
    { entity_group: 'LOC', score: 0.8, word: 'london', start: 6, end: 12 },
    { entity_group: 'LOC', score: 0.7, word: 'rome', start: 14, end: 18 },
  ]);
  const plain = { 0: 'O', 1: 'PER', 2: 'MISC', 3: 'LOC', 4: 'ORG' };
  // With plain labels adjacent LOC words merge into one group.
  close(aggregateEntities(entities, 'simple', plain), [
    { entity_group: 'LOC', score: 0.85, word: 'paris london', start: 0, end: 12 },
    { entity_group: 'ORG', score: 0.7, word: 'rome', start: 14, end: 18 },
  ]);
  // ignoreLabels is applied after grouping; with none ignored the "O" group shows.
  assert.equal(
    at(aggregateEntities(entities, 'simple', id2label, []) as { entity_group: string }[], 2).entity_group,
    'O',
  );
});

test('words are rebuilt with the WordPiece decoder and its cleanup', () => {
  assert.equal(wordPieceTokensToString(['hu', '##gging', 'face']), 'hugging face');
  assert.equal(wordPieceTokensToString(['u', '.', 's', '.']), 'u. s.');
  assert.equal(wordPieceTokensToString(['##ing', 'x', ',', 'y']), '##ing x, y');
  // Cleanup runs per piece, so " ' " (with its trailing space) never matches one piece.
  assert.equal(wordPieceTokensToString(['it', "'", 's']), "it ' s");
});

test('an unknown label id is a clear error', () => {
  assert.throws(
    () => aggregateEntities(pieces(), 'none', { 0: 'O' }),
    /predicted label 1, which config.json's id2label does not name/,
  );
  assert.throws(() => aggregateEntities(pieces(), 'mean' as 'max', id2label), /unknown aggregation strategy "mean"/);
});

test('overlapping windows: of overlapping entities the longer stays, the higher score on equal length', () => {
  const e = (name: string, start: number, end: number, score: number) => ({ name, start, end, score });
  const merged = aggregateOverlappingEntities([
    e('A', 0, 5, 0.9),
    e('C', 12, 15, 0.7),
    e('B', 3, 10, 0.4),
    e('D', 12, 15, 0.8),
    e('E', 20, 22, 0.6),
  ]);
  // Sorted by start: A B C D E. B overlaps A and is longer; C and D tie on length, D scores higher.
  assert.deepEqual(
    merged.map((x) => x.name),
    ['B', 'D', 'E'],
  );
  assert.deepEqual(aggregateOverlappingEntities([]), []);
});
