// ModernBERT around its parity fixtures: config settings read and written as transformers does, Auto* classes, the
// inference forward (shared activations, sliding-window scratch) equal to the training one, and gradients with every
// dropout on (the sliding-window forward draws the attention kernel's masks) against finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification } from '../../src/model/auto.js';
import { ModernBertForSequenceClassification, ModernBertForTokenClassification } from '../../src/model/bert.js';
import { BertConfig } from '../../src/model/config.js';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { tempDir } from '../helpers/temp.js';

const F = 'test/model/fixtures/family';
const opts = { kernels: jsKernels, warn: (m: string) => assert.fail(m) };

test('ModernBERT config: layer kinds, rotary bases, biases and pooling as configuration_modernbert.py reads them', () => {
  const c = BertConfig.fromJson({ model_type: 'modernbert', num_hidden_layers: 5, global_attn_every_n_layers: 2 });
  assert.deepEqual(c.layerTypes, [
    'full_attention',
    'sliding_attention',
    'full_attention',
    'sliding_attention',
    'full_attention',
  ]);
  assert.equal(c.globalRopeTheta, 160000);
  assert.equal(c.localRopeTheta, 10000);
  assert.equal(c.layerNormEps, 1e-5);
  assert.equal(c.padTokenId, 50283);
  assert.deepEqual(
    [c.normBias, c.attentionBias, c.mlpBias, c.classifierBias, c.decoderBias],
    [false, false, false, false, true],
  );
  const legacy = BertConfig.fromJson({ model_type: 'modernbert', global_rope_theta: 500, local_rope_theta: 50 });
  assert.deepEqual([legacy.globalRopeTheta, legacy.localRopeTheta], [500, 50]);
  assert.throws(
    () =>
      BertConfig.fromJson({
        model_type: 'modernbert',
        rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1e4, factor: 2 } },
      }),
    /rope_type" "linear" is not supported/,
  );
  assert.throws(() => BertConfig.fromJson({ model_type: 'modernbert', classifier_pooling: 'max' }), /"cls" or "mean"/);
  assert.throws(() => BertConfig.fromJson({ model_type: 'modernbert', sparse_prediction: true }), /sparse_prediction/);
  assert.throws(
    () => BertConfig.fromJson({ model_type: 'modernbert', num_hidden_layers: 2, layer_types: ['full_attention'] }),
    /"layer_types" must list 2/,
  );
});

test('ModernBERT saves the config transformers wrote (its key names, floats as floats) and reloads to the same logits', async () => {
  const dir = `${F}/modernbert/seq_cls3`;
  const model = await ModernBertForSequenceClassification.fromPretrained(dir, opts);
  const out = tempDir('modernbert-save');
  await model.save(out);
  const text = readFileSync(join(out, 'config.json'), 'utf8');
  assert.match(text, /"initializer_cutoff_factor": 2\.0,/); // transformers' strict config refuses 2
  assert.match(text, /"rope_theta": 500\.0,/);
  const ours = JSON.parse(text) as Record<string, unknown>;
  const theirs = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(theirs).filter((k) => k !== 'transformers_version'))
    assert.deepEqual(ours[key], theirs[key], key);
  assert.deepEqual(
    Object.keys(ours).filter((k) => !(k in theirs)),
    [],
  );
  const ids = { data: Int32Array.from([2, 5, 9, 11, 40, 3, 0, 0]), shape: [1, 8] };
  const mask = { data: Int32Array.from([1, 1, 1, 1, 1, 1, 0, 0]), shape: [1, 8] };
  const reloaded = await ModernBertForSequenceClassification.fromPretrained(out, opts);
  assert.deepEqual(
    reloaded.forward({ inputIds: ids, attentionMask: mask }).logits.data,
    model.forward({ inputIds: ids, attentionMask: mask }).logits.data,
  );
});

test('Auto classes load ModernBERT folders as ModernBert*', async () => {
  assert.equal((await AutoModel.fromPretrained(`${F}/modernbert/model`, opts)).architecture, 'ModernBertModel');
  assert.equal(
    (await AutoModelForMaskedLM.fromPretrained(`${F}/modernbert-biases/masked_lm`, opts)).architecture,
    'ModernBertForMaskedLM',
  );
  assert.equal(
    (await AutoModelForSequenceClassification.fromPretrained(`${F}/modernbert/seq_cls3`, opts)).architecture,
    'ModernBertForSequenceClassification',
  );
});

