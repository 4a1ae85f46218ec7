// The native packed linear layers (fp32 / q8 / bf16) against the js reference in src/tensor/quant-kernels.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BertModel } from '../../src/model/bert.js';
import { loadNativeAddon, nativeLoadError, tryNativeKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import type { Activation, Kernels, PackedLinearKernels } from '../../src/tensor/kernels.js';
import { markWeightsChanged } from '../../src/tensor/kernels.js';
import {
  bf16ToFloat,
  jsPackedLinear,
  linearForwardBf16,
  linearForwardQ8,
  linearWeightsFor,
  quantizeRowsInto,
  quantizeWeightsPerChannel,
  toBf16,
} from '../../src/tensor/quant-kernels.js';
import { assertClose, lcgRandom } from './helpers.js';

const addon = loadNativeAddon();
const nk: Kernels | null = tryNativeKernels();
const support = addon ? addon.packedSupport() : null;
const skip = !addon
  ? `SKIPPED: native addon not built (${nativeLoadError()})`
  : support?.q8 !== null
    ? `SKIPPED: no packed q8 in this build (${support?.q8})`
    : false;
if (skip) process.stderr.write(`test/native/quant-kernels.test.ts: ${skip}\n`);
const skipBf16 = skip || (support?.bf16 ? `SKIPPED: ${support.bf16}` : false);

const { randomArray } = lcgRandom(4242);

function packedKernels(): PackedLinearKernels {
  assert.ok(nk?.packedLinear, 'native packed linear kernels');
  return nk.packedLinear;
}

// [m, n, k]: single elements, primes, a row count that is not a multiple of any block, BERT-sized k.
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [3, 17, 5],
  [17, 3, 129],
  [1, 768, 64],
  [33, 65, 768],
  [130, 96, 37],
];

test('quantizeRows: native equals the js reference bit for bit (zero rows, ties, clamping)', { skip }, () => {
  for (const [m, , k] of SHAPES) {
    const x = randomArray(m * k, -3, 3);
    if (m > 2) x.fill(0, k, 2 * k); // an all-zero row: scale 0, q 0
    // exact ties: max 127 makes x * inv = x, so 0.5 and 2.5 must round to even (0 and 2), -1.5 to -2
    if (k >= 4) x.set([127, 0.5, 2.5, -1.5], 0);
    const qn = new Int8Array(m * k),
      sn = new Float32Array(m).fill(Number.NaN);
    addon!.quantizeRows(x, qn, sn, m, k);
    const qj = new Int8Array(m * k),
      sj = new Float32Array(m);
    quantizeRowsInto(x, qj, sj, m, k);
    assert.deepEqual(qn, qj, `q ${m}x${k}`);
    assert.deepEqual(sn, sj, `scales ${m}x${k}`);
    if (k >= 4) assert.deepEqual([...qj.subarray(0, 4)], [127, 0, 2, -2]);
  }
});

test('toBf16: native equals the js reference (round half to even, NaN, infinities)', { skip }, () => {
  const x = randomArray(1001, -1e3, 1e3);
  x.set([Number.NaN, Infinity, -Infinity, 0, -0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, 1e-40]);
  const yn = new Uint16Array(x.length);
  addon!.toBf16(x, yn, x.length);
  const yj = toBf16(x);
  assert.deepEqual(yn, yj);
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: to even (1); 1 + 3 * 2^-8 rounds up to 1 + 2^-6
  const back = bf16ToFloat(yj);
  assert.equal(back[5], 1);
  assert.equal(back[6], 1 + 2 ** -6);
  assert.ok(Number.isNaN(back[0]));
});

function referenceLinear(
  dtype: 'fp32' | 'q8' | 'bf16',
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  m: number,
  n: number,
  k: number,
  wMax: number,
  act?: Activation,
): Float32Array {
  const y = new Float32Array(m * n);
  if (dtype === 'q8') {
    const q = quantizeWeightsPerChannel(w, n, k, wMax);
    linearForwardQ8(x, q.data, q.scales, bias, y, m, n, k, act);
  } else if (dtype === 'bf16') linearForwardBf16(x, toBf16(w), bias, y, m, n, k, act);
  else jsKernels.linearForward(x, w, bias, y, m, n, k, act);
  return y;
}

// Tolerances: q8's int32 sums are exact, so only the activation's approximation differs; fp32 and bf16 sum in
// another order (float32 in oneDNN, float64 / pairwise in the references).
const TOL = { fp32: 1e-4, q8: 2e-6, bf16: 2e-4 } as const;

