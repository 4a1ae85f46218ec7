// The parity harness on a fixture folder of another shape (sizes, activation, eps, type vocab, pad id): it must read
// everything from the folder, and it must catch a wrong number. The folder's "reference" values are produced here by
// bert-ts itself, so this tests the harness's plumbing and its failure detection, not the model (parity.test.ts does).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runParity } from '../../scripts/parity.js';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import type { WritableTensor } from '../../src/io/index.js';
import * as bert from '../../src/model/bert.js';
import type { BertPreTrainedModel, ModelOptions } from '../../src/model/bert.js';
import { BertConfig } from '../../src/model/config.js';
import type { BertInputs } from '../../src/model/inputs.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { AdamW } from '../../src/train/optim.js';
import { learningRateAt } from '../../src/train/schedule.js';
import { tempDir } from '../helpers/temp.js';

const tmp = tempDir('harness');

const config = {
  vocab_size: 70,
  hidden_size: 12,
  num_hidden_layers: 3,
  num_attention_heads: 3,
  intermediate_size: 19,
  max_position_embeddings: 20,
  type_vocab_size: 3,
  hidden_act: 'gelu_new',
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.2,
};
const B = 2,
  T = 11,
  PAD = 1;

type AnyModel = BertPreTrainedModel & { forward(i: BertInputs, o?: object): Record<string, unknown> };
type Ctor = new (c: BertConfig, o?: ModelOptions) => AnyModel;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

