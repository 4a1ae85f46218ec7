// Loading and saving HF model folders: key sets like save_pretrained's, name variants, and clear errors on bad input.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import type { WritableTensor } from '../../src/io/index.js';
import { BertConfig } from '../../src/model/config.js';
import {
  BertForMaskedLM,
  BertForPreTraining,
  BertForSequenceClassification,
  BertModel,
  MODEL_CLASSES,
} from '../../src/model/bert.js';
import type { BertArchitecture, PretrainedModelClass } from '../../src/model/bert.js';
import { tempDir } from '../helpers/temp.js';

const FIX = '../shared/fixtures/hf-tiny';
const tmp = tempDir('ckpt');

const ref = readSafetensors(join(FIX, 'reference.safetensors')).tensors;
const shaped = (k: string) => ({ data: ref.get(k)!.data, shape: ref.get(k)!.shape });
const inputs = {
  inputIds: shaped('input.input_ids'),
  tokenTypeIds: shaped('input.token_type_ids'),
  attentionMask: shaped('input.attention_mask'),
};
const quiet = { warn: () => {} };

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('save(dir) writes what save_pretrained writes', () => {
  for (const head of [
    'bert_model',
    'pretraining',
    'masked_lm',
    'next_sentence',
    'seq_cls3',
    'seq_regression',
    'token_cls5',
    'qa',
    'multiple_choice',
  ]) {
    it(`${head}: same tensor names, shapes, dtypes and values as the HF folder, and a config that reloads`, async () => {
      const cfg = JSON.parse(readFileSync(join(FIX, head, 'config.json'), 'utf8')) as { architectures: string[] };
      const cls: PretrainedModelClass = MODEL_CLASSES[cfg.architectures[0] as BertArchitecture];
      const model = await cls.fromPretrained(join(FIX, head), quiet);
      const out = join(tmp, `save-${head}`);
      await model.save(out);
      const theirs = readSafetensors(join(FIX, head, 'model.safetensors'));
      const ours = readSafetensors(join(out, 'model.safetensors'));
      assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
      for (const [k, t] of theirs.tensors) {
        const o = ours.tensors.get(k)!;
        assert.equal(o.dtype, t.dtype, k);
        assert.deepEqual(o.shape, t.shape, k);
        assert.equal(maxDiff(o.data as Float32Array, t.data as Float32Array), 0, k);
      }
      assert.deepEqual(ours.metadata, theirs.metadata);
      // HF's writer and ours agree byte for byte on the same tensors.
      assert.ok(
        readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(FIX, head, 'model.safetensors'))),
        'byte-identical safetensors',
      );
      const savedCfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      const hfCfg = JSON.parse(readFileSync(join(FIX, head, 'config.json'), 'utf8')) as Record<string, unknown>;
      for (const key of [
        'architectures',
        'hidden_act',
        'hidden_size',
        'layer_norm_eps',
        'vocab_size',
        'type_vocab_size',
        'pad_token_id',
        'id2label',
        'problem_type',
      ]) {
        assert.deepEqual(savedCfg[key], hfCfg[key], `config.json ${key}`);
      }
      const again = await cls.fromPretrained(out, quiet);
      assert.deepEqual(
        again.parameters().map((p) => p.name),
        model.parameters().map((p) => p.name),
      );
    });
  }
});

describe('save(dir, { dtype })', () => {
  it('float16 reproduces the F16 file HF wrote, tensor for tensor, and records dtype in config.json', async () => {
    const src = '../shared/models/bert-mini-imdb-hf';
    const model = await BertForPreTraining.fromPretrained(src, quiet);
    const out = join(tmp, 'save-f16');
    await model.save(out, { dtype: 'float16' });
    const theirs = readSafetensors(join(src, 'model.safetensors')).tensors;
    const ours = readSafetensors(join(out, 'model.safetensors')).tensors;
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'same tensor names');
    for (const [k, t] of theirs) {
      assert.equal(ours.get(k)!.dtype, 'F16', `${k} dtype`);
      assert.equal(maxDiff(ours.get(k)!.data as Float32Array, t.data as Float32Array), 0, `${k} values`);
    }
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.dtype, 'float16', 'config.json dtype');
  });

  it('float32 is the default and overrides an inherited float16; an unknown dtype is refused', async () => {
    const model = await BertForPreTraining.fromPretrained('../shared/models/bert-mini-imdb-hf', quiet);
    const out = join(tmp, 'save-f32');
    await model.save(out);
    assert.equal(
      readSafetensors(join(out, 'model.safetensors')).tensors.get('bert.pooler.dense.bias')!.dtype,
      'F32',
      'F32 weights',
    );
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.dtype, 'float32', 'config.json dtype');
    await assert.rejects(model.save(join(tmp, 'bad'), { dtype: 'int8' as 'float16' }), /unknown dtype "int8"/);
  });
});

