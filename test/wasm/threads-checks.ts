// The threaded WebAssembly kernels against the single-threaded ones, bit for bit (each output element is computed by
// one thread with the same code): GEMMs above the threading threshold, packed linears, attention with and without
// dropout, and a whole training step of a small BERT. Run in Node (test/wasm/threads.test.ts) and in Chromium
// (test/browser/harness.ts).
import assert from 'node:assert/strict';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import type { Kernels } from '../../src/tensor/kernels.js';
import { createWasmKernels } from '../../src/native/index.js';
import type { WasmKernelExports } from '../../src/native/wasm-kernels.js';
import type { RandomArray } from '../native/helpers.js';

function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths`);
  for (let i = 0; i < actual.length; i++)
    if (!Object.is(actual[i], expected[i]))
      assert.fail(`${what}: element ${i} is ${actual[i]} threaded, ${expected[i]} on one thread`);
}

/** Runs `fn` on each backend with its own copies of `outputs` (NaN-filled), and compares them bitwise. */
function both(
  one: Kernels,
  many: Kernels,
  outputs: Float32Array[],
  fn: (kk: Kernels, out: Float32Array[]) => void,
  what: string,
): void {
  const a = outputs.map((o) => o.slice());
  const b = outputs.map((o) => o.slice());
  fn(one, a);
  fn(many, b);
  a.forEach((x, i) => same(b[i]!, x, `${what} output ${i}`));
}

export function checkThreadedGemms(one: Kernels, many: Kernels, randomArray: RandomArray): void {
  for (const [m, n, k] of [
    [128, 1024, 256],
    [130, 2100, 300], // crosses the MC, NC and KC blocks
    [600, 64, 700],
    [37, 1000, 520], // wide: split by columns
    [1, 4096, 300],
  ] as Array<[number, number, number]>) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const lda = (ta ? m : k) + 3,
        ldb = (tb ? k : n) + 1,
        ldc = n + 2;
      const a = randomArray((ta ? k : m) * lda),
        b = randomArray((tb ? n : k) * ldb);
      const c = randomArray(m * ldc);
      for (const beta of [0, 0.5])
        both(
          one,
          many,
          [c],
          (kk, [cc]) => kk.gemm(ta!, tb!, m, n, k, 0.75, a, lda, b, ldb, beta, cc!, ldc),
          `gemm ${m}x${n}x${k} ta=${ta} tb=${tb} beta=${beta}`,
        );
    }
  }
  for (const [m, n, k] of [
    [128, 768, 768], // packed weights split by columns
    [40, 4100, 300], // column ranges across the packed NC blocks, a ragged last panel
    [512, 256, 1024], // by rows
    [3, 1024, 256],
  ] as Array<[number, number, number]>) {
    const x = randomArray(m * k),
      w = randomArray(n * k),
      bias = randomArray(n),
      dy = randomArray(m * n);
    both(
      one,
      many,
      [new Float32Array(m * n)],
      (kk, [y]) => {
        const pl = kk.packedLinear!;
        pl.forward(x, pl.pack({ dtype: 'fp32', data: w }, n, k), bias, y!, m, 'gelu');
      },
      `packedLinear ${m}x${n}x${k}`,
    );
    both(
      one,
      many,
      [new Float32Array(m * n), new Float32Array(m * k), randomArray(n * k), randomArray(n)],
      (kk, [y, dx, dw, db]) => {
        kk.linearForward(x, w, bias, y!, m, n, k, 'gelu');
        kk.linearBackward(dy, x, w, dx!, dw!, db!, m, n, k);
      },
      `linear forward and backward ${m}x${n}x${k}`,
    );
  }
}

export function checkThreadedAttention(one: Kernels, many: Kernels, randomArray: RandomArray): void {
  const [B, T, H, D] = [3, 37, 4, 16];
  const hd = H * D,
    ld = 3 * hd; // q, k, v as column blocks of one fused QKV array
  const qkv = randomArray(B * T * ld);
  const [q, k, v] = [qkv.subarray(0), qkv.subarray(hd), qkv.subarray(2 * hd)];
  const maskBias = new Float32Array(B * T);
  maskBias.fill(-1e4, T - 5, T); // example 0 has 5 padding positions
  const dctx = randomArray(B * T * hd);
  for (const dropout of [null, { p: 0.1, seed: 7, firstExample: 5 }]) {
    both(
      one,
      many,
      [new Float32Array(B * H * T * T), new Float32Array(B * T * hd), new Float32Array(3 * B * T * ld)],
      (kk, [probs, ctx, grads]) => {
        kk.attentionForward(q, k, v, ld, maskBias, probs!, ctx!, hd, B, T, H, D, 0.25, dropout);
        const [dq, dk, dv] = [grads!.subarray(0), grads!.subarray(hd), grads!.subarray(2 * hd)];
        kk.attentionBackward(dctx, hd, q, k, v, ld, probs!, dq, dk, dv, B, T, H, D, 0.25, dropout);
      },
      `attention forward and backward, dropout ${dropout ? 'on' : 'off'}`,
    );
  }
}

/** The element-wise kernels split by rows / ranges: LayerNorm, activations, AdamW, scale, dropout. */
export function checkThreadedElementwise(one: Kernels, many: Kernels, randomArray: RandomArray): void {
  const [rows, cols] = [300, 768];
  const x = randomArray(rows * cols),
    residual = randomArray(rows * cols),
    gamma = randomArray(cols),
    beta = randomArray(cols);
  both(
    one,
    many,
    [x, new Float32Array(rows * cols), new Float32Array(rows), new Float32Array(rows)],
    (kk, [xx, y, mean, rstd]) => kk.layerNormForward(xx!, gamma, beta, y!, mean!, rstd!, rows, cols, 1e-12, residual),
    'layerNormForward with residual',
  );
  const n = 200_003;
  const a = randomArray(n),
    dy = randomArray(n);
  both(
    one,
    many,
    [new Float32Array(n), new Float32Array(n)],
    (kk, [y, dx]) => {
      kk.activationForward('gelu', a, y!, n);
      kk.activationBackward('gelu', a, dy, dx!, n);
    },
    'gelu forward and backward',
  );
  both(
    one,
    many,
    [randomArray(n), randomArray(n, -0.1, 0.1), randomArray(n, 0, 0.01)],
    (kk, [p, m, v]) => {
      kk.adamwStep(p!, dy, m!, v!, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0.271, 0.003);
      kk.scale(p!, n, 0.37);
    },
    'adamwStep and scale',
  );
  both(
    one,
    many,
    [new Float32Array(n)],
    (kk, [y]) => kk.dropoutForward(a, y!, n, 768, { p: 0.1, seed: 5, firstExample: 3 }),
    'dropout by whole examples',
  );
}

/** A training step (dropout on) of a small BERT: the loss, the logits and every gradient. */
export function checkThreadedTrainingStep(one: Kernels, many: Kernels, randomArray: RandomArray): void {
  const config = {
    vocab_size: 200,
    hidden_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 512,
    max_position_embeddings: 64,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    num_labels: 3,
  };
  const [B, T] = [4, 48];
  const ids = Array.from(randomArray(B * T, 1, 199), Math.floor);
  const inputIds = Array.from({ length: B }, (_, b) => ids.slice(b * T, (b + 1) * T));
  const attentionMask = inputIds.map((row, b) => row.map((_, t) => (t < T - 7 * b ? 1 : 0)));
  const run = (kernels: Kernels): { logits: Float32Array; grads: Map<string, Float32Array> } => {
    const model = new BertForSequenceClassification(config, { kernels, seed: 11 });
    const out = model.forward({ inputIds, attentionMask, labels: [0, 2, 1, 2] }, { train: true });
    model.backward();
    return { logits: out.logits.data, grads: model.gradients };
  };
  const a = run(one),
    b = run(many);
  same(b.logits, a.logits, 'logits');
  assert.equal(b.grads.size, a.grads.size);
  for (const [name, g] of a.grads) same(b.grads.get(name)!, g, `gradient of ${name}`);
}

/** What a GEMM threw (null: nothing), its first output element before, in and after a worker crash. */
export interface WorkerCrashOutcome {
  before: string | null;
  value: number;
  during: string | null;
  after: string | null;
}

/**
 * A worker of the threaded module `ex` (2 threads) crashes in a task of a GEMM (bk_test_crash_worker: the next task a
 * worker takes traps, as a crash in a kernel would): what the GEMM threw before, during and after, and C[0] before
 * (1024: a row of ones times a column of ones). Without the pool's failure report the second call never returns.
 */
export function workerCrashScenario(ex: WasmKernelExports): WorkerCrashOutcome {
  const kernels = createWasmKernels(ex);
  const n = 1024;
  const a = new Float32Array(n * n).fill(1),
    c = new Float32Array(n * n);
  const gemm = (): string | null => {
    try {
      kernels.gemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const before = gemm();
  const value = c[0]!;
  ex.bk_test_crash_worker!();
  const during = gemm();
  return { before, value, during, after: gemm() };
}
