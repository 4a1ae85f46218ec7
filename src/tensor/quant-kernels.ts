// The js reference of the packed linear layers (fp32, q8 dynamic int8, bf16): the arithmetic the native ones follow.
//
// q8 (dynamic quantization, as ONNX Runtime's quantize_dynamic with per-channel weights, but symmetric int8
// activations per row instead of uint8 per tensor):
//   weights, once: s_w[j] = max|w_j| / wMax, q_w[j,p] = round(w[j,p] * (wMax / max|w_j|))  (wMax 127, or 63 on CPUs
//                  without VNNI, whose int8 kernels add u8*s8 pairs in int16)
//   activations, per call and row: s_x[i] = max|x_i| / 127, q_x[i,p] = round(x[i,p] * (127 / max|x_i|))
//   y[i,j] = act(float(sum_p q_x[i,p] q_w[j,p]) * s_x[i] * s_w[j] + bias[j])
// Every operation is one float32 rounding in that order; round is half to even. The int32 sum is exact, so the
// native kernels give the same bits up to the activation's approximation.
// bf16: x and w rounded to bfloat16 (half to even), products summed in float32 (native) / double (here).
import { jsKernels } from './js-kernels.js';
import type {
  Activation,
  LinearDtype,
  LinearSizes,
  LinearWeights,
  PackedLinear,
  PackedLinearKernels,
} from './kernels.js';

const fround = Math.fround;
// Adding and subtracting 1.5 * 2^23 in float32 rounds |v| < 2^22 to an integer, half to even (as the native code).
const ROUND_MAGIC = 12582912;
function roundHalfEven(v: number): number {
  return fround(fround(v + ROUND_MAGIC) - ROUND_MAGIC);
}

/** Per-output-channel symmetric int8 weights of w [n, k]: w[j, :] ~= data[j, :] * scales[j]. */
export function quantizeWeightsPerChannel(
  w: Float32Array,
  n: number,
  k: number,
  wMax = 127,
): { dtype: 'q8'; data: Int8Array; scales: Float32Array } {
  if (!(Number.isInteger(wMax) && wMax >= 1 && wMax <= 127))
    throw new RangeError(`quantizeWeightsPerChannel: wMax must be an integer in [1, 127], got ${wMax}`);
  const q = new Int8Array(n * k);
  const scales = new Float32Array(n);
  quantizeRowsInto(w, q, scales, n, k, wMax);
  return { dtype: 'q8', data: q, scales };
}

/** Per-row symmetric int8 quantization with the given bound (the activations' one is 127); scale 0 for zero rows. */
export function quantizeRowsInto(
  x: Float32Array,
  q: Int8Array,
  scales: Float32Array,
  m: number,
  k: number,
  qMax = 127,
): void {
  for (let i = 0; i < m; i++) {
    const o = i * k;
    let amax = 0;
    for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(x[o + p]!));
    if (!(amax > 0)) {
      scales[i] = 0;
      q.fill(0, o, o + k);
      continue;
    }
    scales[i] = fround(amax / qMax);
    const inv = fround(qMax / amax);
    for (let p = 0; p < k; p++) {
      const v = Math.min(qMax, Math.max(-qMax, fround(x[o + p]! * inv)));
      q[o + p] = roundHalfEven(v);
    }
  }
}

/** float32 -> bfloat16 bits, round half to even; NaN stays a (quiet) NaN. */
export function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = bits[i]!;
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : ((u + 0x7fff + ((u >>> 16) & 1)) >>> 0) >>> 16;
  }
  return out;
}

/** bfloat16 bits -> float32 (exact). */
export function bf16ToFloat(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
}

/** The weights of w [n, k] in `dtype`, as PackedLinearKernels.pack takes them (wMax: see quantizeWeightsPerChannel). */
export function linearWeightsFor(dtype: LinearDtype, w: Float32Array, n: number, k: number, wMax = 127): LinearWeights {
  if (dtype === 'q8') return quantizeWeightsPerChannel(w, n, k, wMax);
  if (dtype === 'bf16') return { dtype: 'bf16', data: toBf16(w.subarray(0, n * k)) };
  return { dtype: 'fp32', data: w.subarray(0, n * k) }; // a view: packing copies it
}

/** y = act(y + bias) row by row, then the activation (the js linear's epilogue). */
function epilogue(y: Float32Array, bias: Float32Array | null, m: number, n: number, activation?: Activation): void {
  if (bias) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = fround(y[i * n + j]! + bias[j]!);
  if (activation && activation !== 'identity') jsKernels.activationForward(activation, y, y, m * n);
}

/** q8 linear: y[m,n] = act(dequant(quant(x) @ qw^T) + bias) with the arithmetic of this file's header. */
export function linearForwardQ8(
  x: Float32Array,
  qw: Int8Array,
  wScales: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  ...[m, n, k, activation]: LinearSizes
): void {
  const qx = new Int8Array(m * k);
  const xScales = new Float32Array(m);
  quantizeRowsInto(x, qx, xScales, m, k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0; // |acc| <= k * 127 * 127: exact in a double for any k below 5e11
      for (let p = 0; p < k; p++) acc += qx[i * k + p]! * qw[j * k + p]!;
      const v = fround(fround(fround(acc) * xScales[i]!) * wScales[j]!);
      y[i * n + j] = bias ? fround(v + bias[j]!) : v;
    }
  }
  if (activation && activation !== 'identity') jsKernels.activationForward(activation, y, y, m * n);
}

/** bf16 linear: x and the weight bits rounded to bfloat16, products summed (here in double), then bias and act. */
export function linearForwardBf16(
  x: Float32Array,
  wBits: Uint16Array,
  bias: Float32Array | null,
  y: Float32Array,
  ...[m, n, k, activation]: LinearSizes
): void {
  const xb = bf16ToFloat(toBf16(x.subarray(0, m * k)));
  const wb = bf16ToFloat(wBits.subarray(0, n * k));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += xb[i * k + p]! * wb[j * k + p]!;
      y[i * n + j] = acc;
    }
  }
  epilogue(y, bias, m, n, activation);
}

interface JsPacked extends PackedLinear {
  readonly weights: LinearWeights;
}

/** PackedLinearKernels in plain TypeScript: nothing is packed, the weights are kept as given (slow, runs anywhere). */
export const jsPackedLinear: PackedLinearKernels = {
  unsupported: () => null,
  q8WeightMax: 127,
  pack(weights, n, k) {
    if (weights.data.length < n * k)
      throw new RangeError(`pack: the weight has ${weights.data.length} values, [${n}, ${k}] needs ${n * k}`);
    // fp32 is given as a view of the live weights: keep a copy, as a native pack would.
    const own: LinearWeights =
      weights.dtype === 'fp32' ? { dtype: 'fp32', data: weights.data.slice(0, n * k) } : weights;
    const packed: JsPacked = { dtype: weights.dtype, n, k, weights: own };
    return packed;
  },
  forward(x, packed, bias, y, m, activation) {
    const { n, k } = packed;
    const w = (packed as JsPacked).weights;
    if (!w) throw new TypeError('jsPackedLinear.forward: the weight was not packed by jsPackedLinear.pack');
    if (w.dtype === 'q8') linearForwardQ8(x, w.data, w.scales, bias, y, m, n, k, activation);
    else if (w.dtype === 'bf16') linearForwardBf16(x, w.data, bias, y, m, n, k, activation);
    else jsKernels.linearForward(x, w.data, bias, y, m, n, k, activation);
  },
};
