// WordPiece vocabulary training against HF tokenizers (its Rust trainer through the npm binding) and HF's own unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { trainWordPiece, WordCounter, BERT_SPECIAL_TOKENS } from '../../src/tokenizer/trainer.js';
import { saveBertTokenizerFiles } from '../../src/tokenizer/trainer-files.js';

interface HfNormalizer {
  normalizeString(s: string): string;
}
interface HfPreTokenizer {
  preTokenizeString(s: string): Array<[string, [number, number]]>;
}
interface HfEncoding {
  getTokens(): string[];
  getIds(): number[];
}
interface HfTokenizer {
  setNormalizer(n: HfNormalizer): void;
  setPreTokenizer(p: HfPreTokenizer): void;
  train(files: string[]): void;
  getVocab(withAdded?: boolean): Record<string, number>;
  getVocabSize(withAdded?: boolean): number;
  tokenToId(t: string): number | null;
  encode(a: string, b?: string | null): Promise<HfEncoding>;
}
interface HfBinding {
  Tokenizer: { new (model: unknown): HfTokenizer; fromFile(path: string): HfTokenizer };
  WordPiece: { empty(): unknown; fromFile(vocab: string, o?: { unkToken?: string }): Promise<unknown> };
  bertNormalizer(o?: { lowercase?: boolean }): HfNormalizer;
  bertPreTokenizer(): HfPreTokenizer;
}
const hf = createRequire(import.meta.url)('tokenizers') as HfBinding;

