// Sentence splitter on hand-worked IMDb-style examples (expected splits written by hand, not produced by the code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { splitSentences } from '../../src/data/sentences.js';

const cases: Array<[string, string, string[]]> = [
  [
    '<br /> paragraphs',
    'I loved this movie.<br /><br />The acting was great!',
    ['I loved this movie.', 'The acting was great!'],
  ],
  ['<br/> without a period', 'First line<br/>second line<BR>third', ['First line', 'second line', 'third']],
  [
    'titles and dotted acronyms',
    'Mr. Smith and Dr. Jones met in the U.S. in 1990. They hated it.',
    ['Mr. Smith and Dr. Jones met in the U.S. in 1990.', 'They hated it.'],
  ],
  [
    'e.g. and i.e.',
    'Some films, e.g. Jaws, are great, i.e. scary. Others are not.',
    ['Some films, e.g. Jaws, are great, i.e. scary.', 'Others are not.'],
  ],
  [
    'quote closed by !, sentence goes on',
    'He said "Get out!" and left. Then he cried.',
    ['He said "Get out!" and left.', 'Then he cried.'],
  ],
  [
    'quote closed by period, new sentence',
    'She whispered "It\'s over." The screen went dark.',
    ['She whispered "It\'s over."', 'The screen went dark.'],
  ],
  ['curly quotes', 'He yelled \u201cRun!\u201d Nobody moved.', ['He yelled \u201cRun!\u201d', 'Nobody moved.']],
  ['ellipses', 'I thought... maybe not. Wait... This is bad.', ['I thought... maybe not.', 'Wait...', 'This is bad.']],
  ['unicode ellipsis', 'The end\u2026 Then credits\u2026and more', ['The end\u2026', 'Then credits\u2026and more']],
  [
    '!? runs',
    "Worst movie ever!!! Don't watch it?! Seriously.",
    ['Worst movie ever!!!', "Don't watch it?!", 'Seriously.'],
  ],
  ['lowercase reviewer', 'i hated it. the plot was dumb.', ['i hated it.', 'the plot was dumb.']],
  ['initials', 'J. R. R. Tolkien wrote it. So did C.S. Lewis.', ['J. R. R. Tolkien wrote it.', 'So did C.S. Lewis.']],
  [
    'decimals and No.',
    'It cost $3.5 million. No. 5 on the list. No. It was not.',
    ['It cost $3.5 million.', 'No. 5 on the list.', 'No.', 'It was not.'],
  ],
  [
    'etc.',
    'Cars, boats, etc. and more. Star Wars etc. The end.',
    ['Cars, boats, etc. and more.', 'Star Wars etc.', 'The end.'],
  ],
  ['brackets', '(Really?) It was fine. (or was it?) maybe.', ['(Really?)', 'It was fine.', '(or was it?) maybe.']],
  [
    'punctuation-only fragment glued to the sentence before',
    'Great film! *****<br />*** SPOILERS ***<br />-----',
    ['Great film! *****', '*** SPOILERS *** -----'],
  ],
  ['no space after the period is no boundary', 'See imdb.com for more.Really.', ['See imdb.com for more.Really.']],
  [
    'glued ?/! before a capitalised word is one',
    'Is it that hard?The cussing was bad!Yahoo!s and OK?OK.',
    ['Is it that hard?', 'The cussing was bad!', 'Yahoo!s and OK?OK.'],
  ],
  ['whitespace collapsed', '  Two   spaces.\tTab  here.  ', ['Two spaces.', 'Tab here.']],
  ['empty', '', []],
  ['only breaks', '<br /><br />  ', []],
];

for (const [name, input, expected] of cases) {
  test(`splitSentences: ${name}`, () => {
    assert.deepEqual(splitSentences(input), expected);
  });
}

test('on real IMDb reviews: no text lost, sentences non-empty and without <br />', () => {
  const rows = gunzipSync(readFileSync('../shared/data/imdb/train.jsonl.gz'))
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
  let sentences = 0;
  for (let i = 0; i < rows.length; i += 250) {
    const text = (JSON.parse(rows[i]!) as { text: string }).text;
    const s = splitSentences(text);
    sentences += s.length;
    const squash = (x: string): string => x.replace(/<br\s*\/?\s*>/giu, '').replace(/\s+/gu, '');
    assert.equal(s.map(squash).join(''), squash(text));
    for (const x of s) {
      assert.ok(x.length > 0 && x === x.trim() && !/<br/i.test(x), JSON.stringify(x));
    }
  }
  // IMDb reviews average roughly 10-12 sentences; a splitter that never splits (or splits at every word) fails this.
  const perReview = sentences / Math.ceil(rows.length / 250);
  assert.ok(perReview > 6 && perReview < 20, `sentences per review ${perReview}`);
});
