// ELECTRA's joint pre-training step against HF transformers (scripts/fixtures/electra_pretraining.py): generator MLM +
// 50 x discriminator RTD with shared embeddings, for given masked positions and sampled ids — losses, every gradient
// (the shared embeddings' summed over both models), one clipped AdamW step — on the js and the native backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import type { Kernels } from '../../src/tensor/kernels.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { PretrainingBatch } from '../../src/data/batching.js';
import { ElectraPretraining } from '../../src/train/electra.js';
import { AdamW } from '../../src/train/optim.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { GRAD_ZERO_FLOOR, TOL, tensorError } from '../../scripts/parity.js';

const FIXTURE = 'test/train/fixtures/electra-pretraining';
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as {
  loss: number;
  mlm_loss: number;
  rtd_loss: number;
  grad_norm_before_clip: number;
  parameters: string[];
};
const ref = readSafetensors(join(FIXTURE, 'reference.safetensors')).tensors;
const floats = (k: string): Float32Array => {
  const e = ref.get(k);
  if (!e || !(e.data instanceof Float32Array)) throw new Error(`reference lacks float tensor ${k}`);
  return e.data;
};
const ints = (k: string): Int32Array => {
  const e = ref.get(k);
  if (!e) throw new Error(`reference lacks ${k}`);
  return Int32Array.from(e.data as ArrayLike<number | bigint>, Number);
};
const relError = (a: number, r: number): number => Math.abs(a - r) / Math.abs(r);

/** The fixture's batch as the shard pipeline hands it over: the generator's input and the masked positions. */
function fixtureBatch(): PretrainingBatch {
  const [B = 0, T = 0] = ref.get('input.original_ids')!.shape;
  const maskedIndex = ints('input.masked_index');
  const original = ints('input.original_ids');
  return {
    B,
    T,
    inputIds: ints('input.generator_ids'),
    tokenTypeIds: ints('input.token_type_ids'),
    attentionMask: ints('input.attention_mask'),
    maskedIndex,
    maskedLabels: Int32Array.from(maskedIndex, (i) => original[i]!),
    nextSentenceLabels: new Int32Array(B),
  };
}

/** Our name of a fixture parameter: disc.X is the discriminator's X, gen.X the generator's own (generator.X). */
const ourName = (name: string): string => (name.startsWith('disc.') ? name.slice(5) : `generator.${name.slice(4)}`);

for (const [backend, kernels] of [
  ['js', jsKernels],
  ['native', getKernels({ backend: 'native' })],
] as [string, Kernels][]) {
  describe(`ELECTRA joint step vs transformers (${backend})`, () => {
    it('losses, the discriminator input, every gradient and one AdamW step', async () => {
      const pair = await ElectraPretraining.load(FIXTURE, { kernels, seed: 0 });
      const params = new Map(pair.parameters().map((p) => [p.name, p]));
      assert.deepEqual([...params.keys()].sort(), manifest.parameters.map(ourName).sort());
      pair.zeroGrad();
      const out = pair.forward(fixtureBatch(), {
        train: true,
        forwardIndex: 1,
        replacements: ints('input.replacements'),
      });
      assert.deepEqual([...out.discriminatorInput], [...ints('input.discriminator_ids')]);
      assert.ok(relError(out.mlmLoss, manifest.mlm_loss) <= TOL.loss, `mlm ${out.mlmLoss} vs ${manifest.mlm_loss}`);
      assert.ok(relError(out.rtdLoss, manifest.rtd_loss) <= TOL.loss, `rtd ${out.rtdLoss} vs ${manifest.rtd_loss}`);
      assert.ok(relError(out.loss, manifest.loss) <= TOL.loss, `loss ${out.loss} vs ${manifest.loss}`);
      const rtd = floats('input.rtd_labels');
      assert.equal(
        out.replaced,
        rtd.reduce((a, b) => a + b, 0),
      );
      pair.backward();
      const errors: string[] = [];
      for (const name of manifest.parameters) {
        const p = params.get(ourName(name))!;
        // The family fixtures' round-off floor, for a loss 50x theirs (RTD weight): a zero gradient (attention key
        // biases) holds round-off of the weighted loss in the reference and here alike.
        const e = tensorError(p.grad, floats(`grad.${name}`), GRAD_ZERO_FLOOR * pair.rtdWeight);
        if (!(e <= TOL.grad)) errors.push(`grad ${name}: ${e.toExponential(2)}`);
      }
      const list = [...params.values()];
      const norm = clipGradNorm(list, 1, kernels);
      assert.ok(relError(norm, manifest.grad_norm_before_clip) <= TOL.loss, `norm ${norm}`);
      new AdamW(list, { name: 'adamw', eps: 1e-6, weightDecay: 0.01 }, kernels).step(1e-3);
      for (const name of manifest.parameters) {
        const p = params.get(ourName(name))!;
        const e = tensorError(p.data, floats(`after1.${name}`));
        if (!(e <= TOL.param)) errors.push(`after one step ${name}: ${e.toExponential(2)}`);
      }
      assert.deepEqual(errors, []);
      // The generator reads the updated shared embeddings on its next forward (and saves them).
      pair.syncGenerator();
      const word = 'electra.embeddings.word_embeddings.weight';
      assert.deepEqual(pair.generator.param(word), pair.discriminator.param(word));
    });
  });
}