// 2,000 IMDb reviews spread over both labels (the file is sorted by label).
function imdbSample(n: number): string[] {
  const rows = gunzipSync(readFileSync('../shared/data/imdb/train.jsonl.gz'))
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
  const step = Math.floor(rows.length / n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((JSON.parse(rows[i * step]!) as { text: string }).text.replace(/[\r\n]+/g, ' '));
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-trainer-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const texts = imdbSample(2000);
const corpusPath = join(dir, 'corpus.txt');
writeFileSync(corpusPath, texts.join('\n') + '\n');

// HF's Tokenizer.train in the binding uses the model's default trainer: WordPieceTrainer::default() =
// vocab_size 30000, min_frequency 0, no special tokens, no alphabet limit, "##" prefix.
function trainOracle(): string[] {
  const tok = new hf.Tokenizer(hf.WordPiece.empty());
  tok.setNormalizer(hf.bertNormalizer({ lowercase: true }));
  tok.setPreTokenizer(hf.bertPreTokenizer());
  tok.train([corpusPath]);
  const v = tok.getVocab();
  return Object.keys(v).sort((a, b) => v[a]! - v[b]!);
}
const oracle = trainOracle();

const counter = new WordCounter();
{
  const norm = hf.bertNormalizer({ lowercase: true });
  const pre = hf.bertPreTokenizer();
  for (const t of texts) counter.add(pre.preTokenizeString(norm.normalizeString(t)).map((x) => x[0]));
}
const hfDefaults = { vocabSize: 30000, minFrequency: 0, specialTokens: [], limitAlphabet: null } as const;
// The ids HF gave its "##c" tokens (hash-map order, different on each run): the block of one-character continuations.
const oracleContinuations = oracle.filter((t) => t.startsWith('##') && [...t].length === 3);

test('oracle: HF trains 30000 tokens on the sample (the comparison is not vacuous)', () => {
  assert.equal(oracle.length, 30000);
  assert.ok(oracleContinuations.length > 20);
});

test('same vocabulary as HF, token for token, given HF run\'s "##c" id order', () => {
  const r = trainWordPiece(counter.counts, { ...hfDefaults, continuationOrder: oracleContinuations });
  assert.equal(r.vocab.length, oracle.length);
  const firstDiff = r.vocab.findIndex((t, i) => t !== oracle[i]);
  assert.equal(firstDiff, -1, `first difference at id ${firstDiff}: ${r.vocab[firstDiff]} vs HF ${oracle[firstDiff]}`);
});

test('without the hint: differs from HF only as much as two HF runs differ from each other (tie order)', () => {
  const r = trainWordPiece(counter.counts, hfDefaults);
  const mine = new Set(r.vocab);
  const onlyHf = oracle.filter((t) => !mine.has(t));
  // Two HF runs on this sample differ by ~27-54 tokens, all among the last, count-1 merges.
  assert.ok(onlyHf.length < 150, `${onlyHf.length} tokens differ: ${onlyHf.slice(0, 10).join(' ')}`);
  // The alphabet (sorted by code point) is exactly HF's.
  const alpha = (v: readonly string[]): string[] => v.filter((t) => [...t].length === 1);
  assert.deepEqual(alpha(r.vocab), alpha(oracle));
});

test('special tokens come first and shift ids without changing merges; vocabSize counts them', () => {
  const r = trainWordPiece(counter.counts, {
    ...hfDefaults,
    specialTokens: BERT_SPECIAL_TOKENS,
    vocabSize: 20005,
    continuationOrder: oracleContinuations,
  });
  assert.deepEqual(r.vocab.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.equal(r.vocab.length, 20005);
  assert.deepEqual(r.vocab.slice(5), oracle.slice(0, 20000));
});

test('minFrequency stops early: a strict prefix of the unrestricted merge sequence', () => {
  const r = trainWordPiece(counter.counts, { ...hfDefaults, minFrequency: 3, continuationOrder: oracleContinuations });
  assert.ok(r.vocab.length < oracle.length - 1000, `stopped at ${r.vocab.length}`);
  assert.deepEqual(r.vocab, oracle.slice(0, r.vocab.length));
});

test('HF bpe trainer unit test test_train (no prefix, min_frequency 2)', () => {
  const wc = new Map<string, number>([
    ['roses', 1],
    ['are', 2],
    ['red', 1],
    ['voilets', 1],
    ['blue', 1],
    ['BERT', 1],
    ['is', 2],
    ['big', 1],
    ['and', 1],
    ['so', 1],
    ['GPT-2', 1],
  ]);
  const r = trainWordPiece(wc, {
    minFrequency: 2,
    specialTokens: [],
    limitAlphabet: null,
    continuingSubwordPrefix: '',
  });
  assert.deepEqual(r.vocab, [
    '-',
    '2',
    'B',
    'E',
    'G',
    'P',
    'R',
    'T',
    'a',
    'b',
    'd',
    'e',
    'g',
    'i',
    'l',
    'n',
    'o',
    'r',
    's',
    't',
    'u',
    'v',
    're',
    'are',
    'is',
  ]);
  assert.deepEqual(r.merges, [
    ['r', 'e'],
    ['a', 're'],
    ['i', 's'],
  ]);
});

test('HF bpe trainer unit test bpe_test_max_token_length_direct_assert', () => {
  const words = ['sin', 'Sin', 'Lon', 'Ano', '짧은한', '긴한글', '短字符', '长字符', '短い文', '長い文', 'so', 'GP'];
  const r = trainWordPiece(new Map(words.map((w) => [w, 2])), {
    minFrequency: 0,
    specialTokens: [],
    limitAlphabet: null,
    continuingSubwordPrefix: '',
    maxTokenLength: 2,
  });
  const expected: Record<string, number> = {
    短: 12,
    n: 6,
    i: 5,
    s: 8,
    字符: 23,
    長: 14,
    긴: 17,
    い文: 22,
    L: 2,
    in: 21,
    o: 7,
    은한: 29,
    S: 4,
    P: 3,
    so: 27,
    符: 13,
    文: 11,
    字: 10,
    짧: 19,
    GP: 25,
    글: 16,
    G: 1,
    An: 24,
    长: 15,
    A: 0,
    Lo: 26,
    긴한: 28,
    い: 9,
    한: 20,
    은: 18,
  };
  assert.deepEqual(Object.fromEntries(r.vocab.map((t, i) => [t, i])), expected);
});

test('limitAlphabet drops the rarest characters (hand-worked)', () => {
  // a:6 b:3 d:2 c:1 -> with limit 2, c and d go; "c" and "d" become empty words; then a+##a (3) ties ##a+##b (3):
  // the smaller id pair (a=5, ##a=7) wins, then aa+##b.
  const r = trainWordPiece(
    new Map([
      ['aab', 3],
      ['c', 1],
      ['d', 2],
    ]),
    { limitAlphabet: 2, minFrequency: 0 },
  );
  assert.deepEqual(r.vocab, [...BERT_SPECIAL_TOKENS, 'a', 'b', '##a', '##b', 'aa', 'aab']);
});

test('bad options are specific errors', () => {
  assert.throws(() => trainWordPiece(new Map(), { vocabSize: 0 }), /vocabSize must be an integer >= 1/);
  assert.throws(() => trainWordPiece(new Map(), { initialAlphabet: ['ab'] }), /not one character/);
  // An empty corpus gives just the special tokens.
  assert.deepEqual(trainWordPiece(new Map()).vocab, [...BERT_SPECIAL_TOKENS]);
});

test('written tokenizer.json / vocab.txt load in HF tokenizers and tokenize like HF WordPiece on vocab.txt', async () => {
  const r = trainWordPiece(counter.counts, { vocabSize: 8000, minFrequency: 2, limitAlphabet: 1000 });
  const out = join(dir, 'tok');
  saveBertTokenizerFiles(out, r.vocab, { lowercase: true });
  const lines = readFileSync(join(out, 'vocab.txt'), 'utf8').split('\n');
  assert.equal(lines.length, r.vocab.length + 1);
  const fromJson = hf.Tokenizer.fromFile(join(out, 'tokenizer.json'));
  assert.equal(fromJson.getVocabSize(true), 8000);
  assert.equal(fromJson.tokenToId('[MASK]'), 4);
  const fromVocab = new hf.Tokenizer(await hf.WordPiece.fromFile(join(out, 'vocab.txt'), { unkToken: '[UNK]' }));
  fromVocab.setNormalizer(hf.bertNormalizer({ lowercase: true }));
  fromVocab.setPreTokenizer(hf.bertPreTokenizer());
  const sentence = 'This movie was unbelievably GOOD, the Zoëtrope scenes especially!';
  const a = await fromJson.encode(sentence, 'A second one.');
  const b = await fromVocab.encode(sentence);
  assert.deepEqual(a.getTokens().slice(1, 1 + b.getTokens().length), b.getTokens());
  assert.equal(a.getTokens()[0], '[CLS]');
  assert.ok(a.getTokens().filter((t) => t === '[SEP]').length === 2);
  const config = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.do_lower_case, true);
  assert.throws(
    () => saveBertTokenizerFiles(join(dir, 'bad'), ['a', 'b'], { lowercase: true }),
    /no unk token "\[UNK\]"/,
  );
});
