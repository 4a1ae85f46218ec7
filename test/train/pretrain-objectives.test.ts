// pretrain() with the MLM (RoBERTa / BERT, no NSP) and ELECTRA objectives on IMDb shards: the losses go down, the
// held-out figures, the saved HF folders (the generator beside the discriminator), exact resume of ELECTRA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BertTokenizer } from '../../src/tokenizer/tokenizer.js';
import { createPretrainingData } from '../../src/data/pretraining-dataset.js';
import { readPretrainingVocab } from '../../src/data/pretraining.js';
import { ElectraForMaskedLM, ElectraForPreTraining, RobertaForMaskedLM } from '../../src/model/bert.js';
import { presetConfig, pretrain, type PretrainOptions } from '../../src/train/pretrain.js';
import { readEvalInstances } from '../../src/train/pretrain-eval.js';
import { evaluateMaskedLm } from '../../src/train/pretrain-mlm.js';
import type { ElectraEvaluation } from '../../src/train/electra.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { pretrainCommand } from '../../src/cli/commands/pretrain.js';
import { capture } from '../pretraining/capture.js';

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-pretrain-objectives-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const vocabDir = '../shared/vocab/bert-base-uncased';
const tokenizer = BertTokenizer.fromPretrained(vocabDir);
const vocabTokens: string[] = [];
for (const [t, id] of tokenizer.vocab) vocabTokens[id] = t;

function writeReviews(file: string, source: string, n: number): string {
  const rows = gunzipSync(readFileSync(source)).toString('utf8').split('\n').filter(Boolean);
  const step = Math.floor(rows.length / n);
  writeFileSync(file, Array.from({ length: n }, (_, i) => rows[i * step]).join('\n') + '\n');
  return file;
}
const common = {
  vocabTokens,
  tokenizer: {
    tokenize: (text: string) => tokenizer.tokenize(text),
    convertTokensToIds: (tokens: string[]) => tokenizer.convertTokensToIds(tokens) as number[],
  },
  maxSeqLength: 48,
  maxPredictionsPerSeq: 8,
  shortSeqProb: 0,
  dynamicMasking: true,
};
const dataDir = join(dir, 'data');
const evalDir = join(dir, 'eval');
const ready = Promise.all([
  createPretrainingData({
    ...common,
    inputs: [writeReviews(join(dir, 'train.jsonl'), '../shared/data/imdb/train.jsonl.gz', 120)],
    outputDir: dataDir,
    dupeFactor: 1,
  }),
  createPretrainingData({
    ...common,
    inputs: [writeReviews(join(dir, 'held.jsonl'), '../shared/data/imdb/test.jsonl.gz', 20)],
    outputDir: evalDir,
    dupeFactor: 1,
  }),
]);
const config = {
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 64,
};
const quiet = (): ProgressReporter => new ProgressReporter({ stream: { write: () => true }, tty: false });
const base = (out: string): PretrainOptions => ({
  vocab: vocabDir,
  dataDir,
  evalDataDir: evalDir,
  outputDir: out,
  batchSize: 8,
  lr: 5e-3,
  warmupSteps: 3,
  steps: 30,
  seed: 3,
  progress: quiet(),
});
const stepLosses = (out: string, step: number): number[] =>
  (
    JSON.parse(
      readFileSync(join(out, 'checkpoints', `step-${String(step).padStart(7, '0')}`, 'training_state.json'), 'utf8'),
    ) as { history: { steps: { loss: number }[] } }
  ).history.steps.map((s) => s.loss);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const configOf = (d: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as Record<string, unknown>;

test('objective mlm, architecture roberta: MLM loss goes down, no NSP, a RobertaForMaskedLM folder', async () => {
  await ready;
  const out = join(dir, 'roberta');
  const r = await pretrain({
    ...base(out),
    config: { ...config, max_position_embeddings: 66, type_vocab_size: 1 },
    objective: 'mlm',
  });
  const losses = stepLosses(out, 30);
  // From ln(30522) = 10.3 towards the unigram entropy of IMDb's WordPiece tokens.
  assert.ok(mean(losses.slice(0, 3)) > 9.5, `first losses ${losses.slice(0, 3).join(', ')}`);
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 3)) - 2, `losses ${losses.join(', ')}`);
  const c = configOf(out);
  assert.equal(c['model_type'], 'roberta');
  assert.deepEqual(c['architectures'], ['RobertaForMaskedLM']);
  assert.equal(c['type_vocab_size'], 1);
  const ev = r.evaluation!;
  assert.deepEqual(Object.keys(ev).sort(), ['instances', 'mlm_accuracy', 'mlm_loss']);
  assert.ok(ev.mlm_accuracy > 0.015 && ev.mlm_loss < 9, JSON.stringify(ev)); // untrained: ~0 and 10.4
  // The folder reloads as the family's class and scores the same held-out instances the same.
  const reloaded = await RobertaForMaskedLM.fromPretrained(out, { warn: () => {} });
  assert.deepEqual(reloaded.loadReport?.missing, []);
  const vocab = readPretrainingVocab(vocabDir);
  const again = evaluateMaskedLm(reloaded, readEvalInstances(evalDir, 2000, vocab, 3), 8, vocab.padId);
  assert.ok(Math.abs(again.mlm_loss - ev.mlm_loss) < 1e-5, `${again.mlm_loss} vs ${ev.mlm_loss}`);
  assert.equal(again.mlm_accuracy, ev.mlm_accuracy);
  // bert-base-uncased's WordPiece gives pairs types 0 and 1; a one-type RoBERTa must get 0 everywhere, as
  // transformers gives it (model_input_names without token_type_ids, the tokenizer class named).
  const tokenizerConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual(tokenizerConfig['model_input_names'], ['input_ids', 'attention_mask']);
  assert.equal(tokenizerConfig['tokenizer_class'], 'BertTokenizer');
  const tok = BertTokenizer.fromPretrained(out);
  assert.deepEqual(tok.encode('a film', 'a review').tokenTypeIds, [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(tok('a film', { text_pair: 'a review', return_tensor: false }).token_type_ids, undefined);
});

