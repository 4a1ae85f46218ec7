// Makes the IMDb sample embedded for `bert demo` (assets/imdb-sample/): seeded, label-balanced subsets of the raw
// ../shared/data/imdb JSONL rows (text, label, rating, id unchanged). Run: npx tsx scripts/make-demo-sample.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readLines } from '../src/data/lines.js';
import { sampleSubset } from '../src/data/sampling.js';

async function balanced(path: string, perLabel: number, seed: number): Promise<string[]> {
  const byLabel: string[][] = [[], []];
  for await (const [, line] of readLines(path)) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { label: number };
    byLabel[row.label]!.push(line);
  }
  const rows = [...sampleSubset(byLabel[0]!, perLabel, seed), ...sampleSubset(byLabel[1]!, perLabel, seed + 1)];
  return sampleSubset(rows, rows.length, seed + 2);
}

const out = 'assets/imdb-sample';
mkdirSync(out, { recursive: true });
for (const [split, perLabel, seed] of [
  ['train', 400, 42],
  ['test', 250, 7],
] as const) {
  const rows = await balanced(`../shared/data/imdb/${split}.jsonl.gz`, perLabel, seed);
  writeFileSync(`${out}/${split}.jsonl.gz`, gzipSync(`${rows.join('\n')}\n`, { level: 9 }));
  console.log(`${out}/${split}.jsonl.gz: ${rows.length} reviews`);
}
