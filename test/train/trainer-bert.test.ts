// The Trainer on the hf-tiny BERT heads: torch AdamW parity over three steps, loss going down for every head, resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { toInt32Array } from '../../src/io/dtypes.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import {
  BertForMultipleChoice,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
} from '../../src/model/bert.js';
import type { BertInputs } from '../../src/model/inputs.js';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.js';
import { EpochSampler, type IndexedDataset } from '../../src/data/samplers.js';
import { bertTrainerModel, type BertHeadModel } from '../../src/train/bert-adapter.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { Rng } from '../../src/data/rng.js';
import { choicesDataset, encodedDataset, type EncodedChoices, type EncodedExample } from '../../src/data/batching.js';
import { evaluateSequenceClassification, evaluateTokenClassification } from '../../src/train/evaluation.js';
import { tempDir } from '../helpers/temp.js';

const FIX = '../shared/fixtures/hf-tiny';
const ref = readSafetensors(join(FIX, 'reference.safetensors')).tensors;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as {
  heads: Record<string, { adamw: { losses: number[]; grad_norms_before_clip: number[]; lr_used: number[] } }>;
};
const ints = (k: string) => toInt32Array(ref.get(k)!);
const quiet = () => new ProgressReporter({ stream: { write: () => true }, tty: false });
const opts = { kernels: jsKernels, warn: () => {} };

/** Wraps the model so the trainer's forwards run in eval mode (the fixtures were made without dropout). */
function evalModeTrainerModel(model: BertHeadModel) {
  const m = bertTrainerModel(model);
  return { ...m, forwardLoss: (b: BertInputs, _train: boolean, s: number) => m.forwardLoss(b, false, s, 0) };
}

function fixtureParity(head: string, model: BertHeadModel, batch: BertInputs): Promise<void> {
  return (async () => {
    const data: IndexedDataset<BertInputs> = { size: 3, lengthOf: () => 24, collate: () => batch };
    const p = quiet();
    // Batch of all 3 examples, 10 epochs = 10 steps: warmup 2, linear decay to 0 at step 10, clip 1.0; stop after 3.
    const o: TrainerOptions = {
      epochs: 10,
      lr: 1e-3,
      optimizer: { name: 'adamw', eps: 1e-6, weightDecay: 0.01 },
      schedule: 'linear',
      warmupSteps: 2,
      maxGradNorm: 1,
      kernels: jsKernels,
      progress: p,
      shouldStop: (step) => step >= 3,
    };
    await new Trainer(evalModeTrainerModel(model), new EpochSampler(data, { batchSize: 3, seed: 0 }), o).train();
    const a = manifest.heads[head]!.adamw;
    assert.deepEqual(
      p.steps.map((s) => s.lr),
      a.lr_used,
    );
    p.steps.forEach((s, i) =>
      assert.ok(
        Math.abs(s.loss - a.losses[i]!) <= 1e-5 * Math.abs(a.losses[i]!),
        `${head} loss ${i}: ${s.loss} vs ${a.losses[i]}`,
      ),
    );
    for (const prm of model.parameters()) {
      // Multiple choice: the classifier bias adds the same score to every choice (QA: qa_outputs.bias the same score
      // to every position), so under the softmax its true gradient is exactly 0 and both sides hold only float
      // rounding noise (~1e-5 > eps), which Adam's m / sqrt(v) blows up to +-lr.
      if (
        (head === 'multiple_choice' && prm.name === 'classifier.bias') ||
        (head === 'qa' && prm.name === 'qa_outputs.bias')
      )
        continue;
      const want = ref.get(`${head}.after3.${prm.name}`);
      assert.ok(want, `no reference for ${prm.name}`);
      const w = want.data as Float32Array;
      let maxAbs = 0;
      let maxErr = 0;
      for (let i = 0; i < w.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(w[i]!));
        maxErr = Math.max(maxErr, Math.abs(w[i]! - prm.data[i]!));
      }
      assert.ok(
        maxErr <= 1e-4 * Math.max(maxAbs, 1e-12),
        `${head} ${prm.name}: max error ${maxErr} (max |ref| ${maxAbs})`,
      );
    }
  })();
}

const baseInputs = (): BertInputs => ({
  inputIds: { data: ints('input.input_ids'), shape: [3, 24] },
  tokenTypeIds: { data: ints('input.token_type_ids'), shape: [3, 24] },
  attentionMask: { data: ints('input.attention_mask'), shape: [3, 24] },
});

test('three Trainer steps match torch AdamW + clipping + linear warmup (seq_cls3, token_cls5, multiple_choice)', async () => {
  const s = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts);
  await fixtureParity('seq_cls3', s, { ...baseInputs(), labels: { data: ints('labels.cls3'), shape: [3] } });
  const t = await BertForTokenClassification.fromPretrained(join(FIX, 'token_cls5'), opts);
  await fixtureParity('token_cls5', t, { ...baseInputs(), labels: { data: ints('labels.token5'), shape: [3, 24] } });
  const mc = await BertForMultipleChoice.fromPretrained(join(FIX, 'multiple_choice'), opts);
  await fixtureParity('multiple_choice', mc, {
    inputIds: { data: ints('input.mc.input_ids'), shape: [3, 2, 24] },
    tokenTypeIds: { data: ints('input.mc.token_type_ids'), shape: [3, 2, 24] },
    attentionMask: { data: ints('input.mc.attention_mask'), shape: [3, 2, 24] },
    labels: { data: ints('labels.mc'), shape: [3] },
  });
});

