// Inference forwards (grad: false) share activation buffers between layers: same outputs, backward refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { tryNativeKernels } from '../../src/native/index.js';
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

// Inference fuses work (the activation into the GEMM's bias pass, attention probabilities in scratch): every backend
// must give the bits of its own full forward.
for (const kernels of [jsKernels, tryNativeKernels()].filter((k) => k !== null)) {
  test(`grad: false gives bit-identical logits and hidden states to a full forward (${kernels.name})`, () => {
    const model = new BertForSequenceClassification(config, { kernels, seed: 3 });
    const full = model.forward({ inputIds, attentionMask });
    const lean = model.forward({ inputIds, attentionMask }, { grad: false });
    assert.deepEqual(Array.from(lean.logits.data), Array.from(full.logits.data), 'logits differ');
    // A fresh model whose first forward is an inference one (two shared sets) agrees too.
    const fresh = new BertForSequenceClassification(config, { kernels, seed: 3 });
    const first = fresh.forward({ inputIds, attentionMask }, { grad: false });
    assert.deepEqual(
      Array.from(first.logits.data),
      Array.from(full.logits.data),
      'logits of a first inference forward differ',
    );
    const states = fresh.forward({ inputIds, attentionMask }, { grad: false, outputHiddenStates: true });
    const ref = model.forward({ inputIds, attentionMask }, { outputHiddenStates: true });
    assert.equal(states.hiddenStates?.length, 4, 'hidden_states 0..3');
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(
        Array.from(states.hiddenStates![i]!.data),
        Array.from(ref.hiddenStates![i]!.data),
        `hidden state ${i} differs`,
      );
    }
  });
}

test('backward after an inference forward is refused with a clear error; a full forward allows it again', () => {
  const model = new BertForSequenceClassification(config, { kernels: jsKernels, seed: 3 });
  model.forward({ inputIds, attentionMask, labels: [0, 2] }, { grad: false });
  assert.throws(() => model.backward(), /grad: false/);
  model.forward({ inputIds, attentionMask, labels: [0, 2] });
  model.backward();
});