async function buildFixture(dir: string): Promise<void> {
  const r = lcg(99);
  const ids = new BigInt64Array(B * T),
    types = new BigInt64Array(B * T),
    mask = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : 7;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      ids[i] = BigInt(t < len ? 2 + Math.floor(r() * 68) : PAD);
      types[i] = BigInt(t < len ? Math.floor(r() * 3) : 0);
      mask[i] = t < len ? 1n : 0n;
    }
  }
  const mlm = ids.map((v, i) => (i % 4 === 1 && mask[i] === 1n ? v : -100n));
  const tok5 = ids.map((_, i) => (mask[i] === 1n ? BigInt(i % 5) : -100n));
  const tensors = new Map<string, WritableTensor>();
  const i64 = (k: string, data: BigInt64Array, shape: number[]) => tensors.set(k, { dtype: 'I64', shape, data });
  const f32 = (k: string, data: Float32Array, shape: number[]) => tensors.set(k, { dtype: 'F32', shape, data });
  i64('input.input_ids', ids, [B, T]);
  i64('input.token_type_ids', types, [B, T]);
  i64('input.attention_mask', mask, [B, T]);
  const rep = (x: BigInt64Array) => {
    const o = new BigInt64Array(B * 2 * T);
    for (let b = 0; b < B; b++) for (let c = 0; c < 2; c++) o.set(x.subarray(b * T, (b + 1) * T), (b * 2 + c) * T);
    return o;
  };
  const mcIds = rep(ids);
  mcIds[T + 1] = 5n;
  i64('input.mc.input_ids', mcIds, [B, 2, T]);
  i64('input.mc.token_type_ids', rep(types), [B, 2, T]);
  i64('input.mc.attention_mask', rep(mask), [B, 2, T]);
  i64('labels.mlm', mlm, [B, T]);
  i64('labels.nsp', BigInt64Array.from([1n, 0n]), [B]);
  i64('labels.cls3', BigInt64Array.from([2n, 0n]), [B]);
  f32('labels.regression', Float32Array.from([0.3, -2]), [B, 1]);
  i64('labels.token5', tok5, [B, T]);
  i64('labels.start_positions', BigInt64Array.from([2n, 40n]), [B]);
  i64('labels.end_positions', BigInt64Array.from([4n, 41n]), [B]);
  i64('labels.mc', BigInt64Array.from([1n, 0n]), [B]);
  const shaped = (k: string) => ({ data: tensors.get(k)!.data as BigInt64Array, shape: [...tensors.get(k)!.shape] });
  const base = {
    inputIds: shaped('input.input_ids'),
    tokenTypeIds: shaped('input.token_type_ids'),
    attentionMask: shaped('input.attention_mask'),
  };
  const mc = {
    inputIds: shaped('input.mc.input_ids'),
    tokenTypeIds: shaped('input.mc.token_type_ids'),
    attentionMask: shaped('input.mc.attention_mask'),
  };
  const heads: [string, Ctor, Record<string, unknown>, BertInputs, Record<string, string>][] = [
    [
      'pretraining',
      bert.BertForPreTraining as unknown as Ctor,
      {},
      { ...base, labels: shaped('labels.mlm'), nextSentenceLabel: shaped('labels.nsp') },
      { prediction_logits: 'predictionLogits', seq_relationship_logits: 'seqRelationshipLogits' },
    ],
    [
      'bert_model',
      bert.BertModel as unknown as Ctor,
      {},
      base,
      { last_hidden_state: 'lastHiddenState', pooler_output: 'poolerOutput' },
    ],
    [
      'seq_cls3',
      bert.BertForSequenceClassification as unknown as Ctor,
      { id2label: { 0: 'a', 1: 'b', 2: 'c' } },
      { ...base, labels: shaped('labels.cls3') },
      { logits: 'logits' },
    ],
    [
      'seq_regression',
      bert.BertForSequenceClassification as unknown as Ctor,
      { num_labels: 1, problem_type: 'regression' },
      { ...base, labels: { data: tensors.get('labels.regression')!.data as Float32Array, shape: [B, 1] } },
      { logits: 'logits' },
    ],
    [
      'token_cls5',
      bert.BertForTokenClassification as unknown as Ctor,
      { num_labels: 5 },
      { ...base, labels: shaped('labels.token5') },
      { logits: 'logits' },
    ],
    [
      'qa',
      bert.BertForQuestionAnswering as unknown as Ctor,
      {},
      { ...base, startPositions: shaped('labels.start_positions'), endPositions: shaped('labels.end_positions') },
      { start_logits: 'startLogits', end_logits: 'endLogits' },
    ],
    [
      'multiple_choice',
      bert.BertForMultipleChoice as unknown as Ctor,
      {},
      { ...mc, labels: shaped('labels.mc') },
      { logits: 'logits' },
    ],
  ];
  const manifest: { heads: Record<string, unknown>; variants: Record<string, string> } = { heads: {}, variants: {} };
  for (const [head, C, extra, inputs, outMap] of heads) {
    const m = new C(BertConfig.fromJson({ ...config, ...extra }), { seed: head.length, kernels: jsKernels });
    // Every parameter random, LayerNorms and biases included, as gen_fixtures.py does.
    const rr = lcg(head.length * 7);
    for (const p of m.parameters()) {
      for (let i = 0; i < p.data.length; i++)
        p.data[i] = p.name.includes('LayerNorm.weight') ? 1 + 0.2 * (rr() - 0.5) : 0.3 * (rr() - 0.5);
    }
    await m.save(join(dir, head));
    const out = m.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
    const outputs: string[] = [];
    for (const [hf, ours] of Object.entries(outMap)) {
      const t = out[ours] as Tensor;
      f32(`${head}.out.${hf}`, t.data, t.shape);
    }
    (out.hiddenStates as Tensor[]).forEach((h, i) => f32(`${head}.out.hidden_states.${i}`, h.data, h.shape));
    (out.attentions as Tensor[]).forEach((a, i) => f32(`${head}.out.attentions.${i}`, a.data, a.shape));
    const info: Record<string, unknown> = { dir: head, class: m.architecture };
    if (typeof out.loss === 'number') {
      f32(`${head}.out.loss`, Float32Array.of(out.loss), []);
      m.backward();
      for (const p of m.parameters()) f32(`${head}.grad.${p.name}`, p.grad.slice(), p.shape);
      const params = m.parameters();
      const opt = new AdamW(params, { name: 'adamw', betas: [0.9, 0.99], eps: 1e-7, weightDecay: 0.05 }, jsKernels);
      const losses: number[] = [],
        norms: number[] = [],
        lrs: number[] = [];
      for (let step = 0; step < 3; step++) {
        m.zeroGrad();
        losses.push(m.forward(inputs).loss as number);
        m.backward();
        norms.push(clipGradNorm(params, 0.5, jsKernels));
        const lr = learningRateAt({ name: 'linear', lr: 2e-3, warmupSteps: 1, totalSteps: 5 }, step);
        lrs.push(lr);
        opt.step(lr);
      }
      for (const p of params) f32(`${head}.after3.${p.name}`, p.data.slice(), p.shape);
      info.loss = losses[0];
      info.adamw = {
        lr: 2e-3,
        betas: [0.9, 0.99],
        eps: 1e-7,
        weight_decay: 0.05,
        warmup_steps: 1,
        total_steps: 5,
        clip_norm: 0.5,
        losses,
        grad_norms_before_clip: norms,
        lr_used: lrs,
      };
    }
    info.outputs = [...tensors.keys()].filter((k) => k.startsWith(`${head}.out.`)).sort();
    manifest.heads[head] = info;
  }
  // An F16 copy of the pre-training weights, with both MLM bias names, as the fp16 fixture stores them.
  const pt = readSafetensors(join(dir, 'pretraining', 'model.safetensors')).tensors;
  const half = new Map<string, WritableTensor>();
  for (const [k, t] of pt) half.set(k, { dtype: 'F16', shape: t.shape, data: t.data });
  half.set('cls.predictions.decoder.bias', {
    dtype: 'F16',
    shape: pt.get('cls.predictions.bias')!.shape,
    data: pt.get('cls.predictions.bias')!.data,
  });
  mkdirSync(join(dir, 'pretraining_fp16'), { recursive: true });
  writeSafetensors(join(dir, 'pretraining_fp16', 'model.safetensors'), half, { format: 'pt' });
  writeFileSync(
    join(dir, 'pretraining_fp16', 'config.json'),
    JSON.stringify({ ...config, architectures: ['BertForPreTraining'] }),
  );
  manifest.variants.pretraining_fp16 = 'F16 copy';
  const m16 = await bert.BertForPreTraining.fromPretrained(join(dir, 'pretraining_fp16'), { kernels: jsKernels });
  const o16 = m16.forward(base);
  f32('pretraining_fp16.out.prediction_logits', o16.predictionLogits.data, o16.predictionLogits.shape);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return void writeSafetensors(join(dir, 'reference.safetensors'), tensors);
}