for (const dtype of ['fp32', 'q8', 'bf16'] as const) {
  test(
    `packed ${dtype} linear: native equals the js reference on awkward shapes, NaN-filled outputs`,
    {
      skip: dtype === 'bf16' ? skipBf16 : skip,
    },
    () => {
      const pk = packedKernels();
      for (const [m, n, k] of SHAPES) {
        const w = randomArray(n * k, -0.5, 0.5),
          bias = randomArray(n),
          x = randomArray(m * k, -2, 2);
        const original = w.slice();
        const packed = pk.pack(linearWeightsFor(dtype, w, n, k, pk.q8WeightMax), n, k);
        w.fill(Number.NaN); // the packed copy owns its values: the source may change afterwards
        const cases: Array<[Activation | undefined, boolean]> = [
          [undefined, true],
          ['gelu', true],
          [undefined, false],
          ['relu', false],
        ];
        for (const [act, withBias] of cases) {
          const b = withBias ? bias : null;
          const y = new Float32Array(m * n).fill(Number.NaN);
          pk.forward(x, packed, b, y, m, act);
          const what = `${dtype} ${m}x${n}x${k} ${act ?? 'none'} bias=${withBias}`;
          assertClose(y, referenceLinear(dtype, x, original, b, m, n, k, pk.q8WeightMax, act), TOL[dtype], what);
          if (dtype !== 'fp32' && k >= 64) {
            // the reduced precision is really there: the result is not the fp32 product
            const fp32 = referenceLinear('fp32', x, original, b, m, n, k, pk.q8WeightMax, act);
            const off = y.some((v, i) => Math.abs(v - fp32[i]!) > TOL[dtype] * (1 + Math.abs(fp32[i]!)));
            assert.ok(off, `${what}: indistinguishable from fp32`);
          }
        }
      }
    },
  );
}

test('packed linear: a primitive per row count (more than the per-weight cache holds) stays correct', { skip }, () => {
  const pk = packedKernels();
  const n = 40,
    k = 24,
    w = randomArray(n * k),
    packed = pk.pack(linearWeightsFor('q8', w, n, k, pk.q8WeightMax), n, k);
  for (const m of [1, 2, 3, 5, 8, 13, 1, 21, 2]) {
    const x = randomArray(m * k);
    const y = new Float32Array(m * n).fill(Number.NaN);
    pk.forward(x, packed, null, y, m);
    assertClose(y, referenceLinear('q8', x, w, null, m, n, k, pk.q8WeightMax), TOL.q8, `q8 m=${m}`);
  }
});

test('packed linear: bad arguments are errors that say what is wrong', { skip }, () => {
  const pk = packedKernels();
  const bad = { dtype: 'q8' as const, data: new Int8Array([127, -128]), scales: new Float32Array(1) };
  if (pk.q8WeightMax < 127) assert.throws(() => pk.pack(bad, 1, 2), /exceeds 63/);
  assert.throws(() => addon!.packLinear(1, new Float32Array(4), new Float32Array(2), 2, 2), /Int8Array/);
  assert.throws(() => addon!.packLinear(7, new Float32Array(4), null, 2, 2), /packed kind/);
  const packed = pk.pack({ dtype: 'fp32', data: new Float32Array(6) }, 2, 3);
  assert.throws(() => pk.forward(new Float32Array(5), packed, null, new Float32Array(4), 2), /too short/);
  assert.throws(
    () => addon!.packedLinearForward({}, new Float32Array(6), null, new Float32Array(4), 2, -1),
    /packed weight/,
  );
  const js = jsPackedLinear.pack({ dtype: 'fp32', data: new Float32Array(6) }, 2, 3);
  assert.throws(() => pk.forward(new Float32Array(6), js, null, new Float32Array(4), 2), /not packed by the native/);
});

const TINY = {
  vocab_size: 50,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 16,
};

function tinyInputs(B: number, T: number) {
  const ids = new Int32Array(B * T).map((_, i) => (i * 7 + 3) % 50);
  return {
    inputIds: { data: ids, shape: [B, T] },
    attentionMask: { data: new Int32Array(B * T).fill(1), shape: [B, T] },
  };
}

test('model dtype: q8 and bf16 close to fp32, fp32 packed inference equal to the plain path', { skip }, () => {
  const kernels = nk!;
  const fp32 = new BertModel(TINY, { seed: 3, kernels });
  const inputs = tinyInputs(2, 9);
  const plain = fp32.forward(inputs, { grad: true }).lastHiddenState.data.slice(); // grad: plain GEMMs
  const packed = fp32.forward(inputs, { grad: false }).lastHiddenState.data; // inference: packed fp32
  assertClose(packed, plain, 1e-5, 'fp32 packed vs plain');
  for (const dtype of support?.bf16 ? (['q8'] as const) : (['q8', 'bf16'] as const)) {
    const q = new BertModel(TINY, { seed: 3, kernels, dtype });
    const out = q.forward(inputs, { grad: false }).lastHiddenState.data;
    // the js backend runs the same dtype with the reference kernels
    const jsOut = new BertModel(TINY, { seed: 3, kernels: jsKernels, dtype }).forward(inputs, { grad: false })
      .lastHiddenState.data;
    assertClose(out, jsOut, 1e-3, `${dtype}: native vs js reference model`);
    let maxDiff = 0;
    for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i]! - plain[i]!));
    assert.ok(maxDiff > 0 && maxDiff < 0.1, `${dtype}: max |difference| to fp32 ${maxDiff}`);
  }
});

