// Train-mode parity with transformers: a training forward with dropout on, where transformers draws bert-ts' dropout
// masks (scripts/fixtures/bert_ts_dropout.py), gives the same loss, logits and every gradient — which checks where
// each family applies dropout and how it scales (test/model/fixtures/dropout, scripts/fixtures/dropout_fixtures.py).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { readSafetensors } from '../../src/io/index.js';
import { AutoModelForSequenceClassification, AutoModelForTokenClassification } from '../../src/model/auto.js';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { maxAbsDiff } from '../native/helpers.js';

const DIR = 'test/model/fixtures/dropout';
const manifest = JSON.parse(readFileSync(`${DIR}/manifest.json`, 'utf8')) as {
  model_seed: number;
  forward: number;
  cases: Record<string, { class: string; loss: number; eval_loss: number; gradients: number }>;
};

/** The largest |ours - ref| and the largest |ref| (the tolerances scale with the tensor's own size). */
function maxError(ours: ArrayLike<number>, ref: ArrayLike<number>): { err: number; scale: number } {
  return { err: maxAbsDiff(ours, ref), scale: Array.from(ref, Math.abs).reduce((a, b) => Math.max(a, b), 0) };
}

describe('train mode (dropout on) equals transformers drawing the same masks', () => {
  for (const [name, c] of Object.entries(manifest.cases)) {
    for (const kernels of [jsKernels, getKernels()]) {
      it(`${name} (${c.class}): loss, logits and every gradient with the ${kernels.name} kernels`, async () => {
        const ref = readSafetensors(`${DIR}/${name}/reference.safetensors`).tensors;
        const get = (k: string): { data: ArrayLike<number>; shape: number[] } => {
          const t = ref.get(k);
          assert.ok(t && !(t.data instanceof BigInt64Array), `reference tensor ${k}`);
          return { data: t.data as ArrayLike<number>, shape: t.shape };
        };
        const Auto = c.class.endsWith('TokenClassification')
          ? AutoModelForTokenClassification
          : AutoModelForSequenceClassification;
        const model = await Auto.fromPretrained(`${DIR}/${name}`, {
          seed: manifest.model_seed,
          kernels,
          warn: (m: string) => assert.fail(m),
        });
        assert.equal(model.architecture, c.class);
        // The fixture's int32 tensors as they are: input ids, mask and labels ([B] or [B, T], -100 ignored).
        const inputs = { inputIds: get('input_ids'), attentionMask: get('attention_mask'), labels: get('labels') };
        const evalLoss = model.forward(inputs).loss!;
        assert.ok(Math.abs(evalLoss - c.eval_loss) < 1e-5, `eval loss ${evalLoss} vs ${c.eval_loss}`);
        model.zeroGrad();
        const out = model.forward(inputs, { train: true, seed: manifest.forward });
        assert.ok(Math.abs(out.loss! - c.loss) < 1e-5 * Math.max(1, c.loss), `train loss ${out.loss} vs ${c.loss}`);
        // ModernBERT runs the batch unpadded: its per-token logits at padding come from zero hidden states, where
        // transformers' eager path computes the padding too, so they are compared where attended.
        const mask = inputs.attentionMask.data;
        const perToken = out.logits.shape.length === 3 && c.class.startsWith('ModernBert');
        const width = out.logits.shape[2] ?? 1;
        const attended = (_: number, i: number): boolean => !perToken || mask[Math.floor(i / width)] !== 0;
        const logits = maxError(
          Array.from(out.logits.data).filter(attended),
          Array.from(get('logits').data).filter(attended),
        );
        assert.ok(logits.err < 1e-5 * Math.max(1, logits.scale), `logits max error ${logits.err}`);
        model.backward();
        let checked = 0;
        for (const key of ref.keys()) {
          if (!key.startsWith('grad.')) continue;
          const param = key.slice('grad.'.length);
          const { err, scale } = maxError(model.store.gradView(param), get(key).data);
          assert.ok(err <= 1e-5 + 1e-4 * scale, `${param}: gradient max error ${err} (largest ${scale})`);
          checked++;
        }
        assert.equal(checked, c.gradients);
      });
    }
  }
});
