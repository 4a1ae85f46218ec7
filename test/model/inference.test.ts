// Inference forwards (grad: false) share activation buffers between layers: same outputs, backward refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AutoModelForMultipleChoice,
  AutoModelForNextSentencePrediction,
  AutoModelForSequenceClassification,
} from '../../src/model/auto.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../../src/model/bert.js';
import { tryNativeKernels, tryWasmKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { attentionMask, inputIds } from './batch.js';

// Three layers, so that the two alternating activation sets wrap around at least once.
const config = {
  vocab_size: 120,
  hidden_size: 16,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  intermediate_size: 24,
  max_position_embeddings: 32,
  type_vocab_size: 2,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  num_labels: 3,
};

// Inference fuses work (the activation into the GEMM's bias pass, attention probabilities in scratch): js and wasm
// give the bits of their own full forward (token classification: a head that reads every token). Native's first
// inference forward runs on weights packed for oneDNN's matmul primitive, whose sums round differently from the
// sgemm's in the last bit: there, within 1e-6.
const backends = [jsKernels, tryNativeKernels(), tryWasmKernels()].filter((k) => k !== null);

function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, what: string): void {
  if (tolerance === 0) return assert.deepEqual(Array.from(actual), Array.from(expected), `${what} differ`);
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++)
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `${what}: value ${i} ${actual[i]} vs ${expected[i]}`);
}

for (const kernels of backends) {
  test(`grad: false gives the logits and hidden states of a full forward (${kernels.name})`, () => {
    const tolerance = kernels.name.startsWith('native') ? 1e-6 : 0;
    const model = new BertForTokenClassification(config, { kernels, seed: 3 });
    const full = model.forward({ inputIds, attentionMask });
    const lean = model.forward({ inputIds, attentionMask }, { grad: false });
    assertClose(lean.logits.data, full.logits.data, 0, 'logits');
    // A fresh model whose first forward is an inference one (two shared sets) agrees too.
    const fresh = new BertForTokenClassification(config, { kernels, seed: 3 });
    const first = fresh.forward({ inputIds, attentionMask }, { grad: false });
    assertClose(first.logits.data, full.logits.data, tolerance, 'logits of a first inference forward');
    const states = fresh.forward({ inputIds, attentionMask }, { grad: false, outputHiddenStates: true });
    const ref = model.forward({ inputIds, attentionMask }, { outputHiddenStates: true });
    assert.equal(states.hiddenStates?.length, 4, 'hidden_states 0..3');
    for (let i = 0; i < 4; i++)
      assertClose(states.hiddenStates![i]!.data, ref.hiddenStates![i]!.data, 0, `hidden state ${i}`);
  });
}

test('backward after an inference forward is refused with a clear error; a full forward allows it again', () => {
  const model = new BertForSequenceClassification(config, { kernels: jsKernels, seed: 3 });
  model.forward({ inputIds, attentionMask, labels: [0, 2] }, { grad: false });
  assert.throws(() => model.backward(), /grad: false/);
  model.forward({ inputIds, attentionMask, labels: [0, 2] });
  model.backward();
});

// A sentence-level head's inference forward computes the last layer for the first token of each sequence only
// (Backbone.forward's firstTokenOnly): the same logits as the full forward up to float32 rounding, for every post-LN
// family and head that reads the first token or the pooler, on every backend; padding in the batch.
const F = 'test/model/fixtures/family',
  HF = '../shared/fixtures/hf-tiny';
const FIRST_TOKEN_HEADS: Array<
  [string, { fromPretrained: typeof AutoModelForSequenceClassification.fromPretrained }, 2 | 3]
> = [
  [`${HF}/seq_cls3`, AutoModelForSequenceClassification, 2],
  [`${HF}/seq_regression`, AutoModelForSequenceClassification, 2],
  [`${HF}/next_sentence`, AutoModelForNextSentencePrediction, 2],
  [`${HF}/multiple_choice`, AutoModelForMultipleChoice, 3],
  [`${F}/distilbert/seq_cls3`, AutoModelForSequenceClassification, 2],
  [`${F}/roberta/seq_cls3`, AutoModelForSequenceClassification, 2],
  [`${F}/xlm-roberta/seq_cls3`, AutoModelForSequenceClassification, 2],
  [`${F}/electra/seq_cls3`, AutoModelForSequenceClassification, 2],
  [`${F}/electra/multiple_choice`, AutoModelForMultipleChoice, 3],
];

for (const kernels of backends) {
  test(`first-token heads: grad: false computes the last layer for the first tokens only, same logits (${kernels.name})`, async () => {
    for (const [dir, Auto, rank] of FIRST_TOKEN_HEADS) {
      const model = await Auto.fromPretrained(dir, { kernels, warn: () => {} });
      const V = model.config.vocabSize,
        T = Math.min(9, model.config.maxSequenceLength);
      // Three sequences (two choices each for multiple choice): one padded after 4 tokens, one fully attended.
      const rows = rank === 3 ? 6 : 3;
      const ids = Array.from({ length: rows }, (_, r) => Array.from({ length: T }, (_, t) => (r * 31 + t * 7 + 3) % V));
      const mask = ids.map((row, r) => row.map((_, t) => (r % 3 === 0 && t >= 4 ? 0 : 1)));
      const shape = rank === 3 ? [rows / 2, 2, T] : [rows, T];
      const inputs = {
        inputIds: { data: Int32Array.from(ids.flat()), shape },
        attentionMask: { data: Int32Array.from(mask.flat()), shape },
      };
      const full = model.forward(inputs);
      const lean = model.forward(inputs, { grad: false });
      const backbone = (model as unknown as { backbone: { sequenceOutput: unknown } }).backbone;
      assert.throws(
        () => backbone.sequenceOutput,
        /first token of each sequence only/,
        `${dir}: a full last layer ran`,
      );
      assert.deepEqual(lean.logits.shape, full.logits.shape, dir);
      const scale = Math.max(...Array.from(full.logits.data, Math.abs), 1);
      for (let i = 0; i < full.logits.data.length; i++) {
        const d = Math.abs(lean.logits.data[i]! - full.logits.data[i]!);
        assert.ok(
          d <= 2e-6 * scale,
          `${dir}: logit ${i} differs by ${d} (${lean.logits.data[i]} vs ${full.logits.data[i]})`,
        );
      }
    }
  });
}

// Inference forwards of a new shape reuse the last shape's buffers (ActivationPool): stale values must never leak.
for (const kernels of backends) {
  test(`inference forwards of changing shapes equal a fresh model's (reused activation buffers) (${kernels.name})`, () => {
    const shapes: Array<[number, number]> = [
      [2, 6],
      [1, 4],
      [3, 7],
      [1, 9],
      [2, 6],
    ];
    const batch = ([B, T]: [number, number]) => {
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % 120);
      const mask = Int32Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T >= 1 ? 2 : 0) ? 1 : 0));
      return { inputIds: { data: ids, shape: [B, T] }, attentionMask: { data: mask, shape: [B, T] } };
    };
    for (const Model of [BertForTokenClassification, BertForSequenceClassification]) {
      const reused = new Model(config, { kernels, seed: 5 });
      for (const shape of shapes) {
        const got = reused.forward(batch(shape), { grad: false }).logits.data;
        const want = new Model(config, { kernels, seed: 5 }).forward(batch(shape), { grad: false }).logits.data;
        assert.deepEqual(Array.from(got), Array.from(want), `${Model.name} [${shape}]`);
      }
    }
  });
}
