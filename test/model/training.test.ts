// Training-mode behaviour: seeded dropout, backward consistent with the loss under dropout (directional finite
// differences for every head), HF initialisation, problem_type inference, optimizer pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as bert from '../../src/model/bert.js';
import type { BertPreTrainedModel, ModelOptions } from '../../src/model/bert.js';
import { BertConfig } from '../../src/model/config.js';
import type { BertInputs } from '../../src/model/inputs.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { AdamW } from '../../src/train/optim.js';
import { learningRateAt } from '../../src/train/schedule.js';

const tinyJson = {
  vocab_size: 40,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 12,
  max_position_embeddings: 16,
  type_vocab_size: 2,
  hidden_act: 'gelu_new',
  hidden_dropout_prob: 0.2,
  attention_probs_dropout_prob: 0.25,
  classifier_dropout: 0.3,
  layer_norm_eps: 1e-6,
  initializer_range: 0.3,
  pad_token_id: 0,
};

type Trainable = BertPreTrainedModel & { forward(i: BertInputs, o?: { train?: boolean }): { loss?: number } };
type Ctor = new (c: BertConfig, o?: ModelOptions) => Trainable;

const ids = [
  [2, 7, 9, 11, 3, 5, 0, 0],
  [2, 13, 4, 4, 30, 3, 21, 3],
];
const mask = [
  [1, 1, 1, 1, 1, 1, 0, 0],
  [1, 1, 1, 1, 1, 1, 1, 1],
];
const types = [
  [0, 0, 0, 0, 1, 1, 0, 0],
  [0, 0, 0, 1, 1, 1, 1, 1],
];
const base = { inputIds: ids, attentionMask: mask, tokenTypeIds: types };

const cases: [string, Ctor, Record<string, unknown>, BertInputs][] = [
  [
    'BertForPreTraining',
    bert.BertForPreTraining,
    {},
    {
      ...base,
      labels: [
        [-100, 7, -100, 11, -100, -100, -100, -100],
        [-100, -100, 4, -100, -100, -100, 21, -100],
      ],
      nextSentenceLabel: [0, 1],
    },
  ],
  [
    'BertForMaskedLM',
    bert.BertForMaskedLM,
    {},
    {
      ...base,
      labels: [
        [-100, 7, -100, 11, -100, -100, -100, -100],
        [-100, -100, 4, -100, -100, -100, 21, -100],
      ],
    },
  ],
  ['BertForNextSentencePrediction', bert.BertForNextSentencePrediction, {}, { ...base, labels: [1, 0] }],
  [
    'BertForSequenceClassification (single label)',
    bert.BertForSequenceClassification,
    { num_labels: 3 },
    { ...base, labels: [2, 0] },
  ],
  [
    'BertForSequenceClassification (regression)',
    bert.BertForSequenceClassification,
    { num_labels: 1 },
    { ...base, labels: [0.5, -1.5] },
  ],
  [
    'BertForSequenceClassification (multi label)',
    bert.BertForSequenceClassification,
    { num_labels: 3 },
    {
      ...base,
      labels: [
        [1, 0, 1],
        [0, 0, 1],
      ],
    },
  ],
  [
    'BertForTokenClassification',
    bert.BertForTokenClassification,
    { num_labels: 4 },
    {
      ...base,
      labels: [
        [-100, 1, 2, 3, 0, 1, -100, -100],
        [-100, 3, 3, 2, 1, 0, 1, -100],
      ],
    },
  ],
  [
    'BertForQuestionAnswering',
    bert.BertForQuestionAnswering,
    {},
    { ...base, startPositions: [1, 3], endPositions: [2, 6] },
  ],
  [
    'BertForMultipleChoice',
    bert.BertForMultipleChoice,
    {},
    {
      inputIds: [ids, [ids[1]!, ids[0]!]],
      attentionMask: [mask, [mask[1]!, mask[0]!]],
      tokenTypeIds: [types, [types[1]!, types[0]!]],
      labels: [1, 0],
    },
  ],
];

function make(C: Ctor, extra: Record<string, unknown>, seed: number): Trainable {
  return new C(BertConfig.fromJson({ ...tinyJson, ...extra }), { seed, kernels: jsKernels });
}

