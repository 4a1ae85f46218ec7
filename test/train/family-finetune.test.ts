// Fine-tuning and prediction beyond BERT (issue 16): a tiny RoBERTa and a tiny ModernBERT with a byte-level BPE
// tokenizer.json (no vocab.txt) and a tiny DistilBERT with a WordPiece one go through finetune() and then pipeline().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyTokenizerFiles } from '../../src/io/files.js';
import {
  DistilBertForSequenceClassification,
  ModernBertForSequenceClassification,
  RobertaForSequenceClassification,
  XLMRobertaForSequenceClassification,
} from '../../src/model/bert.js';
import { pipeline } from '../../src/pipelines/index.js';
import { BertTokenizer } from '../../src/tokenizer/tokenizer.js';
import { finetune } from '../../src/train/finetune.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { trainVocab } from '../../src/train/train-vocab.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('family-ft');
const quietProgress = () => new ProgressReporter({ stream: { write: () => true }, tty: false });
const POSITIVE = ['a great film', 'loved it, wonderful', 'great acting and a wonderful plot', 'wonderful, loved it'];
const NEGATIVE = ['an awful film', 'hated it, boring', 'awful acting and a boring plot', 'boring, hated it'];

function trainCsv(): string {
  const rows = [...POSITIVE.map((t) => `"${t}",pos`), ...NEGATIVE.map((t) => `"${t}",neg`)];
  const path = join(dir, 'train.csv');
  writeFileSync(path, `text,label\n${[...rows, ...rows].join('\n')}\n`);
  return path;
}

/** Fine-tunes `model` on the toy sentiment set, then classifies the training texts through pipeline(). */
async function finetuneAndPredict(model: string, name: string): Promise<{ output: string; correct: number }> {
  const output = join(dir, `${name}-out`);
  const result = await finetune({
    model,
    train: trainCsv(),
    output,
    maxLength: 16,
    epochs: 30,
    batchSize: 4,
    lr: 5e-3,
    warmupRatio: 0,
    seed: 7,
    progress: quietProgress(),
  });
  assert.equal(result.interrupted, false);
  const classify = await pipeline('text-classification', output, { warn: () => {} });
  const predictions = (await classify([...POSITIVE, ...NEGATIVE])) as { label: string; score: number }[];
  const expected = [...POSITIVE.map(() => 'pos'), ...NEGATIVE.map(() => 'neg')];
  return { output, correct: predictions.filter((p, i) => p.label === expected[i]).length };
}

test('a tiny RoBERTa with a BPE tokenizer.json fine-tunes through finetune() and predicts through pipeline()', async () => {
  const tokDir = join(dir, 'bpe');
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, [...POSITIVE, ...NEGATIVE].join('\n').repeat(3) + '\n');
  await trainVocab({ inputs: [corpus], output: tokDir, model: 'bpe', vocabSize: 300, minFrequency: 1 });
  const tok = BertTokenizer.fromPretrained(tokDir);
  assert.equal(tok.padTokenId, 1, 'RoBERTa pads with <pad> = 1');
  const model = new RobertaForSequenceClassification(
    {
      vocab_size: tok.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 24,
      max_position_embeddings: 20,
      type_vocab_size: 1,
      pad_token_id: 1,
    },
    { seed: 3 },
  );
  const start = join(dir, 'roberta');
  await model.save(start);
  copyTokenizerFiles(tokDir, start);
  const { output, correct } = await finetuneAndPredict(start, 'roberta');
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'roberta');
  assert.deepEqual(config.architectures, ['RobertaForSequenceClassification']);
  assert.equal(correct, 8, `${correct} of 8 training texts classified right`);
});

test('a tiny XLM-RoBERTa with a Unigram tokenizer.json fine-tunes and predicts', async () => {
  const tokDir = join(dir, 'unigram');
  const corpus = join(dir, 'corpus-unigram.txt');
  writeFileSync(corpus, [...POSITIVE, ...NEGATIVE].join('\n').repeat(3) + '\n');
  await trainVocab({ inputs: [corpus], output: tokDir, model: 'unigram', vocabSize: 120 });
  const tok = BertTokenizer.fromPretrained(tokDir);
  const model = new XLMRobertaForSequenceClassification(
    {
      vocab_size: tok.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 24,
      max_position_embeddings: 24,
      type_vocab_size: 1,
      pad_token_id: tok.padTokenId,
    },
    { seed: 3 },
  );
  const start = join(dir, 'xlmr');
  await model.save(start);
  copyTokenizerFiles(tokDir, start);
  const { output, correct } = await finetuneAndPredict(start, 'xlmr');
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'xlm-roberta');
  assert.equal(correct, 8, `${correct} of 8 training texts classified right`);
});

test('a tiny DistilBERT fine-tunes through finetune() and predicts through pipeline()', async () => {
  const tokDir = '../shared/fixtures/hf-tiny/tokenizer';
  const model = new DistilBertForSequenceClassification(
    {
      vocab_size: BertTokenizer.fromPretrained(tokDir).vocabSize,
      dim: 16,
      n_layers: 1,
      n_heads: 2,
      hidden_dim: 24,
      max_position_embeddings: 20,
    },
    { seed: 3 },
  );
  const start = join(dir, 'distilbert');
  await model.save(start);
  copyTokenizerFiles(tokDir, start);
  const { output, correct } = await finetuneAndPredict(start, 'distilbert');
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'distilbert');
  assert.equal(config.dim, 16);
  assert.deepEqual(config.architectures, ['DistilBertForSequenceClassification']);
  assert.equal(correct, 8, `${correct} of 8 training texts classified right`);
});

test('a tiny ModernBERT (global and sliding layers, mean pooling) fine-tunes and predicts', async () => {
  const tokDir = join(dir, 'bpe-modernbert');
  const corpus = join(dir, 'corpus-modernbert.txt');
  writeFileSync(corpus, [...POSITIVE, ...NEGATIVE].join('\n').repeat(3) + '\n');
  await trainVocab({ inputs: [corpus], output: tokDir, model: 'bpe', vocabSize: 300, minFrequency: 1 });
  const tok = BertTokenizer.fromPretrained(tokDir);
  const model = new ModernBertForSequenceClassification(
    {
      vocab_size: tok.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 24,
      max_position_embeddings: 32,
      global_attn_every_n_layers: 2,
      local_attention: 4,
      classifier_pooling: 'mean',
      pad_token_id: tok.padTokenId,
    },
    { seed: 3 },
  );
  const start = join(dir, 'modernbert');
  await model.save(start);
  copyTokenizerFiles(tokDir, start);
  const { output, correct } = await finetuneAndPredict(start, 'modernbert');
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'modernbert');
  assert.deepEqual(config.architectures, ['ModernBertForSequenceClassification']);
  assert.equal(config.hidden_activation, 'gelu');
  assert.equal(config.norm_eps, 1e-5);
  assert.deepEqual(config.layer_types, ['full_attention', 'sliding_attention']);
  assert.equal(config.hidden_act, undefined);
  assert.equal(config.type_vocab_size, undefined);
  assert.equal(correct, 8, `${correct} of 8 training texts classified right`);
});
