// Tests of the data readers: CSV quoting, JSONL(.gz), aclImdb folders, label mapping, errors, seeded subsets, CoNLL alignment, batch order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseCsv } from '../../src/data/csv.js';
import { cleanReviewText, readTextClassification, readImdbFolder } from '../../src/data/classification.js';
import { sampleSubset } from '../../src/data/sampling.js';
import { readConllJsonl, alignFirstWordPiece, CONLL2003_LABELS } from '../../src/data/conll.js';
import { batchOrder } from '../../src/data/batching.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('data');
const file = (name: string, content: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

test('parseCsv follows RFC 4180: quotes, doubled quotes, embedded commas and newlines, CRLF', () => {
  const recs = parseCsv('a,b,c\r\n"x, y","he said ""hi""","line1\r\nline2"\r\n1,,3\n', 'f.csv');
  assert.deepEqual(
    recs.map((r) => r.fields),
    [
      ['a', 'b', 'c'],
      ['x, y', 'he said "hi"', 'line1\r\nline2'],
      ['1', '', '3'],
    ],
  );
  // The record after a two-line field starts on line 4.
  assert.deepEqual(
    recs.map((r) => r.line),
    [1, 2, 4],
  );
  // No trailing newline; empty quoted last field still a field.
  assert.deepEqual(
    parseCsv('a,""').map((r) => r.fields),
    [['a', '']],
  );
  assert.throws(() => parseCsv('a,b\n"open,1\n2', 'bad.csv'), /bad\.csv:2: quoted field opened here is never closed/);
});

test('cleanReviewText turns <br /> variants into newlines', () => {
  assert.equal(cleanReviewText('a<br /><br />b<BR>c<br/>d'), 'a\n\nb\nc\nd');
});

test('JSONL and JSONL.gz readers agree and read the shared IMDb format', async () => {
  const rows = [
    { label: 0, rating: 2, id: 0, text: 'Bad.<br /><br />Really bad.' },
    { label: 1, rating: 9, id: 1, text: 'Great "film", loved it' },
  ];
  const body = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const a = await readTextClassification(file('a.jsonl', body));
  const b = await readTextClassification(file('a.jsonl.gz', gzipSync(body)));
  assert.deepEqual(
    a.map((e) => [e.text, e.label]),
    [
      ['Bad.\n\nReally bad.', 0],
      ['Great "film", loved it', 1],
    ],
  );
  assert.deepEqual(
    b.map((e) => [e.text, e.label]),
    a.map((e) => [e.text, e.label]),
  );
  assert.match(a[1]!.source, /a\.jsonl:2$/);
});

test('the real shared IMDb test file has 25,000 balanced reviews', async () => {
  const ex = await readTextClassification('../shared/data/imdb/test.jsonl.gz');
  assert.equal(ex.length, 25000);
  assert.equal(ex.filter((e) => e.label === 1).length, 12500);
  assert.ok(!ex.some((e) => e.text.includes('<br')));
});

test('CSV review,sentiment file maps positive/negative; multi-line quoted reviews survive', async () => {
  const p = file('imdb.csv', 'review,sentiment\n"One<br />two, three",positive\n"multi\nline ""quoted""",negative\n');
  const ex = await readTextClassification(p);
  assert.deepEqual(
    ex.map((e) => [e.text, e.label]),
    [
      ['One\ntwo, three', 1],
      ['multi\nline "quoted"', 0],
    ],
  );
});

test('general reader: named text / pair / label columns and label2id', async () => {
  const p = file(
    'nli.jsonl',
    '{"premise":"A man.","hypothesis":"A person.","gold":"entailment"}\n{"premise":"x","hypothesis":"y","gold":"contradiction"}\n',
  );
  const ex = await readTextClassification(p, {
    textColumn: 'premise',
    textPairColumn: 'hypothesis',
    labelColumn: 'gold',
    label2id: { entailment: 0, neutral: 1, contradiction: 2 },
  });
  assert.deepEqual(
    ex.map((e) => [e.text, e.textPair, e.label]),
    [
      ['A man.', 'A person.', 0],
      ['x', 'y', 2],
    ],
  );
  const csv = file('n.csv', 's1,s2,y\nhello,world,1\n');
  const c = await readTextClassification(csv, {
    textColumn: 's1',
    textPairColumn: 's2',
    labelColumn: 'y',
    numLabels: 2,
  });
  assert.deepEqual(
    c.map((e) => [e.text, e.textPair, e.label]),
    [['hello', 'world', 1]],
  );
});

test('multi-label and regression labels', async () => {
  const ml = file('ml.jsonl', '{"text":"a","label":[1,0,1]}\n');
  assert.deepEqual(
    (await readTextClassification(ml, { problemType: 'multi_label_classification', numLabels: 3 }))[0]!.label,
    [1, 0, 1],
  );
  await assert.rejects(
    readTextClassification(ml, { problemType: 'multi_label_classification', numLabels: 4 }),
    /ml\.jsonl:1: multi-label vector has 3 entries/,
  );
  const rg = file('rg.csv', 'text,label\nfoo,3.5\n');
  assert.deepEqual((await readTextClassification(rg, { problemType: 'regression' }))[0]!.label, [3.5]);
});

test('clear errors: empty file, missing text, missing label, unknown label, string labels without label2id', async () => {
  await assert.rejects(readTextClassification(file('empty.jsonl', '')), /empty\.jsonl: file is empty/);
  await assert.rejects(readTextClassification(file('blank.jsonl', '\n\n')), /no examples/);
  await assert.rejects(readTextClassification(file('hdr.csv', 'text,label\n')), /header row but no data rows/);
  await assert.rejects(
    readTextClassification(file('nt.jsonl', '{"text":"ok","label":1}\n{"text":"","label":0}\n')),
    /nt\.jsonl:2: row has no text/,
  );
  await assert.rejects(
    readTextClassification(file('nl.jsonl', '{"text":"ok","label":1}\n{"text":"fine"}\n')),
    /nl\.jsonl:2: row has no label/,
  );
  await assert.rejects(
    readTextClassification(file('ul.jsonl', '{"text":"ok","label":"meh"}\n'), { label2id: { bad: 0, good: 1 } }),
    /ul\.jsonl:1: unknown label "meh" \(known: bad, good\)/,
  );
  await assert.rejects(
    readTextClassification(file('sl.jsonl', '{"text":"ok","label":"good"}\n')),
    /sl\.jsonl:1: label "good" is a string but no label2id/,
  );
  await assert.rejects(
    readTextClassification(file('oor.jsonl', '{"text":"ok","label":5}\n'), { numLabels: 2 }),
    /out of range for 2 labels/,
  );
  await assert.rejects(
    readTextClassification(file('ncol.jsonl', '{"body":"ok","label":1}\n')),
    /cannot find a text column/,
  );
  await assert.rejects(
    readTextClassification(file('ragged.csv', 'text,label\na,1,extra\n')),
    /ragged\.csv:2: row has 3 fields/,
  );
  await assert.rejects(readTextClassification(join(dir, 'nope.jsonl')), /no such file/);
});

test('aclImdb folder layout: neg then pos by numeric id, labels from the folder', async () => {
  const root = join(dir, 'aclImdb', 'train');
  for (const s of ['pos', 'neg']) mkdirSync(join(root, s), { recursive: true });
  writeFileSync(join(root, 'pos', '10_9.txt'), 'Loved it.<br />Yes.');
  writeFileSync(join(root, 'pos', '2_7.txt'), 'Nice.');
  writeFileSync(join(root, 'neg', '0_1.txt'), 'Awful.');
  writeFileSync(join(root, 'neg', 'urls.txt'), 'ignored');
  const ex = await readImdbFolder(root);
  assert.deepEqual(
    ex.map((e) => [e.text, e.label]),
    [
      ['Awful.', 0],
      ['Nice.', 1],
      ['Loved it.\nYes.', 1],
    ],
  );
  await assert.rejects(readTextClassification(join(dir, 'aclImdb')), /did you mean .*aclImdb\/train/);
});

test('sampleSubset: seeded, without replacement, different seeds differ', () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const a = sampleSubset(items, 100, 42);
  assert.deepEqual(a, sampleSubset(items, 100, 42));
  assert.equal(new Set(a).size, 100);
  assert.notDeepEqual(a, sampleSubset(items, 100, 43));
  // Not simply the first 100 rows (the shared files are sorted by label).
  assert.ok(a.some((x) => x >= 500) && a.some((x) => x < 500));
  assert.equal(sampleSubset(items, 5000, 1).length, 1000);
});

