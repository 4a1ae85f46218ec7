// Writes a SQuAD v2.0-format question-answering set made from IMDb reviews, for the QA run in docs/results.md
// (no SQuAD download here): each context is the first sentences of a review with two facts inserted at random
// places ("<name> was filmed in <place> ." and "<name> was filmed in <place> ."), the question asks where one of the
// two films was shot; one question in five asks about a third film the context does not mention (no answer).
//   node --import tsx scripts/make-qa-synthetic.ts OUT_DIR [TRAIN_N] [DEV_N]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Rng } from '../src/data/rng.js';

const [out = '/tmp/bert-ts-qa', trainN = '2000', devN = '300'] = process.argv.slice(2);
const TITLES = ['casablanca', 'vertigo', 'jaws', 'psycho', 'alien', 'rocky', 'fargo', 'heat', 'brazil', 'network'];
const PLACES = ['paris', 'texas', 'chicago', 'mexico', 'italy', 'ireland', 'london', 'berlin', 'tokyo', 'canada'];

function reviews(split: string): string[] {
  const text = gunzipSync(readFileSync(`../shared/data/imdb/${split}.jsonl.gz`)).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { text: string }).text.replace(/<br \/>/g, ' '));
}

function squad(texts: string[], n: number, seed: number): string {
  const r = new Rng(seed);
  const paragraphs = [];
  for (let i = 0; i < n; i++) {
    const sentences = texts[r.int(texts.length)]!.split(/(?<=[.!?])\s+/).slice(0, 4 + r.int(4));
    const [a, b, c] = r.shuffle([...TITLES]);
    const places = r.shuffle([...PLACES]);
    for (const [title, place] of [
      [a!, places[0]!],
      [b!, places[1]!],
    ]) {
      sentences.splice(r.int(sentences.length + 1), 0, `${title} was filmed in ${place} .`);
    }
    const context = sentences.join(' ');
    const unanswerable = r.int(5) === 0;
    const asked = unanswerable ? c! : r.int(2) ? a! : b!;
    const place = asked === a ? places[0]! : places[1]!;
    const start = context.indexOf(`${asked} was filmed in ${place} .`) + `${asked} was filmed in `.length;
    paragraphs.push({
      context,
      qas: [
        {
          id: `${seed}-${i}`,
          question: `where was ${asked} filmed ?`,
          answers: unanswerable ? [] : [{ text: place, answer_start: start }],
          is_impossible: unanswerable,
        },
      ],
    });
  }
  return JSON.stringify({ version: 'v2.0', data: [{ title: 'imdb-synthetic', paragraphs }] });
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'train.json'), squad(reviews('train'), Number(trainN), 1));
writeFileSync(join(out, 'dev.json'), squad(reviews('test'), Number(devN), 2));
process.stdout.write(`wrote ${out}/train.json (${trainN} questions) and ${out}/dev.json (${devN})\n`);