describe('fromPretrained name handling', () => {
  it('loads a BertModel checkpoint (no bert. prefix) into a head model, initialising and naming the missing head', async () => {
    const warnings: string[] = [];
    const m = await BertForSequenceClassification.fromPretrained(join(FIX, 'bert_model'), {
      warn: (w) => warnings.push(w),
      config: { num_labels: 3 },
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /newly initialized: \[classifier\.weight, classifier\.bias\]/);
    const base = await BertModel.fromPretrained(join(FIX, 'bert_model'), quiet);
    assert.equal(
      maxDiff(m.param('bert.encoder.layer.1.output.dense.weight'), base.param('encoder.layer.1.output.dense.weight')),
      0,
    );
    // HF's initialisation of the fresh head: N(0, initializer_range) weights, zero bias.
    const w = m.param('classifier.weight');
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    assert.ok(std > 0.01 && std < 0.03, `classifier std ${std}`);
    assert.deepEqual(Array.from(m.param('classifier.bias')), [0, 0, 0]);
  });

  it('loads a head checkpoint into BertModel (strips bert., ignores the head with a warning) with identical outputs', async () => {
    const warnings: string[] = [];
    const m = await BertModel.fromPretrained(join(FIX, 'seq_cls3'), { warn: (w) => warnings.push(w) });
    assert.match(warnings.join('\n'), /not used .*classifier\.weight/);
    const out = m.forward(inputs);
    assert.ok(
      maxDiff(out.lastHiddenState.data, ref.get('bert_model.out.last_hidden_state')!.data as Float32Array) < 1e-4,
    );
  });

  it('accepts the legacy LayerNorm.gamma/beta names and a stored tied decoder weight', async () => {
    const dir = join(tmp, 'legacy');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIX, 'masked_lm', 'config.json'), join(dir, 'config.json'));
    const src = readSafetensors(join(FIX, 'masked_lm', 'model.safetensors')).tensors;
    const renamed = new Map<string, WritableTensor>();
    for (const [k, t] of src)
      renamed.set(k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), t);
    renamed.set('cls.predictions.decoder.weight', src.get('bert.embeddings.word_embeddings.weight')!);
    assert.ok([...renamed.keys()].some((k) => k.endsWith('gamma')));
    writeSafetensors(join(dir, 'model.safetensors'), renamed, { format: 'pt' });
    const warnings: string[] = [];
    const m = await BertForMaskedLM.fromPretrained(dir, { warn: (w) => warnings.push(w) });
    assert.deepEqual(warnings, []);
    const out = m.forward(inputs);
    let err = 0;
    const r = ref.get('masked_lm.out.logits')!.data as Float32Array;
    for (let i = 0; i < r.length; i++)
      err = Math.max(err, Math.abs(out.logits.data[i]! - r[i]!) / Math.max(1, Math.abs(r[i]!)));
    assert.ok(err < 1e-4, `logits error ${err}`);
  });

  it('the tied MLM decoder is the word embedding: one parameter, both names resolve to the same memory', async () => {
    const m = await BertForPreTraining.fromPretrained(join(FIX, 'pretraining'), quiet);
    const we = m.param('bert.embeddings.word_embeddings.weight');
    assert.equal(m.param('cls.predictions.decoder.weight').buffer, we.buffer);
    assert.equal(m.param('cls.predictions.decoder.weight').byteOffset, we.byteOffset);
    assert.equal(m.param('cls.predictions.decoder.bias').byteOffset, m.param('cls.predictions.bias').byteOffset);
    assert.ok(!m.parameters().some((p) => p.name.includes('decoder')));
  });
});