test('CoNLL JSONL: string tags through label2id; first-WordPiece alignment', async () => {
  const label2id = Object.fromEntries(CONLL2003_LABELS.map((l, i) => [l, i]));
  const ex = await readConllJsonl('../shared/data/conll2003/dev.jsonl', { label2id });
  assert.equal(ex.length, 3250);
  assert.equal(
    ex.reduce((s, e) => s + e.tokens.length, 0),
    51362,
  );
  assert.deepEqual(ex[1]!.tokens, ['LONDON', '1996-08-30']);
  assert.deepEqual(ex[1]!.tags, [5, 0]);
  await assert.rejects(
    readConllJsonl(file('c.jsonl', '{"tokens":["a"],"ner_tags":["B-FOO"]}\n'), { label2id }),
    /c\.jsonl:1: unknown tag "B-FOO"/,
  );
  // A toy word-piecer: words longer than 3 chars split into 3-char pieces; ids are piece lengths + 100.
  const tok = {
    clsId: 1,
    sepId: 2,
    unkId: 3,
    wordPieceIds: (w: string) => (w.match(/.{1,3}/g) ?? []).map((p) => 100 + p.length),
  };
  const a = alignFirstWordPiece({ tokens: ['John', 'is', 'here'], tags: [1, 0, 0], source: 't' }, tok, 16);
  assert.deepEqual(a.inputIds, [1, 103, 101, 102, 103, 101, 2]);
  assert.deepEqual(a.labels, [-100, 1, -100, 0, 0, -100, -100]);
  assert.deepEqual(a.wordIds, [-1, 0, 0, 1, 2, 2, -1]);
  const t = alignFirstWordPiece({ tokens: ['John', 'is', 'here'], tags: [1, 0, 0], source: 't' }, tok, 5);
  assert.equal(t.inputIds.length, 5);
  assert.deepEqual(t.labels, [-100, 1, -100, 0, -100]);
});

test('batchOrder: consecutive slices, or longest first within a padded-token budget (at least one item each)', () => {
  assert.deepEqual(batchOrder(5, 2), [[0, 1], [2, 3], [4]]);
  const lengths = [3, 9, 1, 9, 4, 2];
  // Longest first, ties in index order; no budget: slices of the size.
  assert.deepEqual(
    batchOrder(6, 4, (i) => lengths[i]!),
    [
      [1, 3, 4, 0],
      [5, 2],
    ],
  );
  // A budget of 12 padded tokens: one 9-token item, 9 again, then 4 + 3 + 2 (3 x 4 = 12), then 1.
  assert.deepEqual(
    batchOrder(6, 4, (i) => lengths[i]!, 12),
    [[1], [3], [4, 0, 5], [2]],
  );
  // An item longer than the budget still gets a slice of its own.
  assert.deepEqual(
    batchOrder(2, 8, (i) => (i === 0 ? 50 : 2), 12),
    [[0], [1]],
  );
});