test('three Trainer steps match torch AdamW (qa)', async () => {
  const q = await BertForQuestionAnswering.fromPretrained(join(FIX, 'qa'), opts);
  await fixtureParity('qa', q, {
    ...baseInputs(),
    startPositions: { data: ints('labels.start_positions'), shape: [3] },
    endPositions: { data: ints('labels.end_positions'), shape: [3] },
  });
});

// ---- synthetic tasks: learnable from token identity ----
const CLS = 9,
  SEP = 10;
const WORDS = Array.from({ length: 200 }, (_, i) => 1000 + i);

/** Random sentences; class = which of three marker ids (1501..1503) appears. */
function seqExamples(n: number, seed: number): EncodedExample[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => {
    const label = r.int(3);
    const len = 4 + r.int(10);
    const body = Array.from({ length: len }, () => WORDS[r.int(WORDS.length)]!);
    body[r.int(len)] = 1501 + label;
    return { inputIds: [CLS, ...body, SEP], label };
  });
}

const base = {
  lr: 3e-3,
  optimizer: { name: 'adamw' as const, eps: 1e-6, weightDecay: 0.01 },
  schedule: 'linear' as const,
  warmupRatio: 0.1,
  kernels: jsKernels,
};
/** Epochs of seeded batches of `batchSize` (8 unless said). */
const batches = (data: IndexedDataset<BertInputs>, batchSize = 8) => new EpochSampler(data, { batchSize, seed: 3 });

/** Mean training loss of the first and of the last `k` steps. */
function lossEnds(p: ProgressReporter, k: number): { first: number; last: number } {
  const mean = (steps: readonly { loss: number }[]): number => steps.reduce((s, x) => s + x.loss, 0) / k;
  return { first: mean(p.steps.slice(0, k)), last: mean(p.steps.slice(-k)) };
}

/** Trains 10 epochs with the base options; the mean losses of the first and of the last 4 steps. */
async function lossEndsOfTenEpochs(
  model: BertHeadModel,
  data: IndexedDataset<BertInputs>,
): Promise<{ first: number; last: number }> {
  const p = quiet();
  await new Trainer(bertTrainerModel(model), batches(data), { ...base, epochs: 10, progress: p }).train();
  return lossEnds(p, 4);
}

test('sequence classification: loss goes down, accuracy rises, dropout on in training', async () => {
  const model = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts);
  const train = seqExamples(96, 1);
  const dev = seqExamples(48, 2);
  const devData = encodedDataset(dev, 'sequence', 0);
  const before = evaluateSequenceClassification(
    model,
    devData,
    dev.map((e) => e.label!),
    3,
    'single_label_classification',
  ).metrics;
  const p = quiet();
  const r = await new Trainer(bertTrainerModel(model), batches(encodedDataset(train, 'sequence', 0)), {
    ...base,
    epochs: 8,
    progress: p,
    evalSteps: 24,
    evaluate: () =>
      evaluateSequenceClassification(
        model,
        devData,
        dev.map((e) => e.label!),
        3,
        'single_label_classification',
      ).metrics,
  }).train();
  const { first, last } = lossEnds(p, 6);
  assert.ok(last < 0.5 * first, `training loss ${first} -> ${last}`);
  assert.ok(r.bestMetric! > before['accuracy']! + 0.3, `accuracy ${before['accuracy']} -> ${r.bestMetric}`);
  // Dropout on in training: the same batch gives different losses under different step seeds; eval is deterministic.
  const tm = bertTrainerModel(model);
  const b = encodedDataset(train, 'sequence', 0).collate([0, 1, 2, 3]);
  assert.notEqual(tm.forwardLoss(b, true, 1, 0), tm.forwardLoss(b, true, 2, 0));
  assert.equal(tm.forwardLoss(b, true, 5, 0), tm.forwardLoss(b, true, 5, 0));
  assert.equal(tm.forwardLoss(b, false, 1, 0), tm.forwardLoss(b, false, 2, 0));
});