describe('bad input is refused with a clear error', () => {
  function folder(name: string, config: string | null, weightsFrom: string | null): string {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    if (config !== null) writeFileSync(join(dir, 'config.json'), config);
    if (weightsFrom) copyFileSync(join(FIX, weightsFrom, 'model.safetensors'), join(dir, 'model.safetensors'));
    return dir;
  }
  const goodConfig = readFileSync(join(FIX, 'seq_cls3', 'config.json'), 'utf8');

  it('config.json that is not JSON names the file', async () => {
    const dir = folder('badjson', '{ "hidden_size": 32,, }', 'seq_cls3');
    await assert.rejects(BertForSequenceClassification.fromPretrained(dir, quiet), (e: Error) =>
      e.message.includes(join(dir, 'config.json')),
    );
  });
  it('an unknown hidden_act is named with the supported list', async () => {
    const cfg = JSON.parse(goodConfig) as Record<string, unknown>;
    cfg.hidden_act = 'gelu_banana';
    const dir = folder('badact', JSON.stringify(cfg), 'seq_cls3');
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(dir, quiet),
      /hidden_act.*gelu_banana.*supported: gelu/,
    );
    assert.throws(
      () => BertConfig.fromJson({ position_embedding_type: 'relative_key' }),
      /position_embedding_type.*relative_key.*absolute/,
    );
    assert.throws(
      () => BertConfig.fromJson({ hidden_size: 30, num_attention_heads: 4 }),
      /multiple of "num_attention_heads"/,
    );
    assert.throws(() => BertConfig.fromJson([1, 2]), /JSON object/);
    assert.throws(() => BertConfig.fromJson({ is_decoder: true }), /is_decoder/);
    assert.throws(() => BertConfig.fromJson({ tie_word_embeddings: false }), /tie_word_embeddings/);
    assert.throws(() => BertConfig.fromJson({ layer_norm_eps: -1 }), /layer_norm_eps/);
  });
  it('weights whose shapes disagree with the config name the tensor, the expected and the found shape', async () => {
    const cfg = JSON.parse(goodConfig) as Record<string, unknown>;
    cfg.intermediate_size = 40;
    const dir = folder('badshape', JSON.stringify(cfg), 'seq_cls3');
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(dir, quiet),
      /bert\.encoder\.layer\.0\.intermediate\.dense\.(weight|bias)" has shape \[37(, 32)?\].*expects \[40(, 32)?\]/,
    );
  });
  it('a folder with no weights file, and a missing folder', async () => {
    const dir = folder('noweights', goodConfig, null);
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(dir, quiet),
      /no weights file.*model\.safetensors.*pytorch_model\.bin/,
    );
    await assert.rejects(BertModel.fromPretrained(join(tmp, 'does-not-exist'), quiet), /not a model folder/);
    await assert.rejects(BertModel.fromPretrained(folder('noconfig', null, 'seq_cls3'), quiet), /no config\.json/);
  });
  it('forward rejects ids outside the vocabulary, too-long sequences, ragged batches and bad masks', async () => {
    const m = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), quiet);
    assert.throws(() => m.forward({ inputIds: [[1, 2, 5000]] }), /id 5000.*vocabulary \[0, 1881\)/);
    assert.throws(
      () => m.forward({ inputIds: [new Array(65).fill(1)] }),
      /sequence length 65 exceeds max_position_embeddings 64/,
    );
    assert.throws(
      () =>
        m.forward({
          inputIds: [
            [1, 2, 3],
            [1, 2],
          ],
        }),
      /ragged/,
    );
    assert.throws(() => m.forward({ inputIds: [[1, 2]], attentionMask: [[1, 2]] }), /attentionMask.*not 0 or 1/);
    assert.throws(() => m.forward({ inputIds: [[1, 2]], tokenTypeIds: [[0, 2]] }), /type_vocab_size/);
    assert.throws(() => m.forward({ inputIds: [[1, 2]], labels: [7] }), /label 7/);
    assert.throws(() => m.backward(), /no loss/);
  });
});