test('RoBERTa and ELECTRA presets have the BERT sizes; objective mlm with architecture bert saves BertForMaskedLM', async () => {
  const bert = presetConfig('mini');
  const roberta = presetConfig('mini', 'roberta');
  const electra = presetConfig('mini', 'electra');
  for (const c of [roberta, electra])
    for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size'])
      assert.equal(c[k], bert[k], k);
  assert.deepEqual(
    [roberta['model_type'], roberta['type_vocab_size'], roberta['max_position_embeddings']],
    ['roberta', 1, 514],
  );
  assert.deepEqual([electra['model_type'], electra['embedding_size']], ['electra', 128]);
  await ready;
  const out = join(dir, 'bert-mlm');
  await pretrain({ ...base(out), steps: 2, config, objective: 'mlm', architecture: 'bert' });
  assert.deepEqual(configOf(out)['architectures'], ['BertForMaskedLM']);
  await assert.rejects(
    pretrain({
      ...base(join(dir, 'short')),
      steps: 2,
      config: { ...config, max_position_embeddings: 48 },
      objective: 'mlm',
    }),
    /max_seq_length 48 > the 47 positions/,
  );
});

test('objective electra: joint loss goes down, RTD figures, discriminator + generator/ folders sharing embeddings', async () => {
  await ready;
  const out = join(dir, 'electra');
  const r = await pretrain({ ...base(out), config: { ...config, embedding_size: 16 }, objective: 'electra' });
  const losses = stepLosses(out, 30);
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 3)) - 2, `losses ${losses.join(', ')}`);
  const ev = r.evaluation as ElectraEvaluation;
  for (const k of ['mlm_loss', 'mlm_accuracy', 'rtd_loss', 'rtd_accuracy', 'rtd_replaced_fraction'] as const)
    assert.ok(Number.isFinite(ev[k]), k);
  // Most masked positions are replaced by a weak generator (about 15% of the tokens); the discriminator beats
  // answering "original" everywhere once it has learnt anything.
  assert.ok(ev.rtd_replaced_fraction > 0.05 && ev.rtd_replaced_fraction < 0.2, JSON.stringify(ev));
  assert.ok(ev.rtd_loss < 0.6, JSON.stringify(ev));
  const d = configOf(out);
  const g = configOf(join(out, 'generator'));
  assert.deepEqual(d['architectures'], ['ElectraForPreTraining']);
  assert.deepEqual(g['architectures'], ['ElectraForMaskedLM']);
  assert.deepEqual([g['hidden_size'], g['num_attention_heads'], g['intermediate_size']], [8, 1, 16]);
  assert.equal(g['embedding_size'], 16);
  assert.ok(existsSync(join(out, 'generator', 'vocab.txt')));
  const dw = readSafetensors(join(out, 'model.safetensors')).tensors;
  const gw = readSafetensors(join(out, 'generator', 'model.safetensors')).tensors;
  for (const name of ['word_embeddings.weight', 'position_embeddings.weight', 'LayerNorm.bias']) {
    const a = dw.get(`electra.embeddings.${name}`)!;
    const b = gw.get(`electra.embeddings.${name}`)!;
    assert.deepEqual(
      Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
        Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
      ),
      true,
      name,
    );
  }
  const disc = await ElectraForPreTraining.fromPretrained(out, { warn: () => {} });
  const gen = await ElectraForMaskedLM.fromPretrained(join(out, 'generator'), { warn: () => {} });
  assert.deepEqual([disc.loadReport?.missing, gen.loadReport?.missing], [[], []]);
});

