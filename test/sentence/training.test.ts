// Training sentence embeddings and rerankers through the one Trainer: the adapters' losses and gradients against
// the losses checked with sentence-transformers, save -> reload identity, resume, the plain-folder start, errors.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { EpochSampler } from '../../src/data/samplers.js';
import { Trainer } from '../../src/train/trainer.js';
import { getKernels } from '../../src/native/index.js';
import { binaryCrossEntropyWithLogits, multipleNegativesRankingLoss } from '../../src/train/losses/index.js';
import {
  crossEncoderTrainerModel,
  embeddingDataset,
  rerankerDataset,
  sentenceTrainerModel,
  withBinaryCrossEntropy,
} from '../../src/train/sentence-adapter.js';
import { trainEmbeddings } from '../../src/train/train-embeddings.js';
import { trainReranker } from '../../src/train/train-reranker.js';
import { readEmbeddingPairs } from '../../src/data/pairs.js';
import { maxAbsDiff } from '../native/helpers.js';
import { tempDir } from '../helpers/temp.js';

const FIX = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
const DATA = new URL('../fixtures/sentence-train/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as {
  texts: string[];
  models: Record<string, { embeddings: number[][] }>;
};
const quiet = (): ProgressReporter => new ProgressReporter({ stream: { write: () => true }, tty: false });
const tmp = (): string => tempDir('st-train');
const load = (dir: string): Promise<SentenceTransformer> => SentenceTransformer.fromPretrained(dir, { warn: () => {} });
const COLUMNS = [
  ['what is the capital of france', 'cats sleep', 'capital of germany', 'a dog'],
  [
    'Paris is the capital and largest city of France.',
    'Cats sleep.',
    'Berlin is the capital of Germany.',
    'a dog runs in the park',
  ],
];

test('the embedding adapter: MNRL loss of the encoded batch, CachedMNRL the same loss and gradients', async () => {
  const model = await load(join(FIX, 'cls_dense_tanh'));
  const batch = { columns: COLUMNS, scores: null };
  const cols = COLUMNS.map((texts) => {
    const pass = model.forward(texts, { prompt: '' });
    return { data: pass.embeddings.slice(), rows: pass.rows, dim: pass.dim };
  });
  const reference = multipleNegativesRankingLoss(cols).loss;
  const grads: Float32Array[] = [];
  for (const name of ['mnrl', 'cached-mnrl'] as const) {
    const tm = sentenceTrainerModel(model, { name, miniBatchSize: 3 });
    tm.zeroGrad();
    const loss = tm.forwardLoss(batch, false, 1, 0);
    assert.ok(Math.abs(loss - reference) <= 1e-5 * reference, `${name}: ${loss} vs ${reference}`);
    tm.backward();
    grads.push(Float32Array.from(tm.parameters().flatMap((p) => Array.from(p.grad))));
  }
  const scale = Math.max(...grads[0]!.map(Math.abs));
  assert.ok(scale > 0);
  assert.ok(maxAbsDiff(grads[0]!, grads[1]!) <= 1e-5 * scale, 'cached-mnrl gradients differ from mnrl');
});

test('Trainer steps, save, reload: the reloaded folder encodes exactly as the trained model', async () => {
  const model = await load(join(FIX, 'cls_dense_tanh'));
  const before = model.encode(expected.texts);
  const kernels = getKernels();
  const sampler = new EpochSampler(embeddingDataset(COLUMNS, null), { batchSize: 2, seed: 1 });
  const result = await new Trainer(sentenceTrainerModel(model, { name: 'mnrl' }), sampler, {
    epochs: 2,
    lr: 1e-3,
    optimizer: { name: 'adamw', eps: 1e-8, betas: [0.9, 0.999], weightDecay: 0 },
    schedule: 'linear',
    kernels,
    progress: quiet(),
  }).train();
  assert.equal(result.steps, 4);
  const after = model.encode(expected.texts);
  assert.ok(maxAbsDiff(before[0]!, after[0]!) > 1e-4, 'training changed nothing');
  const dir = tmp();
  await model.save(dir);
  const reloaded = (await load(dir)).encode(expected.texts);
  after.forEach((v, i) => assert.deepEqual(reloaded[i], v, `text ${i}`));
  const modules = JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')) as { type: string; path: string }[];
  assert.deepEqual(
    modules.map((m) => [m.path, m.type.split('.').pop()]),
    [
      ['', 'Transformer'],
      ['1_Pooling', 'Pooling'],
      ['2_Dense', 'Dense'],
      ['3_Normalize', 'Normalize'],
    ],
  );
  const settings = JSON.parse(readFileSync(join(dir, 'config_sentence_transformers.json'), 'utf8'));
  assert.equal(settings.default_prompt_name, 'query');
  assert.equal(settings.similarity_fn_name, 'dot');
});

