// Pre-training loop on a small IMDb corpus: the loss goes down, held-out MLM/NSP metrics, exact resume, saved folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getKernels } from '../../src/native/index.js';
import { pretrainingVocab } from '../../src/data/pretraining.js';
import { createPretrainingData, type SentenceTokenizer } from '../../src/data/pretraining-dataset.js';
import { collatePretraining } from '../../src/data/batching.js';
import { BertForPreTraining } from '../../src/model/bert.js';
import { pretrain } from '../../src/train/pretrain.js';
import { evaluatePretraining } from '../../src/train/pretrain-eval.js';
import { loadPretrainingModel, pretrainingForward } from '../../src/train/pretrain-model.js';
import { PretrainingStream } from '../../src/train/pretrain-stream.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { readDataset, readDatasetManifest } from '../../src/data/shards.js';
import { readSafetensors } from '../../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-pretrain-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// A word-level vocabulary of the 1,500 most frequent lowercase words: enough to see MLM learn, with no dependency
// on the WordPiece tokenizer.
function reviews(file: string, n: number, offset: number): string[] {
  const rows = gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter(Boolean);
  const step = Math.floor(rows.length / n);
  return Array.from(
    { length: n },
    (_, i) => (JSON.parse(rows[(i * step + offset) % rows.length]!) as { text: string }).text,
  );
}
const words = (t: string): string[] =>
  t
    .toLowerCase()
    .replace(/<br\s*\/?>/g, ' ')
    .match(/[a-z']+|[.,!?]/g) ?? [];
const train = reviews('../shared/data/imdb/train.jsonl.gz', 400, 0);
const held = reviews('../shared/data/imdb/test.jsonl.gz', 60, 7);
const freq = new Map<string, number>();
for (const t of train) for (const w of words(t)) freq.set(w, (freq.get(w) ?? 0) + 1);
const vocabTokens = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  ...[...freq.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 1495)
    .map((e) => e[0]),
];
const ids = new Map(vocabTokens.map((t, i) => [t, i]));
const tokenizer: SentenceTokenizer = { tokenize: words, convertTokensToIds: (ts) => ts.map((t) => ids.get(t) ?? 1) };
const vocab = pretrainingVocab(vocabTokens);
// The tokenizer folder pretrain() reads the vocabulary from (and copies into its output).
const vocabDir = join(dir, 'vocab');
mkdirSync(vocabDir);
writeFileSync(join(vocabDir, 'vocab.txt'), vocabTokens.join('\n') + '\n');
const config = {
  vocab_size: vocabTokens.length,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 128,
  max_position_embeddings: 64,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};
const quiet = (): ProgressReporter => new ProgressReporter({ stream: { write: () => true }, tty: false });

const trainFile = join(dir, 'train.jsonl');
writeFileSync(trainFile, train.map((text) => JSON.stringify({ text })).join('\n') + '\n');
const heldFile = join(dir, 'held.jsonl');
writeFileSync(heldFile, held.map((text) => JSON.stringify({ text })).join('\n') + '\n');
const common = { tokenizer, vocabTokens, maxSeqLength: 64, maxPredictionsPerSeq: 10 };
const dataDir = join(dir, 'data');
const evalDir = join(dir, 'eval');
const ready = Promise.all([
  createPretrainingData({ ...common, inputs: [trainFile], outputDir: dataDir, dupeFactor: 2, documentsPerShard: 150 }),
  createPretrainingData({ ...common, inputs: [heldFile], outputDir: evalDir, dupeFactor: 1 }),
]);

test('pre-training loss goes down on a small corpus; held-out MLM beats chance; the folder reloads', async () => {
  await ready;
  const out = join(dir, 'run');
  // The model pretrain() starts from: the same config and seed.
  const initial = new BertForPreTraining(config, { seed: 1 });
  const before = evaluatePretraining(initial, [...readDataset(evalDir, readDatasetManifest(evalDir))], 32, vocab.padId);
  const r = await pretrain({
    config,
    seed: 1,
    vocab: vocabDir,
    dataDir,
    evalDataDir: evalDir,
    outputDir: out,
    batchSize: 16,
    lr: 3e-3,
    warmupSteps: 5,
    steps: 40,
    progress: quiet(),
  });
  assert.equal(r.steps, 40);
  const log = JSON.parse(readFileSync(join(out, 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
  assert.equal(log.step, 40);
  const state = JSON.parse(readFileSync(join(out, 'checkpoints', 'step-0000040', 'training_state.json'), 'utf8')) as {
    history: { steps: { loss: number }[] };
  };
  const losses = state.history.steps.map((s) => s.loss);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-5));
  // Starts near ln(1500) + ln(2) = 8.0; predicting word frequencies alone takes MLM to ~6.
  assert.ok(first > 7, `first losses ${first}`);
  assert.ok(last < first - 1.2, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  const after = r.evaluation!;
  assert.ok(after.mlm_loss < before.mlm_loss - 1, `held-out MLM loss ${before.mlm_loss} -> ${after.mlm_loss}`);
  assert.ok(after.mlm_accuracy > 0.08, `held-out MLM accuracy ${after.mlm_accuracy}`);
  assert.ok(after.nsp_accuracy >= 0 && after.nsp_accuracy <= 1);
  assert.ok(after.nsp_random_fraction > 0.45 && after.nsp_random_fraction < 0.7);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'training_curve.svg', 'pretrain_results.json'])
    assert.ok(existsSync(join(out, f)), f);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { architectures: string[] };
  assert.deepEqual(cfg.architectures, ['BertForPreTraining']);
  const { model: reloaded, newlyInitialized } = await loadPretrainingModel(out);
  assert.deepEqual(newlyInitialized, []);
  // The folder is a plain BertForPreTraining checkpoint: the library's own class loads it and computes the same
  // MLM + NSP loss (HF's way: logits over every token, labels -100 except at the masked positions).
  const official = await BertForPreTraining.fromPretrained(out, { warn: () => {} });
  const evalInsts = [...readDataset(evalDir, readDatasetManifest(evalDir))].slice(0, 4);
  const batch = collatePretraining(evalInsts, vocab.padId);
  const labels = new Array<number>(batch.B * batch.T).fill(-100);
  batch.maskedIndex.forEach((i, k) => (labels[i] = batch.maskedLabels[k]!));
  const hfOut = official.forward({
    inputIds: { data: batch.inputIds, shape: [batch.B, batch.T] },
    tokenTypeIds: { data: batch.tokenTypeIds, shape: [batch.B, batch.T] },
    attentionMask: { data: batch.attentionMask, shape: [batch.B, batch.T] },
    labels: { data: labels, shape: [batch.B, batch.T] },
    nextSentenceLabel: { data: batch.nextSentenceLabels, shape: [batch.B] },
  });
  const ours = pretrainingForward(reloaded, batch, { train: false });
  assert.ok(Math.abs(hfOut.loss! - ours.loss) < 1e-4, `BertForPreTraining loss ${hfOut.loss} vs ${ours.loss}`);
  const again = evaluatePretraining(
    reloaded,
    [...readDataset(evalDir, readDatasetManifest(evalDir))].slice(0, 2000),
    32,
    vocab.padId,
  );
  assert.ok(Math.abs(again.mlm_loss - after.mlm_loss) < 1e-4, `reloaded ${again.mlm_loss} vs ${after.mlm_loss}`);
});

test('exact resume: interrupted at step 4 and resumed = uninterrupted 8 steps, bit for bit', async () => {
  await ready;
  // The js kernels: bit-for-bit reproducible (the native ones currently are not from run to run, see the report).
  const kernels = getKernels({ backend: 'js' });
  const small = { ...config, hidden_size: 32, intermediate_size: 64 };
  const base = {
    config: small,
    seed: 5,
    vocab: vocabDir,
    dataDir,
    batchSize: 4,
    gradAccumSteps: 2,
    lr: 1e-3,
    warmupSteps: 3,
    steps: 8,
    kernels,
    progress: quiet(),
    checkpointEvery: 100,
  };
  await pretrain({ ...base, outputDir: join(dir, 'a') });
  let n = 0;
  const r1 = await pretrain({ ...base, outputDir: join(dir, 'b'), shouldStop: () => n++ >= 4 });
  assert.equal(r1.stoppedBy, 'stop');
  assert.equal(r1.steps, 4);
  const r2 = await pretrain({ ...base, outputDir: join(dir, 'b'), resume: true });
  assert.equal(r2.steps, 8);
  const stateOf = (run: string) =>
    JSON.parse(readFileSync(join(dir, run, 'checkpoints', 'step-0000008', 'training_state.json'), 'utf8')) as {
      trainForwards: number;
      position: { epoch: number; offset: number };
      history: { steps: { loss: number }[] };
    };
  // 8 steps x 2 micro-batches: the dropout masks and the data position continue across the resume.
  assert.equal(stateOf('b').trainForwards, 16);
  assert.deepEqual(stateOf('b').position, stateOf('a').position);
  assert.deepEqual(stateOf('b').position, { epoch: 0, offset: 32 });
  assert.deepEqual(stateOf('b').history.steps, stateOf('a').history.steps);
  const wa = readSafetensors(join(dir, 'a', 'model.safetensors')).tensors;
  const wb = readSafetensors(join(dir, 'b', 'model.safetensors')).tensors;
  assert.equal(wb.size, wa.size);
  let diff = 0;
  for (const [name, t] of wa) {
    const u = wb.get(name)?.data;
    assert.ok(u, name);
    for (let i = 0; i < t.data.length; i++) if (t.data[i] !== u[i]) diff++;
  }
  assert.equal(diff, 0, `${diff} parameters differ after resume`);
  // Resuming with other settings, or with another seed (data order, masks, dropout), is refused before anything changes.
  await assert.rejects(
    pretrain({ ...base, lr: 5e-4, outputDir: join(dir, 'b'), resume: true }),
    /cannot resume with different settings \(lr: checkpoint 0\.001, now 0\.0005\)/,
  );
  await assert.rejects(
    pretrain({ ...base, seed: 999, outputDir: join(dir, 'b'), resume: true }),
    /cannot resume with different settings \(modelSeed: checkpoint 5, now 999; seed: checkpoint 5, now 999\)/,
  );
});

test('the stream covers every instance once per epoch, in a different order each epoch, and seeks exactly', async () => {
  await ready;
  const s = new PretrainingStream(dataDir, { seed: 3, vocab, masking: {}, batchSize: 1 });
  const total = s.instancesPerEpoch;
  assert.ok(s.manifest.shards.length >= 2);
  const key = (x: { inputIds: Int32Array }): string => x.inputIds.join(',');
  const e0 = Array.from({ length: total }, () => key(s.nextInstance()));
  const e1 = Array.from({ length: total }, () => key(s.nextInstance()));
  assert.deepEqual([...e0].sort(), [...e1].sort());
  assert.notDeepEqual(e0, e1);
  const t = new PretrainingStream(dataDir, { seed: 3, vocab, masking: {}, batchSize: 1 });
  t.seek({ epoch: 1, offset: 37 });
  assert.equal(key(t.nextInstance()), e1[37]);
  assert.deepEqual(t.position(), { epoch: 1, offset: 38 });
  // As a sampler: micro-batches of 5 instances in the same order; the epoch's last instance ends a batch only if
  // the epoch is a whole number of batches.
  const u = new PretrainingStream(dataDir, { seed: 3, vocab, masking: {}, batchSize: 5 });
  const first = u.next();
  assert.equal(first.examples, 5);
  assert.equal(first.lastOfEpoch, total === 5);
  assert.deepEqual(Array.from(first.batch.inputIds.subarray(0, e0[0]!.split(',').length)).join(','), e0[0]);
  assert.deepEqual(u.position(), { epoch: 0, offset: 5 });
});

test("dynamic masking: the stream masks stored instances anew each epoch, with the dataset's settings", async () => {
  await ready;
  const dyn = join(dir, 'dynamic');
  const m = await createPretrainingData({
    ...common,
    inputs: [heldFile],
    outputDir: dyn,
    dupeFactor: 1,
    dynamicMasking: true,
  });
  const s = new PretrainingStream(dyn, {
    seed: 4,
    vocab,
    masking: { maskedLmProb: m.maskedLmProb, maxPredictions: m.maxPredictionsPerSeq },
    batchSize: 1,
  });
  const unmaskedKey = (x: { inputIds: Int32Array; maskedPositions: Int32Array; maskedLabels: Int32Array }): string => {
    const ids = x.inputIds.slice();
    x.maskedPositions.forEach((p, k) => (ids[p] = x.maskedLabels[k]!));
    return ids.join(',');
  };
  const masks = new Map<string, string>();
  let changed = 0;
  for (let epoch = 0; epoch < 2; epoch++) {
    for (let i = 0; i < m.instances; i++) {
      const x = s.nextInstance();
      assert.ok(x.maskedPositions.length >= 1 && x.maskedPositions.length <= 10);
      const k = unmaskedKey(x);
      const mask = x.maskedPositions.join(',');
      if (epoch === 0) masks.set(k, mask);
      else if (masks.get(k) !== mask) changed++;
    }
  }
  assert.equal(masks.size, m.instances);
  assert.ok(changed > 0.9 * m.instances, `${changed} of ${m.instances} masks changed between epochs`);
});