describe('train mode: seeded dropout and a backward consistent with it', () => {
  for (const [name, C, extra, inputs] of cases) {
    it(`${name}: directional finite difference of the dropout loss equals gradient . direction`, () => {
      const m = make(C, extra, 7);
      const theta = m.store.data.slice();
      const lossAt = (delta: Float32Array | null, h: number): number => {
        // A fresh model with the same seed replays the same first-forward dropout masks.
        const fresh = make(C, extra, 7);
        for (let i = 0; i < theta.length; i++) fresh.store.data[i] = theta[i]! + (delta ? h * delta[i]! : 0);
        return fresh.forward(inputs, { train: true }).loss!;
      };
      const l0 = m.forward(inputs, { train: true }).loss!;
      assert.ok(Number.isFinite(l0));
      const evalLoss = make(C, extra, 7).forward(inputs, { train: false }).loss!;
      assert.notEqual(l0, evalLoss, 'dropout changes the training loss');
      m.zeroGrad();
      m.backward();
      let r = 12345;
      const u = new Float32Array(theta.length).map(() => {
        r = (Math.imul(r, 1103515245) + 12345) >>> 0;
        return r / 2 ** 32 - 0.5;
      });
      let gu = 0;
      for (let i = 0; i < u.length; i++) gu += m.store.grad[i]! * u[i]!;
      const h = 1e-3;
      const fd = (lossAt(u, h) - lossAt(u, -h)) / (2 * h);
      assert.ok(Math.abs(fd - gu) <= 2e-2 * Math.max(Math.abs(gu), 1e-2), `finite difference ${fd} vs analytic ${gu}`);
    });
  }

  for (const [name, C, extra, inputs] of cases.slice(0, 2)) {
    it(`${name}: mlmLabeledOnly gives the same loss and gradients with logits for the labelled rows only`, () => {
      const full = make(C, extra, 11),
        part = make(C, extra, 11);
      const a = full.forward(inputs, { train: true }) as { loss?: number };
      const b = part.forward(inputs, { train: true, mlmLabeledOnly: true } as object) as { loss?: number } & Record<
        string,
        { shape: number[] }
      >;
      const logits = b.predictionLogits ?? b.logits!;
      assert.deepEqual(logits.shape, [4, 40], 'four labelled positions');
      assert.ok(Math.abs(a.loss! - b.loss!) < 1e-6 * Math.abs(a.loss!), `${a.loss} vs ${b.loss}`);
      full.backward();
      part.backward();
      let err = 0,
        scale = 0;
      for (let i = 0; i < full.store.grad.length; i++) {
        err = Math.max(err, Math.abs(full.store.grad[i]! - part.store.grad[i]!));
        scale = Math.max(scale, Math.abs(full.store.grad[i]!));
      }
      assert.ok(err <= 1e-5 * scale, `gradient difference ${err} (scale ${scale})`);
    });
  }

  it('same seed → same losses over several steps; another seed → other dropout masks', () => {
    const [, C, extra, inputs] = cases[3]!;
    const run = (seed: number): number[] => {
      const m = make(C, extra, seed);
      return [1, 2, 3].map(() => m.forward(inputs, { train: true }).loss!);
    };
    const a = run(1),
      b = run(1),
      c = run(2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notEqual(a[0], a[1], 'each training forward draws new masks');
    const m = make(C, extra, 1);
    assert.equal(m.forward(inputs).loss, m.forward(inputs).loss, 'eval mode is deterministic');
    // an explicit forward seed k replays the k-th counted forward's masks (for resumed runs)
    assert.equal((m.forward(inputs, { train: true, seed: 2 } as object) as { loss?: number }).loss, a[1]);
    assert.equal((m.forward(inputs, { train: true, seed: 3 } as object) as { loss?: number }).loss, a[2]);
  });
});

describe('model construction and API', () => {
  it('a model from a config is initialised as HF _init_weights (normal std initializer_range, LayerNorm 1/0, biases 0, pad row 0)', () => {
    const m = new bert.BertForPreTraining(
      { ...tinyJson, vocab_size: 500, hidden_size: 64, num_attention_heads: 4, initializer_range: 0.02 },
      { seed: 3 },
    );
    const w = m.param('bert.embeddings.word_embeddings.weight');
    let s = 0,
      s2 = 0;
    for (const v of w) {
      s += v;
      s2 += v * v;
    }
    const std = Math.sqrt(s2 / w.length - (s / w.length) ** 2);
    assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
    assert.ok(
      w.subarray(0, 64).every((v) => v === 0),
      'padding row is zero',
    );
    assert.ok(m.param('bert.encoder.layer.1.output.LayerNorm.weight').every((v) => v === 1));
    assert.ok(m.param('bert.encoder.layer.1.output.LayerNorm.bias').every((v) => v === 0));
    assert.ok(m.param('bert.encoder.layer.0.attention.self.query.bias').every((v) => v === 0));
    assert.ok(m.param('cls.predictions.bias').every((v) => v === 0));
    const again = new bert.BertForPreTraining(
      { ...tinyJson, vocab_size: 500, hidden_size: 64, num_attention_heads: 4, initializer_range: 0.02 },
      { seed: 3 },
    );
    assert.deepEqual(again.param('bert.pooler.dense.weight'), m.param('bert.pooler.dense.weight'));
  });

  it('parameters(), gradients and the flat buffers share memory; zeroGrad clears them', () => {
    const m = make(bert.BertForSequenceClassification, { num_labels: 2 }, 1);
    const params = m.parameters();
    const total = params.reduce((n, p) => n + p.data.length, 0);
    assert.equal(total, m.store.data.length);
    assert.equal(new Set(params.map((p) => p.name)).size, params.length);
    m.forward({ inputIds: ids, labels: [0, 1] });
    m.backward();
    const g = m.gradients.get('classifier.weight')!;
    assert.ok(g.some((v) => v !== 0));
    assert.equal(g.buffer, m.store.grad.buffer);
    assert.throws(() => m.backward(), /backward already ran/);
    m.zeroGrad();
    assert.ok(m.store.grad.every((v) => v === 0));
  });

  it('problem_type is inferred as HF (1 label → regression, [B, L] floats → multi-label, ids → single-label) and recorded', () => {
    const a = make(bert.BertForSequenceClassification, { num_labels: 1 }, 1);
    a.forward({ inputIds: ids, labels: [0.5, 1] });
    assert.equal(a.config.problemType, 'regression');
    const b = make(bert.BertForSequenceClassification, { num_labels: 3 }, 1);
    b.forward({
      inputIds: ids,
      labels: [
        [1, 0, 1],
        [0, 1, 0],
      ],
    });
    assert.equal(b.config.problemType, 'multi_label_classification');
    const c = make(bert.BertForSequenceClassification, { num_labels: 3 }, 1);
    c.forward({ inputIds: ids, labels: { data: Int32Array.from([2, 1]), shape: [2] } });
    assert.equal(c.config.problemType, 'single_label_classification');
  });

  it('QA clamps positions to [0, seq] and ignores those equal to seq (loss from the valid example only)', () => {
    const m = new bert.BertForQuestionAnswering(BertConfig.fromJson(tinyJson), { seed: 1, kernels: jsKernels });
    const both = m.forward({ ...base, startPositions: [1, 50], endPositions: [2, 60] });
    const first = m.forward({
      inputIds: [ids[0]!],
      attentionMask: [mask[0]!],
      tokenTypeIds: [types[0]!],
      startPositions: [1],
      endPositions: [2],
    });
    assert.ok(Math.abs(both.loss! - first.loss!) < 1e-6, `${both.loss} vs ${first.loss}`);
    assert.deepEqual(both.startLogits.shape, [2, 8]);
  });

  it('BertModel returns hidden states and attentions with HF shapes and back-propagates given output gradients', () => {
    const m = new bert.BertModel(tinyJson, { kernels: jsKernels });
    const out = m.forward(base, { outputHiddenStates: true, outputAttentions: true });
    assert.deepEqual(out.lastHiddenState.shape, [2, 8, 8]);
    assert.deepEqual(out.poolerOutput!.shape, [2, 8]);
    assert.equal(out.hiddenStates!.length, 3);
    assert.deepEqual(out.attentions![1]!.shape, [2, 2, 8, 8]);
    assert.deepEqual(out.hiddenStates![2]!.data, out.lastHiddenState.data);
    // attention rows sum to 1 and padding keys get 0
    const a = out.attentions![0]!.data;
    for (let row = 0; row < a.length / 8; row++) {
      let s = 0;
      for (let j = 0; j < 8; j++) s += a[row * 8 + j]!;
      assert.ok(Math.abs(s - 1) < 1e-5);
    }
    assert.equal(a[6], 0);
    m.backward(
      Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => Math.sin(i)),
      new Float32Array(16).fill(1),
    );
    assert.ok(m.gradients.get('pooler.dense.weight')!.some((v) => v !== 0));
    assert.ok(
      m.gradients
        .get('embeddings.word_embeddings.weight')!
        .subarray(0, 8)
        .every((v) => v === 0),
      'padding_idx row gets no gradient',
    );
    // pad_token_id null (HF None): no padding row, id 0 is an ordinary token
    const n = new bert.BertModel({ ...tinyJson, pad_token_id: null }, { kernels: jsKernels });
    assert.equal(n.config.padTokenId, null);
    assert.ok(
      n
        .param('embeddings.word_embeddings.weight')
        .subarray(0, 8)
        .some((v) => v !== 0),
    );
    n.forward(base);
    // through the last hidden state (padded positions have outputs of their own; the pooler never sees them)
    n.backward(
      Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => Math.sin(i)),
      null,
    );
    assert.ok(
      n.gradients
        .get('embeddings.word_embeddings.weight')!
        .subarray(0, 8)
        .some((v) => v !== 0),
    );
  });
});

