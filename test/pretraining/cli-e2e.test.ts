// From raw IMDb text to a pre-trained folder through the three commands, plus their bad-input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { trainVocabCommand } from '../../src/cli/commands/train-vocab.js';
import { createPretrainingDataCommand } from '../../src/cli/commands/create-pretraining-data.js';
import { pretrainCommand } from '../../src/cli/commands/pretrain.js';
import { evaluateCommand } from '../../src/cli/commands/evaluate.js';
import { BertTokenizer } from '../../src/tokenizer/tokenizer.js';
import { bertWordSplitter } from '../../src/tokenizer/trainer-words.js';
import { readDataset, readDatasetManifest } from '../../src/data/shards.js';
import { capture } from './capture.js';
import { cliArgs } from '../helpers/cli-args.js';
import { tempDir } from '../helpers/temp.js';

interface HfBinding {
  Tokenizer: { fromFile(path: string): { encode(a: string): Promise<{ getTokens(): string[] }> } };
  bertNormalizer(o?: { lowercase?: boolean }): { normalizeString(s: string): string };
  bertPreTokenizer(): { preTokenizeString(s: string): Array<[string, [number, number]]> };
}
const hf = createRequire(import.meta.url)('tokenizers') as HfBinding;

const dir = tempDir('e2e');

const rows = gunzipSync(readFileSync('../shared/data/imdb/train.jsonl.gz'))
  .toString('utf8')
  .split('\n')
  .filter(Boolean);
const corpus = join(dir, 'imdb.jsonl');
writeFileSync(corpus, rows.filter((_, i) => i % 80 === 0).join('\n') + '\n');

test('word splitting = HF BertNormalizer + BertPreTokenizer on IMDb text and edge cases (cased and uncased)', () => {
  const texts = [
    'Héllo wörld! 你好，世界。 naïve café — “quotes” ½ ﬁ \u200b zero\u00a0nbsp \t tab',
    'Ǆ ǅ İstanbul ẞ ß ΣΑΣ <br />x',
    ...rows.slice(0, 400).map((r) => (JSON.parse(r) as { text: string }).text),
  ];
  for (const lowercase of [true, false]) {
    const norm = hf.bertNormalizer({ lowercase });
    const pre = hf.bertPreTokenizer();
    const split = bertWordSplitter({ lowercase });
    for (const t of texts)
      assert.deepEqual(
        split(t),
        pre.preTokenizeString(norm.normalizeString(t)).map((w) => w[0]),
        t.slice(0, 60),
      );
  }
});

test('train-vocab -> create-pretraining-data -> pretrain, then resume', async () => {
  const vocabDir = join(dir, 'vocab');
  let r = await capture(trainVocabCommand, [
    '--input',
    corpus,
    '--vocab-size',
    '3000',
    '--lowercase',
    '--output',
    vocabDir,
  ]);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { vocabSize: number; texts: number };
  assert.equal(summary.vocabSize, 3000);
  assert.equal(summary.texts, 313);
  const vocab = readFileSync(join(vocabDir, 'vocab.txt'), 'utf8').split('\n');
  assert.deepEqual(vocab.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  // Our tokenizer and HF's read the folder alike.
  const ours = BertTokenizer.fromPretrained(vocabDir);
  const theirs = hf.Tokenizer.fromFile(join(vocabDir, 'tokenizer.json'));
  const text = (JSON.parse(rows[5]!) as { text: string }).text;
  assert.deepEqual(ours.tokenize(text), (await theirs.encode(text)).getTokens().slice(1, -1));

  const dataDir = join(dir, 'data');
  r = await capture(
    createPretrainingDataCommand,
    cliArgs({
      input: corpus,
      vocab: vocabDir,
      'max-seq-length': '64',
      'max-predictions': '10',
      'dupe-factor': '2',
      output: dataDir,
    }),
  );
  assert.equal(r.code, 0, r.err);
  const m = readDatasetManifest(dataDir);
  assert.equal(m.documents, 313);
  assert.equal(m.vocabSize, 3000);
  const first = readDataset(dataDir, m).next().value!;
  assert.equal(ours.convertIdsToTokens([...first.inputIds])[0], '[CLS]');

  const out = join(dir, 'model');
  const args = [
    '--config',
    'tiny',
    '--data',
    dataDir,
    '--vocab',
    vocabDir,
    '--steps',
    '4',
    '--batch-size',
    '8',
    '--lr',
    '1e-3',
    '--eval-data',
    dataDir,
    '--eval-instances',
    '32',
    '--output',
    out,
  ];
  r = await capture(pretrainCommand, args);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out) as { steps: number; evaluation: { mlm_accuracy: number } };
  assert.equal(result.steps, 4);
  for (const f of [
    'config.json',
    'model.safetensors',
    'vocab.txt',
    'tokenizer.json',
    'training_curve.svg',
    'log.jsonl',
  ]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  // `bert evaluate` on the shards scores the saved folder as the run's own final evaluation did (same instances and batches).
  r = await capture(evaluateCommand, [
    '--model',
    out,
    '--data',
    dataDir,
    '--samples',
    '32',
    '--batch-size',
    '8',
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const scored = JSON.parse(r.out.trim().split('\n').pop()!) as Record<string, number>;
  for (const k of ['mlm_loss', 'mlm_accuracy', 'nsp_loss', 'nsp_accuracy', 'instances'] as const) {
    assert.equal(scored[k], (result.evaluation as unknown as Record<string, number>)[k], `evaluate ${k}`);
  }
  r = await capture(
    evaluateCommand,
    cliArgs({ model: '../shared/fixtures/hf-tiny/seq_cls3', data: dataDir, tokenizer: vocabDir }),
  );
  assert.equal(r.code, 1, 'a classifier cannot be scored on pre-training shards');
  assert.match(r.err, /seq_cls3: not a pre-trained BERT \(no cls\./);
  r = await capture(pretrainCommand, [...args.slice(0, 7), '6', ...args.slice(8), '--resume']);
  assert.equal(r.code, 1, 'changing --steps on resume is refused');
  assert.match(
    r.err,
    /cannot resume with different settings \(maxSteps: checkpoint 4, now 6; warmupSteps: checkpoint 0, now 1\)/,
  );
});

test('bad input: empty corpus, vocabulary without special tokens, one document', async () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  let r = await capture(trainVocabCommand, ['--input', empty, '--output', join(dir, 'v0')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /empty/);
  const plain = join(dir, 'plainvocab');
  mkdirSync(plain);
  writeFileSync(join(plain, 'vocab.txt'), ['[UNK]', 'the', 'a'].join('\n') + '\n');
  r = await capture(createPretrainingDataCommand, ['--input', corpus, '--vocab', plain, '--output', join(dir, 'd0')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /has no \[CLS\] token/);
  const one = join(dir, 'one.txt');
  writeFileSync(one, 'Just one document.\nWith two sentences.\n');
  r = await capture(
    createPretrainingDataCommand,
    cliArgs({ input: one, vocab: join(dir, 'vocab'), output: join(dir, 'd1') }),
  );
  assert.equal(r.code, 1);
  assert.match(r.err, /1 document\(s\) with text.*at least 2/);
});