test('question answering trains on synthetic spans (answer = the span between markers)', async () => {
  const model = await BertForQuestionAnswering.fromPretrained(join(FIX, 'qa'), opts);
  const r = new Rng(5);
  const ex: EncodedExample[] = Array.from({ length: 64 }, () => {
    const len = 8 + r.int(8);
    const body = Array.from({ length: len }, () => WORDS[r.int(WORDS.length)]!);
    const s = 1 + r.int(len - 3);
    body[s - 1] = 1600; // marker before the answer
    body[s + 1] = 1601; // marker after a one-token answer
    return {
      inputIds: [CLS, 1700, SEP, ...body, SEP],
      tokenTypeIds: [0, 0, 0, ...body.map(() => 1), 1],
      startPosition: 3 + s,
      endPosition: 3 + s,
    };
  });
  const { first, last } = await lossEndsOfTenEpochs(model, encodedDataset(ex, 'qa', 0));
  assert.ok(last < 0.6 * first, `QA loss ${first} -> ${last}`);
});

test('multiple choice trains on synthetic data (right choice carries the marker)', async () => {
  const model = await BertForMultipleChoice.fromPretrained(join(FIX, 'multiple_choice'), opts);
  const r = new Rng(6);
  const ex: EncodedChoices[] = Array.from({ length: 64 }, () => {
    const label = r.int(2);
    const choices = [0, 1].map((k) => {
      const body = Array.from({ length: 5 + r.int(5) }, () => WORDS[r.int(WORDS.length)]!);
      if (k === label) body[r.int(body.length)] = 1800;
      return { inputIds: [CLS, ...body, SEP] };
    });
    return { choices, label };
  });
  const { first, last } = await lossEndsOfTenEpochs(model, choicesDataset(ex, 0));
  assert.ok(last < 0.6 * first, `MC loss ${first} -> ${last}`);
});

test('token classification trains and scores entities', async () => {
  const model = await BertForTokenClassification.fromPretrained(join(FIX, 'token_cls5'), opts);
  const id2label: Record<number, string> = { 0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-LOC', 4: 'I-LOC' };
  const r = new Rng(8);
  // ids 1200..1209 start a person (B-PER), 1210..1219 continue it (I-PER), 1300..1309 are one-word places (B-LOC).
  const make = (n: number): EncodedExample[] =>
    Array.from({ length: n }, () => {
      const ids: number[] = [CLS];
      const labels: number[] = [-100];
      for (let w = 0; w < 8; w++) {
        const k = r.int(4);
        if (k === 0) {
          ids.push(1200 + r.int(10), 1210 + r.int(10));
          labels.push(1, 2);
        } else if (k === 1) {
          ids.push(1300 + r.int(10));
          labels.push(3);
        } else {
          ids.push(WORDS[r.int(WORDS.length)]!);
          labels.push(0);
        }
      }
      ids.push(SEP);
      labels.push(-100);
      return { inputIds: ids, tokenLabels: labels };
    });
  const train = make(80);
  const dev = make(30);
  const devData = encodedDataset(dev, 'token', 0);
  await new Trainer(bertTrainerModel(model), batches(encodedDataset(train, 'token', 0)), {
    ...base,
    epochs: 8,
    progress: quiet(),
  }).train();
  const ev = evaluateTokenClassification(
    model,
    devData,
    dev.map((e) => e.tokenLabels!),
    id2label,
  );
  assert.ok(ev.report.trueEntities > 30);
  assert.ok(ev.metrics['f1']! > 0.8, `entity F1 ${ev.metrics['f1']}`);
});

test('resume with a real BERT: stopped mid-epoch + resumed = uninterrupted (same weights)', async () => {
  const train = seqExamples(40, 11);
  const o = { ...base, epochs: 2 };
  const data = encodedDataset(train, 'sequence', 0);
  const six = () => batches(data, 6); // 7 steps per epoch
  const full = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts);
  await new Trainer(bertTrainerModel(full), six(), { ...o, progress: quiet() }).train();
  const out = tempDir('resume-bert');
  const a = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts);
  await new Trainer(bertTrainerModel(a), six(), {
    ...o,
    output: out,
    shouldStop: (step) => step >= 10,
    progress: quiet(),
  }).train();
  const b = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts); // fresh process-like start
  await new Trainer(bertTrainerModel(b), six(), {
    ...o,
    output: out,
    resume: true,
    progress: quiet(),
  }).train();
  const fp = full.parameters();
  b.parameters().forEach((p, i) => assert.deepEqual(Array.from(p.data), Array.from(fp[i]!.data), p.name));
});

test('evaluation in length order puts predictions back at their examples', async () => {
  const model = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), opts);
  const ex = seqExamples(37, 12);
  const withLengths = encodedDataset(ex, 'sequence', 0);
  const { lengthOf: _dropped, ...inOrder } = withLengths;
  const a = evaluateSequenceClassification(
    model,
    withLengths,
    ex.map((e) => e.label!),
    3,
    'single_label_classification',
    8,
  );
  const b = evaluateSequenceClassification(
    model,
    inOrder,
    ex.map((e) => e.label!),
    3,
    'single_label_classification',
    8,
  );
  assert.deepEqual(a.predictions, b.predictions);
  // And the prediction of one example alone is the same as inside a padded batch.
  const single = model.forward(withLengths.collate([5]), { train: false }).logits!.data;
  const best = single.indexOf(Math.max(...single));
  assert.equal((a.predictions as number[])[5], best);
});
