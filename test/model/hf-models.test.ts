// Models made by others: the HF-exported ONNX classifier run by ONNX Runtime, and the F16 bert-mini-imdb-hf checkpoint.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { readSafetensors } from '../../src/io/index.js';
import { BertForPreTraining, BertForSequenceClassification } from '../../src/model/bert.js';

const FIX = '../shared/fixtures/hf-tiny';
const MINI = '../shared/models/bert-mini-imdb-hf';

describe('ONNX Runtime on the HF-exported seq_cls3 model', () => {
  it('gives the same logits as bert-ts on the fixture inputs (within 1e-5)', async () => {
    const ref = readSafetensors(join(FIX, 'reference.safetensors')).tensors;
    const get = (k: string) => ref.get(k)!;
    const session = await ort.InferenceSession.create(join(FIX, 'seq_cls3_onnx', 'onnx', 'model.onnx'));
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of ['input_ids', 'attention_mask', 'token_type_ids']) {
      const t = get(`input.${name}`);
      feeds[name] = new ort.Tensor('int64', t.data as BigInt64Array, t.shape);
    }
    const result = await session.run(feeds);
    const onnxLogits = result.logits!.data as Float32Array;
    const model = await BertForSequenceClassification.fromPretrained(join(FIX, 'seq_cls3'), { warn: () => {} });
    const ours = model.forward({
      inputIds: { data: get('input.input_ids').data, shape: get('input.input_ids').shape },
      attentionMask: { data: get('input.attention_mask').data, shape: get('input.attention_mask').shape },
      tokenTypeIds: { data: get('input.token_type_ids').data, shape: get('input.token_type_ids').shape },
    });
    assert.deepEqual(ours.logits.shape, [3, 3]);
    assert.equal(onnxLogits.length, 9);
    for (let i = 0; i < 9; i++) {
      assert.ok(
        Math.abs(ours.logits.data[i]! - onnxLogits[i]!) <= 1e-5,
        `logit ${i}: ${ours.logits.data[i]} vs onnxruntime ${onnxLogits[i]}`,
      );
    }
  });
});

describe('bert-mini-imdb-hf (F16 safetensors, 30522 WordPieces)', () => {
  const tok = Tokenizer.fromFile(join(MINI, 'tokenizer.json'));

  it('BertForSequenceClassification loads, warns that the classifier is new, and classifies a review', async () => {
    const warnings: string[] = [];
    const model = await BertForSequenceClassification.fromPretrained(MINI, { warn: (w) => warnings.push(w) });
    assert.ok(
      warnings.some((w) => /newly initialized: \[classifier\.weight, classifier\.bias\]/.test(w)),
      warnings.join('\n'),
    );
    const enc = await tok.encode('This movie was a wonderful surprise: great acting and a clever plot.');
    const ids = enc.getIds();
    const out = model.forward({ inputIds: [ids], attentionMask: [ids.map(() => 1)] });
    assert.deepEqual(out.logits.shape, [1, 2]);
    assert.ok(out.logits.data.every(Number.isFinite));
  });

  it('BertForPreTraining predicts masked words: sensible fills and an MLM loss near the README figure', async () => {
    const model = await BertForPreTraining.fromPretrained(MINI, {
      warn: (w) => assert.fail(`unexpected warning: ${w}`),
    });
    const V = model.config.vocabSize;
    const maskId = tok.tokenToId('[MASK]')!;
    const topAtMask = async (text: string, k: number): Promise<string[]> => {
      const ids = (await tok.encode(text)).getIds();
      const pos = ids.indexOf(maskId);
      assert.ok(pos > 0, `[MASK] not found in ${ids}`);
      const row = model.forward({ inputIds: [ids] }).predictionLogits.data.subarray(pos * V, (pos + 1) * V);
      return Array.from(row.keys())
        .sort((a, b) => row[b]! - row[a]!)
        .slice(0, k)
        .map((i) => tok.idToToken(i)!);
    };
    // The README calls this model lightly trained (held-out MLM accuracy 14.6%): frequent words dominate, so the
    // checks are that the fill is a word and that context shows where it is strong.
    const fill = await topAtMask('the movie was [MASK] good.', 5);
    assert.ok(/^[a-z.,!']+$/.test(fill[0]!), `top fill of "the movie was [MASK] good." is ${fill[0]}`);
    const worst = await topAtMask('this is one of the worst [MASK] i have ever seen.', 10);
    assert.ok(
      worst.some((t) => ['movie', 'movies', 'film', 'films'].includes(t)),
      `fills of "worst [MASK]": ${worst.join(', ')}`,
    );
    // MLM loss on review text with every 6th WordPiece masked: the README reports 6.04 held out; uniform guessing
    // over 30522 pieces is ln(30522) = 10.3.
    const text =
      'i watched this film last night with my family. the story was slow at first, but the second half was ' +
      'exciting and the actors did a great job. the music was beautiful and i would recommend it to anyone who likes drama.';
    const ids = (await tok.encode(text)).getIds();
    const masked = ids.slice();
    const labels = ids.map(() => -100);
    for (let i = 3; i < ids.length - 1; i += 6) {
      labels[i] = ids[i]!;
      masked[i] = maskId;
    }
    const logits = model.forward({ inputIds: [masked] }).predictionLogits.data;
    let loss = 0,
      n = 0;
    for (let i = 0; i < ids.length; i++) {
      if (labels[i] === -100) continue;
      const row = logits.subarray(i * V, (i + 1) * V);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      loss += max + Math.log(sum) - row[labels[i]!]!;
      n++;
    }
    loss /= n;
    assert.ok(n >= 6 && loss < 8, `MLM loss ${loss} over ${n} masked pieces`);
  });
});