describe('parity harness on a fixture folder of another shape', () => {
  const dir = join(tmp, 'other-shape');
  before(async () => buildFixture(dir));

  it('runs every head from the folder alone (no hf-tiny number assumed) and counts its checks', async () => {
    const r = await runParity(dir, { kernels: jsKernels });
    assert.deepEqual(r.failures, []);
    assert.equal(r.passed, r.total);
    assert.ok(r.lines.some((l) => l.startsWith('multiple_choice ')));
    assert.ok(r.total > 300, `checks: ${r.total}`);
  });

  it('catches one wrong gradient value, one wrong output and one wrong parameter after three steps', async () => {
    const bad = join(tmp, 'perturbed');
    await buildFixture(bad);
    const ref = readSafetensors(join(bad, 'reference.safetensors'));
    const t = new Map<string, WritableTensor>(
      [...ref.tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.data }]),
    );
    (t.get('qa.grad.bert.encoder.layer.2.intermediate.dense.weight')!.data as Float32Array)[5]! *= 1.01;
    (t.get('seq_cls3.out.hidden_states.2')!.data as Float32Array)[7]! += 1e-3;
    (t.get('token_cls5.after3.classifier.bias')!.data as Float32Array)[0]! += 1e-3;
    writeSafetensors(join(bad, 'reference.safetensors'), t);
    const r = await runParity(bad, { kernels: jsKernels });
    const notFp16 = r.failures;
    assert.equal(notFp16.length, 3, notFp16.join('\n'));
    assert.match(notFp16.join('\n'), /qa: grads bert\.encoder\.layer\.2\.intermediate\.dense\.weight/);
    assert.match(notFp16.join('\n'), /seq_cls3: outputs hidden_states\.2/);
    assert.match(notFp16.join('\n'), /token_cls5: after3 classifier\.bias/);
    assert.ok(r.passed < r.total);
  });
});