test('a plain BERT folder trains under mean pooling, as sentence-transformers wraps one', async () => {
  const plain = tmp();
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(FIX, 'mean_legacy', f), join(plain, f));
  const warnings: string[] = [];
  const st = await SentenceTransformer.fromPretrained(plain, { warn: (m) => warnings.push(m) });
  assert.match(warnings.join('\n'), /no modules\.json .* mean pooling/);
  st.maxSeqLength = 16; // mean_legacy's max_seq_length; its Normalize module is applied here by normalize: true
  const got = st.encode(expected.texts, { normalize: true });
  got.forEach((v, i) => assert.ok(maxAbsDiff(v, expected.models['mean_legacy']!.embeddings[i]!) <= 1e-5, `text ${i}`));
  assert.throws(() => (st.maxSeqLength = 1000), /max_position_embeddings/);
});

test('trainEmbeddings: evaluation before and after, best model saved; a stopped run resumes to the same weights', async () => {
  const base = {
    model: join(FIX, 'mean_legacy'),
    train: join(DATA, 'pairs.jsonl'),
    eval: join(DATA, 'pairs.jsonl'),
    batchSize: 3,
    epochs: 2,
    lr: 1e-3,
    seed: 7,
  };
  const full = tmp();
  const r = await trainEmbeddings({ ...base, output: full, progress: quiet() });
  assert.equal(r.interrupted, false);
  if (r.interrupted) return;
  assert.equal(r.summary.metric, 'cosine_ndcg@10');
  assert.ok(r.summary.initial_eval && 'cosine_mrr@10' in r.summary.initial_eval);
  assert.equal(r.summary.steps, 6);
  const saved = JSON.parse(readFileSync(join(full, 'eval_results.json'), 'utf8'));
  assert.equal(saved.best_step, r.summary.best_step);
  // keepBest: the saved folder holds the weights of the best evaluation, so evaluating it gives that score.
  const { evaluateRetrieval } = await import('../../src/train/evaluators/index.js');
  const { retrievalFromPairs } = await import('../../src/train/train-embeddings.js');
  const ir = retrievalFromPairs(await readEmbeddingPairs(base.eval));
  assert.equal(evaluateRetrieval(await load(full), ir)['cosine_ndcg@10'], r.summary.best_metric);

  const split = tmp();
  const first = await trainEmbeddings({ ...base, output: split, stopAfterSteps: 2, progress: quiet() });
  assert.deepEqual(first, { interrupted: true, steps: 2, totalSteps: 6 });
  await assert.rejects(trainEmbeddings({ ...base, output: split, progress: quiet() }), /add resume to continue it/);
  const second = await trainEmbeddings({ ...base, output: split, resume: true, progress: quiet() });
  assert.equal(second.interrupted, false);
  const a = (await load(full)).encode(expected.texts);
  const b = (await load(split)).encode(expected.texts);
  a.forEach((v, i) => assert.deepEqual(b[i], v, `text ${i}: resumed run differs`));
});

test('trainEmbeddings: CoSENT on scored pairs with Matryoshka, evaluated by Spearman of cosine', async () => {
  const out = tmp();
  const r = await trainEmbeddings({
    model: join(FIX, 'mean_legacy'),
    train: join(DATA, 'scored.csv'),
    eval: join(DATA, 'scored.csv'),
    loss: 'cosent',
    matryoshkaDims: [32, 8],
    batchSize: 3,
    output: out,
    progress: quiet(),
  });
  assert.equal(r.interrupted, false);
  if (!r.interrupted) {
    assert.equal(r.summary.metric, 'spearman_cosine');
    assert.equal(r.summary.loss, 'cosent (matryoshka 32,8)');
  }
});