test('an inference forward (layers sharing activations) gives the training forward outputs', async () => {
  for (const kernels of [jsKernels, getKernels()]) {
    const model = await ModernBertForTokenClassification.fromPretrained(`${F}/modernbert-biases/token_cls5`, {
      kernels,
      warn: () => {},
    });
    const ids = { data: Int32Array.from([2, 5, 9, 11, 40, 3, 7, 8, 2, 6, 4, 3, 2, 9, 0, 0]), shape: [2, 8] };
    const mask = { data: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), shape: [2, 8] };
    const kept = model.forward({ inputIds: ids, attentionMask: mask }).logits.data;
    const shared = model.forward({ inputIds: ids, attentionMask: mask }, { grad: false }).logits.data;
    assert.deepEqual(shared, kept, kernels.name);
  }
});

/** A small ModernBERT with every dropout on (layers global / sliding / global, window 4), mean pooling. */
const DROPOUT_CONFIG = {
  vocab_size: 40,
  hidden_size: 8,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  intermediate_size: 6,
  max_position_embeddings: 16,
  global_attn_every_n_layers: 2,
  local_attention: 4,
  embedding_dropout: 0.1,
  attention_dropout: 0.3,
  mlp_dropout: 0.2,
  classifier_dropout: 0.25,
  classifier_pooling: 'mean',
  norm_bias: true,
  attention_bias: true,
  pad_token_id: 0,
  num_labels: 3,
};

test('with every dropout on, gradients match finite differences of the same masks (sliding and global layers)', () => {
  const config = DROPOUT_CONFIG;
  const model = new ModernBertForSequenceClassification(config, { kernels: jsKernels, seed: 5 });
  const inputs = {
    inputIds: { data: Int32Array.from([2, 5, 9, 11, 30, 3, 7, 8, 2, 6, 4, 3, 0, 0, 0, 0]), shape: [2, 8] },
    attentionMask: { data: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]), shape: [2, 8] },
    labels: { data: Int32Array.from([2, 0]), shape: [2] },
  };
  const loss = (): number => model.forward(inputs, { train: true, seed: 11 }).loss!;
  model.zeroGrad();
  loss();
  model.backward();
  let checked = 0;
  for (const name of [
    'model.layers.1.attn.Wqkv.weight',
    'model.layers.2.mlp.Wi.weight',
    'model.layers.1.attn_norm.weight',
  ]) {
    const w = model.param(name),
      g = model.store.gradView(name);
    // The entries with the largest gradients, where float32 finite differences are meaningful.
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!));
    for (const i of order.slice(0, 3)) {
      const keep = w[i]!,
        h = 1e-2;
      w[i] = keep + h;
      const up = loss();
      w[i] = keep - h;
      const down = loss();
      w[i] = keep;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(numeric - g[i]!) <= 2e-2 * Math.abs(g[i]!) + 1e-4, `${name}[${i}]: ${numeric} vs ${g[i]}`);
      checked++;
    }
  }
  assert.equal(checked, 9);
});

