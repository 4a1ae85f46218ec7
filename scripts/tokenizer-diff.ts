// The full differential run against HF's Rust tokenizers (the tests run samples of it): all 25,000 IMDb train
// reviews on every folder, pairs under every truncation strategy, the torture set, 20,000 random strings, every
// code point unsampled, and BertNormalizer under its 16 option combinations on every code point.
// Usage: node --import tsx scripts/tokenizer-diff.ts [--only NAME,...] [--reviews N] [--skip-normalizer]
//   (exit 1 on any difference; prints a table and a JSON line). Folders: the WordPiece ones and the BPE / Unigram
//   fixtures (test/tokenizer/fixtures); --reviews limits the IMDb reviews per folder (default all 25,000).
import { parseArgs } from 'node:util';
import { bertNormalizer } from 'tokenizers';
import { BertTokenizer } from '../src/tokenizer/index.js';
import { BertNormalizer } from '../src/tokenizer/normalizer.js';
import {
  allFolders,
  configured,
  diffEncoding,
  diffPair,
  hfTokenizer,
  pairSpecials,
  readImdb,
  shortText,
} from '../test/tokenizer/helpers/oracle.js';
import { TORTURE, codePointStrings, everyCodePoint, randomTexts } from '../test/tokenizer/helpers/torture.js';

interface Row {
  folder: string;
  set: string;
  cases: number;
  tokens: number;
  differences: number;
  first?: string;
}
const rows: Row[] = [];
const t0 = performance.now();

async function singles(
  folder: string,
  ours: BertTokenizer,
  hf: Awaited<ReturnType<typeof hfTokenizer>>,
  set: string,
  texts: readonly string[],
): Promise<void> {
  const row: Row = { folder, set, cases: texts.length, tokens: 0, differences: 0 };
  for (let start = 0; start < texts.length; start += 2000) {
    const chunk = texts.slice(start, start + 2000);
    const encs = await hf.encodeBatch(chunk);
    chunk.forEach((t, i) => {
      const mine = ours.encode(t, null, { returnOffsets: true });
      row.tokens += mine.inputIds.length;
      const d = diffEncoding(encs[i]!, mine, t);
      if (d) {
        row.differences++;
        row.first ??= `${shortText(t, 60)}: ${d}`;
      }
    });
  }
  rows.push(row);
  console.error(`${folder} / ${set}: ${row.cases} cases, ${row.differences} differences`);
}

async function pairs(
  folder: string,
  ours: BertTokenizer,
  base: Awaited<ReturnType<typeof hfTokenizer>>,
  texts: readonly string[],
): Promise<void> {
  const row: Row = { folder, set: 'pairs x 3 strategies x 8 lengths x pad', cases: 0, tokens: 0, differences: 0 };
  const n = texts.length;
  for (const strategy of ['LongestFirst', 'OnlyFirst', 'OnlySecond'] as const) {
    const truncation = ({ LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' } as const)[
      strategy
    ];
    for (const maxLength of [3, 4, 5, 9, 32, 128, 333, 512]) {
      // Below the pair template's special tokens HF's usize subtraction wraps around (documented); we refuse.
      if (maxLength < pairSpecials(ours)) continue;
      for (const pad of [false, true]) {
        const hf = configured(base, {
          maxLength,
          strategy,
          padTo: pad ? maxLength : undefined,
          padId: ours.padTokenId ?? 0,
        });
        for (let i = 0; i < 150; i++) {
          const a = texts[(i * 7919) % n]!,
            b0 = texts[(i * 104729 + 13) % n]!;
          const b = i % 3 === 0 ? b0.split(/[.!?]/)[0]! : b0;
          const options = { maxLength, truncation, padding: pad ? 'max_length' : false, returnOffsets: true } as const;
          const { diff: d, ours: got } = await diffPair(hf, () => ours.encode(a, b, options), a, b);
          row.cases++;
          if (got) row.tokens += got.inputIds.length;
          if (d) {
            row.differences++;
            row.first ??= `${strategy} ${maxLength}: ${d}`;
          }
        }
      }
    }
  }
  configured(base, {});
  rows.push(row);
  console.error(`${folder} / pairs: ${row.cases} cases, ${row.differences} differences`);
}

const { values: args } = parseArgs({
  options: { only: { type: 'string' }, reviews: { type: 'string' }, 'skip-normalizer': { type: 'boolean' } },
});
const only = args.only ? new Set(args.only.split(',')) : null;
const imdb = readImdb('train').slice(0, args.reviews ? Number(args.reviews) : undefined);
const random = randomTexts(20000, 2024);
const every = everyCodePoint(false);
for (const [name, dir] of Object.entries(allFolders())) {
  if (only && !only.has(name)) continue;
  const ours = BertTokenizer.fromPretrained(dir);
  const hf = configured(await hfTokenizer(dir), {});
  await singles(name, ours, hf, 'IMDb train (all)', imdb);
  await singles(name, ours, hf, 'torture set', TORTURE);
  await singles(name, ours, hf, 'random strings', random);
  await singles(name, ours, hf, 'every code point', every);
  await pairs(name, ours, hf, imdb);
}

const normRow: Row = {
  folder: '(BertNormalizer)',
  set: '16 option combinations x every code point',
  cases: 0,
  tokens: 0,
  differences: 0,
};
const strings = codePointStrings(false);
for (let m = 0; m < (args['skip-normalizer'] ? 0 : 16); m++) {
  const combo = {
    cleanText: (m & 1) !== 0,
    handleChineseChars: (m & 2) !== 0,
    stripAccents: (m & 4) !== 0,
    lowercase: (m & 8) !== 0,
  };
  const hf = bertNormalizer(combo),
    ours = new BertNormalizer(combo);
  for (const s of strings) {
    normRow.cases++;
    if (hf.normalizeString(s) !== ours.normalize(s)) {
      normRow.differences++;
      normRow.first ??= JSON.stringify(combo);
    }
  }
}
if (!args['skip-normalizer']) rows.push(normRow);

const total = rows.reduce((n, r) => n + r.differences, 0);
console.log(
  `${'folder'.padEnd(26)}${'set'.padEnd(42)}${'cases'.padStart(9)}${'tokens'.padStart(12)}${'differences'.padStart(13)}`,
);
for (const r of rows) {
  console.log(
    `${r.folder.padEnd(26)}${r.set.padEnd(42)}${String(r.cases).padStart(9)}${String(r.tokens).padStart(12)}${String(r.differences).padStart(13)}`,
  );
  if (r.first) console.log(`  first: ${r.first}`);
}
console.log(
  JSON.stringify({
    script: 'tokenizer-diff',
    differences: total,
    seconds: Math.round((performance.now() - t0) / 1000),
    rows,
  }),
);
process.exitCode = total === 0 ? 0 : 1;
