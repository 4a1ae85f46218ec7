// Dense (the activations no fixture model uses) and L2 normalisation: backward against central finite differences
// of the forward (float32, step 1e-2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DenseLayer,
  denseActivation,
  l2NormalizeBackward,
  l2NormalizeForward,
} from '../../src/model/sentence/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

const rand = (n: number, seed: number): Float32Array => {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
};

/** sum(f(x) * w): a scalar whose gradient w.r.t. the output is w. */
const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

for (const name of ['torch.nn.modules.activation.Sigmoid', 'torch.nn.modules.activation.SiLU']) {
  test(`Dense with ${name}: forward is act(xW^T + b), backward matches finite differences`, () => {
    const act = denseActivation(name)!;
    const rows = 3,
      n = 4,
      k = 5;
    const w = rand(n * k, 1),
      b = rand(n, 2),
      x = rand(rows * k, 3),
      probe = rand(rows * n, 4);
    const layer = new DenseLayer(k, n, act, w, b, jsKernels);
    const y = layer.forward(x, rows);
    const f = (z: number): number => (act === 'sigmoid' ? 1 / (1 + Math.exp(-z)) : z / (1 + Math.exp(-z)));
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < n; o++) {
        let z = b[o]!;
        for (let i = 0; i < k; i++) z += x[r * k + i]! * w[o * k + i]!;
        assert.ok(Math.abs(y[r * n + o]! - f(z)) < 1e-6);
      }
    const dW = new Float32Array(n * k),
      dB = new Float32Array(n);
    const dx = layer.backward(probe, dW, dB);
    const h = 1e-2;
    const check = (arr: Float32Array, grad: Float32Array, what: string): void => {
      for (let i = 0; i < arr.length; i++) {
        const keep = arr[i]!;
        arr[i] = keep + h;
        const up = dot(new DenseLayer(k, n, act, w, b, jsKernels).forward(x, rows), probe);
        arr[i] = keep - h;
        const down = dot(new DenseLayer(k, n, act, w, b, jsKernels).forward(x, rows), probe);
        arr[i] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - grad[i]!) < 2e-3, `${what}[${i}]: ${grad[i]} vs ${numeric}`);
      }
    };
    check(x, dx, 'dx');
    check(w, dW, 'dW');
    check(b, dB, 'dB');
  });
}

test('L2 normalisation backward matches finite differences', () => {
  const rows = 2,
    dim = 5;
  const x = rand(rows * dim, 7),
    probe = rand(rows * dim, 8);
  const { y, norms } = l2NormalizeForward(x, rows, dim);
  const dx = l2NormalizeBackward(probe, y, norms, rows, dim);
  const h = 1e-2;
  for (let i = 0; i < x.length; i++) {
    const keep = x[i]!;
    x[i] = keep + h;
    const up = dot(l2NormalizeForward(x, rows, dim).y, probe);
    x[i] = keep - h;
    const down = dot(l2NormalizeForward(x, rows, dim).y, probe);
    x[i] = keep;
    assert.ok(Math.abs((up - down) / (2 * h) - dx[i]!) < 2e-3, `dx[${i}]`);
  }
});
