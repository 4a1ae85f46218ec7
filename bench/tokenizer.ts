// Tokenizer benchmark: tokens/s on IMDb train reviews, bert-ts vs HF tokenizers (Rust, Node binding) on one thread
// (RAYON_NUM_THREADS=1), offsets included on both sides. Repetitions alternate the contenders in one process so
// that load from other processes hits all alike; the figures are medians. Prints a table, then one JSON line.
// Usage: node --import tsx bench/tokenizer.ts [--reviews 5000] [--reps 5] [--model DIR|tokenizer.json ...]
// (default: bert-mini's WordPiece and the byte-level BPE and Unigram fixtures, one table each)
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { BertTokenizer } from '../src/tokenizer/index.js';

// Rayon reads this when its pool first starts, which is after the import below.
process.env['RAYON_NUM_THREADS'] = '1';
const { Tokenizer } = await import('tokenizers');

const { values } = parseArgs({
  options: {
    reviews: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '5' },
    model: { type: 'string', multiple: true },
  },
});
const reps = Math.max(1, Number(values.reps));
// A folder with tokenizer.json, or a tokenizer.json file. Default: WordPiece (bert-mini), byte-level BPE
// (RoBERTa's components) and Unigram (XLM-R's), the last two trained by HF on IMDb (test/tokenizer/fixtures).
const models = values.model ?? [
  new URL('../../shared/models/bert-mini-imdb-hf', import.meta.url).pathname,
  new URL('../test/tokenizer/fixtures/bpe-roberta.json', import.meta.url).pathname,
  new URL('../test/tokenizer/fixtures/unigram-xlmr.json', import.meta.url).pathname,
];
const all = gunzipSync(readFileSync(new URL('../../shared/data/imdb/train.jsonl.gz', import.meta.url)))
  .toString('utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => (JSON.parse(l) as { text: string }).text);
const texts = all.slice(0, Math.min(all.length, Number(values.reviews)));
const chars = texts.reduce((n, t) => n + t.length, 0);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function load(path: string): { ours: BertTokenizer; hf: InstanceType<typeof Tokenizer>; type: string } {
  const file = path.endsWith('.json') ? path : join(path, 'tokenizer.json');
  if (!existsSync(file)) {
    console.error(`bench/tokenizer: ${path} has no tokenizer.json`);
    process.exit(1);
  }
  const text = readFileSync(file, 'utf8');
  const ours = path.endsWith('.json')
    ? BertTokenizer.fromTokenizerJson(text, file)
    : BertTokenizer.fromPretrained(path);
  const type = (JSON.parse(text) as { model: { type?: string } }).model.type ?? 'WordPiece';
  return { ours, hf: Tokenizer.fromFile(file), type };
}

type Run = () => Promise<number>;
const summary: Record<string, unknown>[] = [];
console.log(`IMDb train, first ${texts.length} reviews (${chars} characters); ${reps} reps, medians`);
console.log(`HF tokenizers (Rust) with RAYON_NUM_THREADS=1; CPU: ${cpus()[0]?.model ?? '?'}; node ${process.version}`);
for (const path of models) {
  const { ours, hf, type } = load(path);
  const contenders: { name: string; what: string; run: Run }[] = [
    {
      name: 'bert-ts encode',
      what: 'encode(text, null, { returnOffsets: true }) per review: ids, type ids, masks, offsets as JS arrays',
      run: async () => {
        let n = 0;
        for (const t of texts) n += ours.encode(t, null, { returnOffsets: true }).inputIds.length;
        return n;
      },
    },
    {
      name: 'bert-ts encodeBatchFlat',
      what: 'encodeBatchFlat(64 reviews, { returnOffsets: true }): padded Int32Arrays, offsets included',
      run: async () => {
        let n = 0;
        for (let i = 0; i < texts.length; i += 64) {
          const b = ours.encodeBatchFlat(texts.slice(i, i + 64), null, { returnOffsets: true });
          for (let k = 0; k < b.attentionMask.length; k++) n += b.attentionMask[k]!;
        }
        return n;
      },
    },
    {
      name: 'HF encodeBatch + ids + offsets',
      what: 'await encodeBatch(64 reviews), then getIds() and getOffsets() of each: what JS code needs to read them',
      run: async () => {
        let n = 0;
        for (let i = 0; i < texts.length; i += 64) {
          for (const e of await hf.encodeBatch(texts.slice(i, i + 64))) {
            n += e.getIds().length;
            e.getOffsets();
          }
        }
        return n;
      },
    },
    {
      name: 'HF encodeBatch (Rust side only)',
      what: 'await encodeBatch(64 reviews), lengths only: Rust computes offsets but none are copied to JS',
      run: async () => {
        let n = 0;
        for (let i = 0; i < texts.length; i += 64)
          for (const e of await hf.encodeBatch(texts.slice(i, i + 64))) n += e.getLength();
        return n;
      },
    },
  ];

  // One warm-up pass each (JIT, caches, HF's thread pool), checking that all count the same tokens.
  const tokens: number[] = [];
  for (const c of contenders) tokens.push(await c.run());
  if (new Set(tokens).size !== 1) {
    console.error(`bench/tokenizer: ${path}: contenders disagree on the token count: ${tokens.join(', ')}`);
    process.exit(1);
  }
  const totalTokens = tokens[0]!;
  const times = contenders.map((): number[] => []);
  for (let r = 0; r < reps; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const t0 = performance.now();
      await contenders[c]!.run();
      times[c]!.push((performance.now() - t0) / 1000);
    }
  }
  const results = contenders.map((c, i) => ({
    name: c.name,
    what: c.what,
    seconds: median(times[i]!),
    tokensPerSecond: totalTokens / median(times[i]!),
  }));
  const ref = results[2]!.tokensPerSecond,
    rustOnly = results[3]!.tokensPerSecond;
  console.log(`\n${type}: ${path} (${totalTokens} tokens)`);
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`${pad('contender', 34)}${pad('tokens/s', 14)}${pad('vs HF+offsets', 15)}vs HF Rust-only`);
  for (const r of results) {
    console.log(
      `${pad(r.name, 34)}${pad(Math.round(r.tokensPerSecond).toLocaleString('en-US'), 14)}${pad((r.tokensPerSecond / ref).toFixed(2) + 'x', 15)}${(r.tokensPerSecond / rustOnly).toFixed(2)}x`,
    );
  }
  summary.push({
    model: type,
    path,
    tokens: totalTokens,
    results: results.map((r) => ({ ...r, tokensPerSecond: Math.round(r.tokensPerSecond) })),
    ratioVsHfWithOffsets: +(results[0]!.tokensPerSecond / ref).toFixed(3),
    ratioVsHfRustOnly: +(results[0]!.tokensPerSecond / rustOnly).toFixed(3),
  });
}
console.log('');
console.log(
  JSON.stringify({ bench: 'tokenizer', reviews: texts.length, chars, reps, rayonThreads: 1, models: summary }),
);
