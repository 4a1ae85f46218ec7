// The linear layers of a model in its dtype (fp32 | q8 | bf16): weights packed or quantized once per version.
import { weightsVersion } from '../tensor/kernels.js';
import { InputError } from './errors.js';
import type { Kernels, LinearDtype, LinearSizes, PackedLinear, PackedLinearKernels } from '../tensor/kernels.js';
import { jsPackedLinear, linearWeightsFor, quantizeWeightsPerChannel } from '../tensor/quant-kernels.js';

/** The dtype a model computes its linear layers in (the names transformers.js uses). */
export type ModelDtype = LinearDtype;

export const MODEL_DTYPES: readonly ModelDtype[] = ['fp32', 'q8', 'bf16'];

/** Checks a dtype given by a caller (a plain JS value may be anything): an InputError naming the choices. */
export function parseModelDtype(value: unknown, where: string): ModelDtype {
  if (value === 'fp32' || value === 'q8' || value === 'bf16') return value;
  throw new InputError(
    where,
    (n) => `${n('dtype')} must be one of ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * A linear weight [n, k] as a quantized folder stores it: int8 rows and one float32 scale per row (output channel),
 * w[j, :] ~= data[j, :] * scales[j], symmetric, with |data| <= STORED_Q8_MAX.
 */
export interface QuantizedWeight {
  data: Int8Array;
  scales: Float32Array;
}

/** The int8 bound of stored weights (every CPU reads them: one without VNNI requantizes to its 7 bits on load). */
export const STORED_Q8_MAX = 127;

/** A stored int8 weight `<name>` has its per-row scales in `<name>_scale` (F32 [n]). */
export const Q8_SCALE_SUFFIX = '_scale';

/** The `quant_method` of config.json's quantization_config in a folder bert-ts saved in q8. */
export const Q8_QUANT_METHOD = 'bert-ts-q8';

/**
 * config.json's `quantization_config` of a q8 folder: what the stored tensors mean. transformers refuses an unknown
 * quant_method, so it never reads the int8 tensors as float weights.
 */
export function q8QuantizationConfig(): { [key: string]: string | number | boolean } {
  return {
    quant_method: Q8_QUANT_METHOD,
    dtype: 'q8',
    weights: 'int8, symmetric, per output channel (row of the [out, in] weight), zero point 0',
    weight_max: STORED_Q8_MAX,
    scale_suffix: Q8_SCALE_SUFFIX,
    activations: 'int8, symmetric, per token (row), computed on the fly',
    modules: 'the encoder layers linears (attention query/key/value and output, intermediate, output)',
  };
}

/**
 * The dtype a folder's config.json says its weights are stored in: 'q8' for a bert-ts q8 folder, null for a plain
 * one. Another quantization_config (bitsandbytes, GPTQ...) is refused: its tensors would be misread.
 */
export function storedQuantization(extra: Record<string, unknown>, where: string): 'q8' | null {
  const q = extra['quantization_config'];
  if (q === undefined || q === null) return null;
  const method = typeof q === 'object' ? (q as Record<string, unknown>)['quant_method'] : undefined;
  if (method === Q8_QUANT_METHOD) return 'q8';
  throw new InputError(
    where,
    `quantization_config with quant_method ${JSON.stringify(method)} is not supported (bert-ts reads its own '${Q8_QUANT_METHOD}' folders only)`,
  );
}

/** w [n, k] quantized as a q8 folder stores it (the same rows the q8 kernels compute with on a VNNI CPU). */
export function quantizeForStorage(w: Float32Array, n: number, k: number): QuantizedWeight {
  const { data, scales } = quantizeWeightsPerChannel(w, n, k, STORED_Q8_MAX);
  return { data, scales };
}

/** The float32 rows data * scale (a quantized weight read as an fp32 model: not the original weights). */
export function dequantizeWeight(
  q: QuantizedWeight,
  n: number,
  k: number,
  out: Float32Array = new Float32Array(n * k),
): Float32Array {
  for (let j = 0; j < n; j++) {
    const s = q.scales[j]!;
    for (let p = 0; p < k; p++) out[j * k + p] = Math.fround(q.data[j * k + p]! * s);
  }
  return out;
}

/**
 * The padded tokens (batch x longest) of one model call when pipelines, SentenceTransformer.encode and
 * CrossEncoder.predict cut a list into length-sorted batches: the activations of such a call stay in cache (on IMDb
 * reviews of ~300 tokens, batches of 32 ran at half the texts/s of one text per call; docs/performance.md).
 */
export const BATCH_TOKENS = 512;

// Values sampled from a weight when it is packed: a write that bypasses the kernels (a user's `param(name).set`)
// changes them, so the packed copy is rebuilt even without markWeightsChanged. 64 reads per call cost nothing.
const FINGERPRINT_SAMPLES = 64;

interface Entry {
  version: number;
  fingerprint: Uint32Array;
  packed: PackedLinear;
}

function fingerprint(w: Float32Array): Uint32Array {
  const bits = new Uint32Array(w.buffer, w.byteOffset, w.length);
  const f = new Uint32Array(Math.min(FINGERPRINT_SAMPLES, w.length));
  const stride = Math.max(1, Math.floor(w.length / f.length));
  for (let i = 0; i < f.length; i++) f[i] = bits[i * stride]!;
  return f;
}

function sameFingerprint(w: Float32Array, f: Uint32Array): boolean {
  const bits = new Uint32Array(w.buffer, w.byteOffset, w.length);
  const stride = Math.max(1, Math.floor(w.length / f.length));
  for (let i = 0; i < f.length; i++) if (bits[i * stride] !== f[i]) return false;
  return true;
}

/**
 * Runs a model's linear layers in its dtype. q8 and bf16 use their packed weights in every forward (the model
 * computes in that dtype; backward, when asked for, uses the fp32 master weights); fp32 uses packed weights in
 * inference forwards (no repacking of the weight per call, the bias added inside the GEMM) and the plain kernel in
 * training, whose weights change every step. Packed copies are made on first use and
 * rebuilt when the weights' version (bumped by the optimizer's adamwStep) or their fingerprint changed.
 */
export class ModelLinears {
  private readonly impl: PackedLinearKernels | null;
  private readonly cache = new WeakMap<Float32Array, Entry>();
  /** Weights without fp32 values (a quantized folder's), packed once by setQuantized: never rebuilt. */
  private readonly fixed = new WeakMap<Float32Array, PackedLinear>();

  constructor(
    private readonly kernels: Kernels,
    readonly dtype: ModelDtype,
  ) {
    const own = kernels.packedLinear ?? null;
    if (dtype === 'fp32') {
      this.impl = own && own.unsupported('fp32') === null ? own : null;
      return;
    }
    // The js backend runs q8 and bf16 with the reference kernels (slow, but the same arithmetic everywhere).
    const impl = own ?? jsPackedLinear;
    const why = impl.unsupported(dtype);
    if (why !== null) {
      const instead = dtype === 'bf16' && impl.unsupported('q8') === null ? "'fp32' or 'q8'" : "'fp32'";
      throw new Error(`dtype '${dtype}' cannot run on this machine (${kernels.name}): ${why}; use dtype ${instead}`);
    }
    this.impl = impl;
  }

  /**
   * y[m,n] = act(x[m,k] @ w[n,k]^T + bias) in the model's dtype; `inference` says the forward keeps nothing for
   * backward (fp32 packs only then, so that training steps never pay for repacking).
   */
  forward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    inference: boolean,
    ...[m, n, k, activation]: LinearSizes
  ): void {
    const impl = this.impl;
    const fixed = this.fixed.get(w);
    if (fixed) {
      if (m > 0) impl!.forward(x, fixed, bias, y, m, activation);
      return;
    }
    if (impl && m > 0 && (this.dtype !== 'fp32' || inference)) {
      impl.forward(x, this.packed(impl, w, n, k), bias, y, m, activation);
    } else {
      this.kernels.linearForward(x, w, bias, y, m, n, k, activation);
    }
  }

  /**
   * Makes the linear whose weight view is `w` (empty: its fp32 values are not held) compute with the int8 rows `q`
   * ([n, k], STORED_Q8_MAX). A CPU whose kernels take fewer bits (q8WeightMax 63 without VNNI) gets the rows
   * requantized from the dequantized ones, which may differ by one step from quantizing the original weights.
   */
  setQuantized(w: Float32Array, q: QuantizedWeight, n: number, k: number): void {
    const impl = this.impl;
    if (this.dtype !== 'q8' || !impl) throw new Error(`setQuantized: the model computes in ${this.dtype}, not q8`);
    const wMax = impl.q8WeightMax;
    const weights =
      wMax === STORED_Q8_MAX
        ? { dtype: 'q8' as const, data: q.data, scales: q.scales }
        : quantizeWeightsPerChannel(dequantizeWeight(q, n, k), n, k, wMax);
    this.fixed.set(w, impl.pack(weights, n, k));
  }

  private packed(impl: PackedLinearKernels, w: Float32Array, n: number, k: number): PackedLinear {
    const version = weightsVersion(w);
    const e = this.cache.get(w);
    if (e && e.version === version && e.packed.n === n && e.packed.k === k && sameFingerprint(w, e.fingerprint))
      return e.packed;
    const packed = impl.pack(linearWeightsFor(this.dtype, w, n, k, impl.q8WeightMax), n, k);
    this.cache.set(w, { version, fingerprint: fingerprint(w), packed });
    return packed;
  }
}
