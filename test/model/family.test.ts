// The BERT family around the parity fixtures: Auto* picks the class from model_type, heads a family lacks are
// refused clearly, DistilBERT's config keys round-trip, RoBERTa's position offset bounds the input length.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import {
  AutoConfig,
  AutoModel,
  AutoModelForMaskedLM,
  AutoModelForPreTraining,
  AutoModelForSequenceClassification,
} from '../../src/model/auto.js';
import {
  BertForPreTraining,
  DistilBertForSequenceClassification,
  DistilBertModel,
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
} from '../../src/model/bert.js';
import { BertConfig, ConfigError } from '../../src/model/config.js';
import { InputError } from '../../src/model/errors.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { tempDir } from '../helpers/temp.js';

const F = 'test/model/fixtures/family';
const opts = { kernels: jsKernels, warn: (m: string) => assert.fail(m) };

test('Auto classes pick the family member from model_type (AutoModelForPreTraining: ELECTRA discriminator)', async () => {
  assert.equal(
    (await AutoModelForSequenceClassification.fromPretrained(`${F}/roberta/seq_cls3`, opts)).architecture,
    'RobertaForSequenceClassification',
  );
  assert.equal(
    (await AutoModelForSequenceClassification.fromPretrained(`${F}/xlm-roberta/seq_cls3`, opts)).architecture,
    'XLMRobertaForSequenceClassification',
  );
  assert.equal(
    (await AutoModelForMaskedLM.fromPretrained(`${F}/distilbert/masked_lm`, opts)).architecture,
    'DistilBertForMaskedLM',
  );
  assert.equal(
    (await AutoModelForPreTraining.fromPretrained(`${F}/electra/discriminator`, opts)).architecture,
    'ElectraForPreTraining',
  );
  // transformers' MODEL_FOR_PRETRAINING_MAPPING: the MLM head for the families without NSP.
  assert.equal(
    (await AutoModelForPreTraining.fromPretrained(`${F}/roberta/masked_lm`, opts)).architecture,
    'RobertaForMaskedLM',
  );
  assert.equal((await AutoModel.fromPretrained(`${F}/electra/model`, opts)).architecture, 'ElectraModel');
  const config = await AutoConfig.fromPretrained(`${F}/electra/model`);
  assert.equal(config.modelType, 'electra');
  assert.equal(config.embeddingSize, 12);
  assert.equal(config.hiddenSize, 24);
});

test('a head the family does not have in transformers is refused, naming the class and model_type', async () => {
  await assert.rejects(
    BertForPreTraining.fromPretrained(`${F}/roberta/masked_lm`, opts),
    (e: unknown) => e instanceof ConfigError && /BertForPreTraining needs model_type "bert"; roberta/.test(e.message),
  );
  assert.throws(
    () => BertConfig.fromJson({ model_type: 'electra', summary_type: 'mean' }),
    /"summary_type" "mean" is not supported/,
  );
  assert.throws(
    () => new DistilBertModel({ model_type: 'distilbert', dim: 8, n_heads: 2 }, { addPoolingLayer: true }),
    /DistilBertModel has no pooler/,
  );
  assert.throws(
    () => new RobertaForMaskedLM(BertConfig.fromJson({ model_type: 'distilbert', dim: 8, n_heads: 2 })),
    /RobertaForMaskedLM needs model_type "roberta", found "distilbert"/,
  );
});

test('DistilBERT configs keep their own key names through save; the model reloads to the same logits', async () => {
  const dir = tempDir('family');
  const model = await DistilBertForSequenceClassification.fromPretrained(`${F}/distilbert/seq_cls3`, opts);
  const json = model.config.toJson();
  for (const k of ['dim', 'n_layers', 'n_heads', 'hidden_dim', 'dropout', 'attention_dropout', 'activation'])
    assert.ok(k in json, `${k} written`);
  for (const k of ['hidden_size', 'num_hidden_layers', 'intermediate_size', 'type_vocab_size', 'layer_norm_eps'])
    assert.ok(!(k in json), `${k} not written`);
  assert.equal(json.model_type, 'distilbert');
  const inputs = { inputIds: [[2, 17, 33, 40, 5]], attentionMask: [[1, 1, 1, 1, 1]] };
  await model.save(join(dir, 'distil'));
  const again = await DistilBertForSequenceClassification.fromPretrained(join(dir, 'distil'), opts);
  assert.deepEqual(again.forward(inputs).logits.data, model.forward(inputs).logits.data);
});

test("RoBERTa's positions start at padding_idx + 1: the longest input is max_position_embeddings - pad - 1", async () => {
  const model = await RobertaForSequenceClassification.fromPretrained(`${F}/roberta/seq_cls3`, opts);
  const fits = model.config.maxPositionEmbeddings - 2;
  assert.equal(model.config.maxSequenceLength, fits);
  model.forward({ inputIds: [Array.from({ length: fits }, () => 5)] });
  assert.throws(
    () => model.forward({ inputIds: [Array.from({ length: fits + 1 }, () => 5)] }),
    (e: unknown) => e instanceof InputError && /padding_idx \+ 1/.test(e.message),
  );
});
