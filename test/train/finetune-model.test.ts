// loadForFinetuning: a checkpoint under a new head (resized heads re-initialised), or only its config (--random-init).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSafetensors } from '../../src/io/index.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { loadForFinetuning } from '../../src/train/finetune-model.js';

const TINY = '../shared/fixtures/hf-tiny/seq_cls3';
const quiet = { warn: () => {} };
const weights = readSafetensors(`${TINY}/model.safetensors`).tensors;
const param = (m: BertForSequenceClassification, name: string): Float32Array =>
  m.parameters().find((p) => p.name === name)!.data;
const WORD = 'bert.embeddings.word_embeddings.weight';
const TWO = { num_labels: 2, id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 } };

describe('loadForFinetuning', () => {
  it('loads the backbone and re-initialises a classifier whose label count changed', async () => {
    const warnings: string[] = [];
    const model = await loadForFinetuning(BertForSequenceClassification, TINY, TWO, {
      seed: 1,
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(param(model, WORD), weights.get(WORD)!.data, 'word embeddings from the checkpoint');
    assert.equal(param(model, 'classifier.weight').length, 2 * model.config.hiddenSize, 'resized classifier');
    assert.ok(
      warnings.some((w) => /re-initialized because their shapes did not match/.test(w)),
      `warnings: ${warnings.join(' | ')}`,
    );
  });

  it('randomInit takes the config only: the weights equal a fresh seeded model, not the checkpoint', async () => {
    const model = await loadForFinetuning(BertForSequenceClassification, TINY, TWO, {
      ...quiet,
      seed: 7,
      randomInit: true,
    });
    const fresh = new BertForSequenceClassification(model.config, { seed: 7, initWeights: true });
    assert.notDeepEqual(param(model, WORD), weights.get(WORD)!.data, 'not the checkpoint');
    for (const p of fresh.parameters())
      assert.deepEqual(param(model, p.name), p.data, `${p.name} equals the seeded initialisation`);
    assert.equal(model.config.hiddenSize, 32, 'config from the folder');
  });
});