test('model dtype: packed weights follow the weights (optimizer version, writes outside the kernels)', { skip }, () => {
  const kernels = nk!;
  const inputs = tinyInputs(1, 7);
  for (const dtype of ['fp32', 'q8'] as const) {
    const model = new BertModel(TINY, { seed: 5, kernels, dtype });
    model.forward(inputs, { grad: false }); // packs
    const fresh = () => new BertModel(TINY, { seed: 5, kernels, dtype, initWeights: false });
    // an optimizer step through the kernels
    const p = model.param('encoder.layer.0.attention.self.query.weight');
    const grads = randomArray(p.length),
      mom = new Float32Array(p.length),
      vel = new Float32Array(p.length);
    kernels.adamwStep(p, grads, mom, vel, p.length, 0.05, 0.9, 0.999, 1e-8, 0, 1, 1);
    const ref1 = fresh();
    ref1.store.data.set(model.store.data);
    assertClose(
      model.forward(inputs, { grad: false }).lastHiddenState.data,
      ref1.forward(inputs, { grad: false }).lastHiddenState.data,
      1e-6,
      `${dtype} after adamwStep`,
    );
    // a write the kernels never see: one whole weight replaced (the fingerprint changes), then one value with the
    // version bumped by hand
    model.param('encoder.layer.1.output.dense.weight').set(randomArray(TINY.hidden_size * TINY.intermediate_size));
    const w0 = model.param('encoder.layer.0.intermediate.dense.weight');
    w0[1] = 3;
    markWeightsChanged(w0);
    const ref2 = fresh();
    ref2.store.data.set(model.store.data);
    assertClose(
      model.forward(inputs, { grad: false }).lastHiddenState.data,
      ref2.forward(inputs, { grad: false }).lastHiddenState.data,
      1e-6,
      `${dtype} after writes`,
    );
  }
});

test('AVX2-only CPU (oneDNN limited to AVX2): q8 runs with 7-bit weights, bf16 is a clear error', { skip }, () => {
  const script = `
    import { BertModel } from ${JSON.stringify(fileURLToPath(new URL('../../src/model/bert.ts', import.meta.url)))};
    import { tryNativeKernels } from ${JSON.stringify(fileURLToPath(new URL('../../src/native/index.ts', import.meta.url)))};
    const kernels = tryNativeKernels();
    const cfg = ${JSON.stringify(TINY)};
    const out = { wMax: kernels.packedLinear.q8WeightMax, fp32Packed: kernels.packedLinear.unsupported('fp32'), bf16: null, q8: null, fp32: null };
    try { new BertModel(cfg, { kernels, dtype: 'bf16' }); } catch (e) { out.bf16 = e.message; }
    const inputs = { inputIds: { data: Int32Array.from({ length: 14 }, (_, i) => (i * 7 + 3) % 50), shape: [2, 7] } };
    out.q8 = Array.from(new BertModel(cfg, { seed: 3, kernels, dtype: 'q8' }).forward(inputs, { grad: false }).lastHiddenState.data);
    out.fp32 = Array.from(new BertModel(cfg, { seed: 3, kernels }).forward(inputs, { grad: false }).lastHiddenState.data);
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, DNNL_MAX_CPU_ISA: 'AVX2', ONEDNN_MAX_CPU_ISA: 'AVX2' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    wMax: number;
    fp32Packed: string | null;
    bf16: string;
    q8: number[];
    fp32: number[];
  };
  assert.equal(out.wMax, 63);
  assert.match(out.fp32Packed ?? '', /no prepacked fp32 kernel on avx2/); // fp32 keeps the plain sgemm there
  assert.match(out.bf16, /dtype 'bf16' cannot run on this machine.*AVX512-BF16 or AMX.*avx2/);
  // the AVX2 q8 result equals the js reference kernels quantizing to the same 7-bit weights
  const js7: Kernels = { ...jsKernels, packedLinear: { ...jsPackedLinear, q8WeightMax: 63 } };
  const ref = new BertModel(TINY, { seed: 3, kernels: js7, dtype: 'q8' }).forward(tinyInputs(2, 7), { grad: false });
  assertClose(Float32Array.from(out.q8), ref.lastHiddenState.data, 1e-3, 'AVX2 q8 vs js reference (wMax 63)');
  assert.notDeepEqual(out.q8, out.fp32);
});