test('objective electra resumes exactly: stopped at step 3 and resumed = 6 steps at once', async () => {
  await ready;
  const opts = {
    config: { ...config, embedding_size: 16 },
    objective: 'electra' as const,
    steps: 6,
    evalDataDir: undefined,
  };
  const whole = join(dir, 'electra-whole');
  await pretrain({ ...base(whole), ...opts });
  const parts = join(dir, 'electra-parts');
  let n = 0;
  const first = await pretrain({ ...base(parts), ...opts, shouldStop: () => n++ >= 3 });
  assert.equal(first.stoppedBy, 'stop');
  await pretrain({ ...base(parts), ...opts, resume: true });
  assert.deepEqual(stepLosses(parts, 6), stepLosses(whole, 6));
  for (const f of ['model.safetensors', 'generator/model.safetensors'])
    assert.ok(readFileSync(join(parts, f)).equals(readFileSync(join(whole, f))), f);
});

test('bert pretrain --objective electra --config tiny runs; bad --objective / --architecture / --generator-size are usage errors', async () => {
  await ready;
  const out = join(dir, 'cli-electra');
  const args = ['--config', 'tiny', '--data', dataDir, '--vocab', vocabDir, '--steps', '2', '--output', out];
  let r = await capture(pretrainCommand, [
    ...args,
    '--objective',
    'electra',
    '--generator-size',
    '0.5',
    '--batch-size',
    '4',
  ]);
  assert.equal(r.code, 0, r.err);
  const d = configOf(out);
  const g = configOf(join(out, 'generator'));
  assert.deepEqual(
    [d['hidden_size'], d['embedding_size'], g['hidden_size'], g['num_attention_heads']],
    [128, 128, 64, 1],
  );
  r = await capture(pretrainCommand, [...args, '--objective', 'nsp']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--objective nsp: use mlm-nsp, mlm, electra/);
  r = await capture(pretrainCommand, [...args, '--objective', 'electra', '--architecture', 'roberta']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--architecture roberta: roberta or bert, with --objective mlm/);
  r = await capture(pretrainCommand, [...args, '--objective', 'electra', '--generator-size', '2']);
  assert.equal(r.code, 2);
  assert.match(r.err, /generator-size/);
});