test('an unpadded batch (right padding) trains as the padded one: the same loss, logits where attended and every gradient', () => {
  // Rows of 11, 4, 0 and 9 tokens of T = 11 (window 4 < the longest), every dropout on: the packed rows draw the
  // masks their padded rows draw, so unpadding changes nothing but the work at padding.
  const config = {
    ...DROPOUT_CONFIG,
    hidden_size: 12,
    num_attention_heads: 3,
    intermediate_size: 10,
    mlp_bias: true,
    num_labels: 5,
  };
  const T = 11,
    lengths = [11, 4, 0, 9];
  const ids = lengths.flatMap((L, b) => Array.from({ length: T }, (_, t) => (t < L ? 3 + ((t * 7 + b * 5) % 36) : 0)));
  const mask = lengths.flatMap((L) => Array.from({ length: T }, (_, t) => (t < L ? 1 : 0)));
  const labels = mask.map((m, i) => (m ? i % 5 : -100));
  const inputs = {
    inputIds: { data: Int32Array.from(ids), shape: [4, T] },
    attentionMask: { data: Int32Array.from(mask), shape: [4, T] },
    labels: { data: Int32Array.from(labels), shape: [4, T] },
  };
  for (const kernels of [jsKernels, getKernels()]) {
    const run = (unpad: boolean) => {
      const model = new ModernBertForTokenClassification(config, { kernels, seed: 3, unpad });
      model.zeroGrad();
      const out = model.forward(inputs, { train: true, seed: 17, outputHiddenStates: true, outputAttentions: true });
      model.backward();
      return { model, out };
    };
    const padded = run(false),
      unpadded = run(true);
    const where = `${kernels.name}`;
    assert.ok(Math.abs(unpadded.out.loss! - padded.out.loss!) < 1e-6, `${where}: loss`);
    const attended = (x: ArrayLike<number>, width: number) =>
      Array.from(x).filter((_, i) => mask[Math.floor(i / width)]);
    const close = (a: number[], b: number[], what: string): void => {
      assert.equal(a.length, b.length, what);
      const err = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
      assert.ok(err < 1e-5, `${where}: ${what} max error ${err}`);
    };
    close(attended(unpadded.out.logits.data, 5), attended(padded.out.logits.data, 5), 'logits');
    const hidden = unpadded.out.hiddenStates!;
    hidden.forEach((h, l) => {
      close(attended(h.data, 12), attended(padded.out.hiddenStates![l]!.data, 12), `hidden state ${l}`);
      assert.ok(
        Array.from(h.data).every((v, i) => mask[Math.floor(i / 12)] || v === 0),
        `hidden state ${l} padding`,
      );
    });
    unpadded.out.attentions!.forEach((a, l) => {
      // Query rows at padding are zero; attended rows equal the padded run's (whose padding keys get 0).
      const queryAttended = (i: number): boolean =>
        mask[Math.floor(i / (3 * T * T)) * T + (Math.floor(i / T) % T)] === 1;
      const ours = Array.from(a.data),
        theirs = Array.from(padded.out.attentions![l]!.data);
      close(
        ours.filter((_, i) => queryAttended(i)),
        theirs.filter((_, i) => queryAttended(i)),
        `attentions ${l}`,
      );
      assert.ok(
        ours.every((v, i) => queryAttended(i) || v === 0),
        `attentions ${l} padding`,
      );
    });
    for (const p of padded.model.parameters()) {
      const g = unpadded.model.store.gradView(p.name),
        ref = padded.model.store.gradView(p.name);
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      close(
        Array.from(g).map((v) => v / Math.max(scale, 1e-3)),
        Array.from(ref).map((v) => v / Math.max(scale, 1e-3)),
        `d ${p.name}`,
      );
    }
  }
});

test('a batch padded on the left runs padded (unpadding takes right padding only) and equals unpad false', async () => {
  const model = await ModernBertForSequenceClassification.fromPretrained(`${F}/modernbert-biases/seq_cls3`, opts);
  const eager = await ModernBertForSequenceClassification.fromPretrained(`${F}/modernbert-biases/seq_cls3`, {
    ...opts,
    unpad: false,
  });
  const inputs = {
    inputIds: { data: Int32Array.from([0, 0, 2, 5, 9, 11, 40, 3, 2, 6, 4, 3, 7, 8, 9, 3]), shape: [2, 8] },
    attentionMask: { data: Int32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), shape: [2, 8] },
  };
  const out = model.forward(inputs, { outputHiddenStates: true });
  const ref = eager.forward(inputs, { outputHiddenStates: true });
  assert.deepEqual(out.logits.data, ref.logits.data);
  assert.deepEqual(out.hiddenStates!.at(-1)!.data, ref.hiddenStates!.at(-1)!.data); // padding computed, not zeroed
});

test('the banded sliding-window attention of inference equals the full one (T well past a block of 64 queries)', () => {
  // Window 8 (local_attention 16), T = 150; row 1 padded after 40 tokens, so that padded, its queries from 49 on see
  // a window of padding only (every key masked: 1 / T each, as the full form). Inference (no probabilities kept)
  // takes the banded form, a forward keeping every layer the full one.
  const config = {
    vocab_size: 40,
    hidden_size: 16,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    intermediate_size: 12,
    max_position_embeddings: 160,
    global_attn_every_n_layers: 3,
    local_attention: 16,
    pad_token_id: 0,
  };
  const T = 150;
  const ids = Int32Array.from({ length: 2 * T }, (_, i) => (i < T || i - T < 40 ? 3 + ((i * 11) % 37) : 0));
  const inputs = {
    inputIds: { data: ids, shape: [2, T] },
    attentionMask: { data: Int32Array.from(ids, (id) => (id === 0 ? 0 : 1)), shape: [2, T] },
  };
  for (const kernels of [jsKernels, getKernels()]) {
    for (const unpad of [false, true]) {
      const model = new ModernBertForTokenClassification({ ...config, num_labels: 3 }, { kernels, seed: 2, unpad });
      const banded = model.forward(inputs, { grad: false }).logits.data;
      const full = model.forward(inputs, { outputAttentions: true }).logits.data;
      const err = banded.reduce((m, v, i) => Math.max(m, Math.abs(v - full[i]!)), 0);
      assert.ok(err < 1e-5, `${kernels.name}, unpad ${unpad}: max error ${err}`);
    }
  }
});
