// Schedules against the transformers formulas (hand-worked values) and the Adam family's first steps worked by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { clipGradNorm } from '../../src/train/clip.js';
import { AdamW, decays } from '../../src/train/optim.js';
import { learningRateAt, warmupStepsFromRatio } from '../../src/train/schedule.js';

const close = (a: number, b: number, tol = 1e-7) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('schedules: linear (fixture lrs), cosine, constant with warmup', () => {
  const lin = (s: number) => learningRateAt({ name: 'linear', lr: 1e-3, warmupSteps: 2, totalSteps: 10 }, s);
  // hf-tiny manifest lr_used: [0, 0.0005, 0.001]; then (10 - s) / 8 of the peak.
  [0, 0.0005, 0.001, 0.000875, 0.00075].forEach((v, s) => close(lin(s), v, 1e-12));
  close(lin(10), 0);
  const cos = (s: number) => learningRateAt({ name: 'cosine', lr: 1, warmupSteps: 0, totalSteps: 4 }, s);
  [1, 0.8535533905932737, 0.5, 0.14644660940672627].forEach((v, s) => close(cos(s), v, 1e-12));
  const con = (s: number) => learningRateAt({ name: 'constant', lr: 2, warmupSteps: 2, totalSteps: 100 }, s);
  assert.deepEqual([0, 1, 2, 3, 50].map(con), [0, 1, 2, 2, 2]);
  assert.equal(warmupStepsFromRatio(0.1, 375), 38);
  assert.equal(warmupStepsFromRatio(0, 375), 0);
  assert.throws(() => warmupStepsFromRatio(1, 10), /\[0, 1\)/);
});

test('no weight decay on biases and LayerNorm parameters', () => {
  assert.equal(decays('bert.encoder.layer.0.attention.output.LayerNorm.weight'), false);
  assert.equal(decays('bert.embeddings.LayerNorm.bias'), false);
  assert.equal(decays('classifier.bias'), false);
  assert.equal(decays('classifier.weight'), true);
  assert.equal(decays('bert.encoder.layer.3.intermediate.dense.weight'), true);
});

function one(name: 'adamw' | 'adam' | 'bert-adam', wd: number) {
  const p = { name: 'w.weight', data: Float32Array.from([1, -2]), grad: Float32Array.from([0.5, -0.25]) };
  const opt = new AdamW([p], { name, eps: 1e-8, weightDecay: wd }, jsKernels);
  opt.step(0.1);
  return { p, opt };
}

test('first steps worked by hand: adam / adamw (bias-corrected) and bert-adam (no bias correction)', () => {
  // Bias-corrected first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g).
  let { p } = one('adam', 0);
  close(p.data[0]!, 1 - 0.1, 1e-6);
  close(p.data[1]!, -2 + 0.1, 1e-6);
  // AdamW decays first: p * (1 - lr * wd), then the same step.
  ({ p } = one('adamw', 0.5));
  close(p.data[0]!, 1 * (1 - 0.05) - 0.1, 1e-6);
  // bert-adam: m = 0.1 g, v = 0.001 g^2: update = 0.1 / sqrt(0.001) * sign(g) = 3.1623 sign(g), plus decay.
  ({ p } = one('bert-adam', 0.5));
  close(p.data[0]!, 1 * (1 - 0.05) - 0.1 * (0.1 / Math.sqrt(0.001)), 1e-5);
  close(p.data[1]!, -2 * (1 - 0.05) + 0.1 * (0.1 / Math.sqrt(0.001)), 1e-5);
  assert.throws(() => one('adam', 0.01), /adam takes no weight decay/);
});

test('global-norm clipping as torch.nn.utils.clip_grad_norm_', () => {
  const a = { name: 'a', data: new Float32Array(2), grad: Float32Array.from([3, 0]) };
  const b = { name: 'b', data: new Float32Array(1), grad: Float32Array.from([4]) };
  const norm = clipGradNorm([a, b], 1, jsKernels);
  close(norm, 5, 1e-12);
  close(a.grad[0]!, 3 / (5 + 1e-6), 1e-7);
  close(b.grad[0]!, 4 / (5 + 1e-6), 1e-7);
  const c = { name: 'c', data: new Float32Array(1), grad: Float32Array.from([0.5]) };
  clipGradNorm([c], 1, jsKernels);
  assert.equal(c.grad[0], 0.5); // under the limit: untouched
});
