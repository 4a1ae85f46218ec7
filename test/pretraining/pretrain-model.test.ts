// Gather-first MLM head: same loss and gradients as the head over every token (HF's way), on a tiny random BERT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.js';
import { getKernels } from '../../src/native/index.js';
import { createTrainingInstances, pretrainingVocab, type TokenizedDocument } from '../../src/data/pretraining.js';
import { BertForPreTraining } from '../../src/model/bert.js';
import { collatePretraining } from '../../src/data/batching.js';
import { pretrainingForward } from '../../src/train/pretrain-model.js';

const V = 300;
const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: V - 5 }, (_, i) => `t${i}`)];
const vocab = pretrainingVocab(tokens);
const config = {
  vocab_size: V,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 64,
  type_vocab_size: 2,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};
function docs(seed: number): TokenizedDocument[] {
  const rng = new Rng(seed);
  return Array.from({ length: 20 }, () =>
    Array.from({ length: 4 + rng.int(5) }, () => Int32Array.from({ length: 3 + rng.int(8) }, () => 5 + rng.int(V - 5))),
  );
}
const instances = createTrainingInstances(
  docs(1),
  vocab,
  { maxSeqLength: 32, dupeFactor: 1, masking: { maxPredictions: 5 } },
  new Rng(2),
);

for (const backend of ['js', 'native'] as const) {
  test(`gathered MLM head = full MLM head: loss and every gradient (${backend} kernels)`, (t) => {
    let kernels;
    try {
      kernels = getKernels({ backend });
    } catch {
      t.skip(`${backend} kernels not available`);
      return;
    }
    const batch = collatePretraining(instances.slice(0, 6), vocab.padId);
    const a = new BertForPreTraining(config, { seed: 3, kernels });
    const b = new BertForPreTraining(config, { seed: 3, kernels });
    const oa = pretrainingForward(a, batch, { gather: true });
    a.backward();
    const ob = pretrainingForward(b, batch, { gather: false });
    b.backward();
    assert.ok(Math.abs(oa.mlmLoss - ob.mlmLoss) < 1e-5 * Math.abs(ob.mlmLoss), `${oa.mlmLoss} vs ${ob.mlmLoss}`);
    assert.ok(Math.abs(oa.nspLoss - ob.nspLoss) < 1e-6);
    assert.equal(oa.mlmCorrect, ob.mlmCorrect);
    assert.ok(oa.mlmLoss > Math.log(V) - 1 && oa.mlmLoss < Math.log(V) + 1, 'random init: loss near ln(V)');
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.store.grad.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a.store.grad[i]! - b.store.grad[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(b.store.grad[i]!));
    }
    assert.ok(maxAbs > 0, 'gradients are not all zero');
    assert.ok(maxDiff <= 1e-4 * maxAbs, `max gradient difference ${maxDiff} (max |g| ${maxAbs})`);
  });
}

test('collate: padding, segment ids from the A length, flat masked indices', () => {
  const batch = collatePretraining(instances.slice(0, 3), vocab.padId, 40);
  assert.equal(batch.T, 40);
  instances.slice(0, 3).forEach((x, b) => {
    const n = x.inputIds.length;
    for (let i = 0; i < 40; i++) {
      assert.equal(batch.attentionMask[b * 40 + i], i < n ? 1 : 0);
      assert.equal(batch.tokenTypeIds[b * 40 + i], i >= x.segmentALength && i < n ? 1 : 0);
      if (i >= n) assert.equal(batch.inputIds[b * 40 + i], vocab.padId);
    }
    assert.equal(batch.nextSentenceLabels[b], x.isRandomNext ? 1 : 0);
  });
  const m0 = instances[0]!.maskedPositions.length;
  assert.equal(batch.maskedIndex[m0], 40 + instances[1]!.maskedPositions[0]!);
});