describe('AdamW, clipping, schedule', () => {
  it('the schedule is transformers get_linear_schedule_with_warmup', () => {
    const s = { warmupSteps: 2, totalSteps: 10 };
    assert.deepEqual(
      [0, 1, 2, 3, 9, 10, 11].map((t) => learningRateAt({ name: 'linear', lr: 1, ...s }, t)),
      [0, 0.5, 1, 7 / 8, 1 / 8, 0, 0],
    );
    assert.equal(learningRateAt({ name: 'linear', lr: 1e-3, ...s }, 1), 5e-4);
  });
  it('clipping scales by max / (norm + 1e-6) only above the max and returns the norm before clipping', () => {
    const p = [{ grad: Float32Array.from([3, 0]) }, { grad: Float32Array.from([4]) }];
    assert.equal(clipGradNorm(p, 10, jsKernels), 5);
    assert.deepEqual(Array.from(p[0]!.grad), [3, 0]);
    assert.equal(clipGradNorm(p, 1, jsKernels), 5);
    assert.ok(Math.abs(p[1]!.grad[0]! - 4 / (5 + 1e-6)) < 1e-7);
  });
  it('AdamW skips decay on biases and LayerNorm by default, and a training loop lowers the loss', () => {
    const m = make(
      bert.BertForSequenceClassification,
      { num_labels: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 },
      5,
    );
    const opt = new AdamW(m.parameters(), { name: 'adamw', weightDecay: 0.5 }, jsKernels);
    const before = m.param('bert.encoder.layer.0.output.LayerNorm.weight').slice();
    const wBefore = m.param('bert.encoder.layer.0.output.dense.weight').slice();
    m.zeroGrad();
    opt.step(0.1); // zero gradients: only decay acts
    assert.deepEqual(m.param('bert.encoder.layer.0.output.LayerNorm.weight'), before);
    assert.ok(Math.abs(m.param('bert.encoder.layer.0.output.dense.weight')[0]! - wBefore[0]! * 0.95) < 1e-6);
    const opt2 = new AdamW(m.parameters(), { name: 'adamw', weightDecay: 0 }, jsKernels);
    const inputs = { ...base, labels: [1, 0] };
    const first = m.forward(inputs).loss!;
    let last = first;
    for (let i = 0; i < 20; i++) {
      m.zeroGrad();
      last = m.forward(inputs, { train: true }).loss!;
      m.backward();
      clipGradNorm(m.parameters(), 1, jsKernels);
      opt2.step(1e-2);
    }
    assert.ok(m.forward(inputs).loss! < first / 4, `loss ${first} → ${m.forward(inputs).loss}`);
    assert.ok(Number.isFinite(last));
  });
});