test('trainEmbeddings refuses bad options and data with the option or row named', async () => {
  const o = { model: join(FIX, 'mean_legacy'), output: tmp(), progress: quiet() };
  await assert.rejects(trainEmbeddings({ ...o, train: join(DATA, 'pairs.jsonl'), loss: 'cosent' }), /scored pairs/);
  await assert.rejects(
    trainEmbeddings({ ...o, train: join(DATA, 'pairs.jsonl'), loss: 'triplet' as 'mnrl' }),
    /loss must be mnrl, cached-mnrl, cosent/,
  );
  await assert.rejects(
    trainEmbeddings({ ...o, train: join(DATA, 'reranker.jsonl') }),
    /no column "anchor" \+ "positive" or "sentence1" \+ "sentence2"/,
  );
  await assert.rejects(
    trainEmbeddings({ ...o, train: join(DATA, 'pairs.jsonl'), matryoshkaDims: [64] }),
    /exceed the embedding dimension 32/,
  );
  const bad = join(o.output, 'bad.jsonl');
  writeFileSync(bad, '{"sentence1": "a", "sentence2": "b", "score": "high"}\n');
  await assert.rejects(
    trainEmbeddings({ ...o, train: bad, loss: 'cosent' }),
    /bad\.jsonl:1: column "score" must be a number/,
  );
});

test("the reranker adapter's loss is BinaryCrossEntropyLoss of the logits; trainReranker saves what reloads", async () => {
  const ce = await CrossEncoder.fromPretrained(join(FIX, 'cross_encoder'), { warn: () => {} });
  const queries = ['what is the capital of france', 'what is the capital of france', 'cats'];
  const passages = ['Paris is the capital and largest city of France.', 'Cats sleep.', 'Cats sleep.'];
  const labels = [1, 0, 0.7];
  const logits = ce.logits(queries.map((q, i) => [q, passages[i]!] as [string, string])).map((r) => r[0]!);
  const reference = binaryCrossEntropyWithLogits(logits, labels).loss;
  const data = rerankerDataset(ce, queries, passages, labels);
  await withBinaryCrossEntropy(ce, async () => {
    const loss = crossEncoderTrainerModel(ce).forwardLoss(data.collate([0, 1, 2]), false, 1, 0);
    assert.ok(Math.abs(loss - reference) <= 1e-6, `${loss} vs ${reference}`);
  });
  assert.equal(ce.model.config.problemType, null, 'problem_type put back');

  const out = tmp();
  const r = await trainReranker({
    model: join(FIX, 'cross_encoder'),
    train: join(DATA, 'reranker.jsonl'),
    eval: join(DATA, 'reranker.jsonl'),
    batchSize: 4,
    epochs: 2,
    lr: 1e-3,
    output: out,
    progress: quiet(),
  });
  assert.equal(r.interrupted, false);
  if (!r.interrupted) assert.deepEqual(Object.keys(r.summary.eval ?? {}).sort(), ['map', 'mrr@10', 'ndcg@10']);
  const reloaded = await CrossEncoder.fromPretrained(out, { warn: () => {} });
  assert.equal(reloaded.activation, 'sigmoid');
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.problem_type ?? null, null);
  const bad = join(out, 'bad.jsonl');
  writeFileSync(bad, '{"query": "a", "passage": "b", "label": 3}\n');
  await assert.rejects(
    trainReranker({ model: join(FIX, 'cross_encoder'), train: bad, output: tmp(), progress: quiet() }),
    /label 3 is outside \[0, 1\]/,
  );
});

test('a plain BERT folder becomes a one-label cross-encoder (a new classifier, seeded)', async () => {
  const plain = tmp();
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(FIX, 'mean_legacy', f), join(plain, f));
  const a = await CrossEncoder.fromPretrained(plain, { warn: () => {}, seed: 3 });
  const b = await CrossEncoder.fromPretrained(plain, { warn: () => {}, seed: 3 });
  assert.equal(a.numLabels, 1);
  assert.deepEqual(a.predict([['cats', 'Cats sleep.']]), b.predict([['cats', 'Cats sleep.']]));
});
