// The native backend is deterministic: the same training steps twice give the same bits (exact resume needs it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { AdamW } from '../../src/train/optim.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { loadNativeAddon, nativeLoadError, tryNativeKernels } from '../../src/native/index.js';
import type { Kernels } from '../../src/tensor/kernels.js';

const nk = tryNativeKernels();
const skip = nk ? false : `SKIPPED: native addon not built (${nativeLoadError()})`;
if (skip) process.stderr.write(`test/native/determinism.test.ts: ${skip}\n`);

// Big enough that every kernel takes its multi-threaded path (rows x cols well above the parallel threshold).
const config = {
  vocab_size: 500,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 256,
  max_position_embeddings: 128,
  type_vocab_size: 2,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  num_labels: 3,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  pad_token_id: 0,
};

function train(kernels: Kernels): Float32Array[] {
  const model = new BertForSequenceClassification(config, { kernels, seed: 7 });
  const params = model.parameters();
  const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01 });
  const batch = 16,
    seq = 96;
  const inputIds: number[][] = [];
  for (let b = 0; b < batch; b++) inputIds.push(Array.from({ length: seq }, (_, t) => 1 + ((b * 131 + t * 17) % 499)));
  const labels = Array.from({ length: batch }, (_, b) => b % 3);
  for (let step = 0; step < 3; step++) {
    model.zeroGrad();
    model.forward({ inputIds, labels }, { train: true, seed: step + 1 });
    model.backward();
    clipGradNorm(params, 1.0, kernels);
    opt.step(1e-3);
  }
  return params.map((p) => Float32Array.from(p.data));
}

test('native: two identical training runs end with bit-identical parameters', { skip }, () => {
  // More threads than cores, so that threads finish their partial sums in a different order from run to run: a
  // reduction that adds partials in arrival order then differs in the last bits (it did: ~75,000 values).
  const addon = loadNativeAddon()!;
  const threads = addon.info().threads;
  addon.setNumThreads(8);
  let a: Float32Array[], b: Float32Array[];
  try {
    a = train(nk!);
    b = train(nk!);
  } finally {
    addon.setNumThreads(threads);
  }
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i]!.length; j++) if (!Object.is(a[i]![j], b[i]![j])) differing++;
  }
  assert.equal(differing, 0, `${differing} parameter values differ between two identical native runs`);
});
