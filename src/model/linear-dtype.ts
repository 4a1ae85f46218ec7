// The linear layers of a model in its dtype (fp32 | q8 | bf16): weights packed or quantized once per version.
import { weightsVersion } from '../tensor/kernels.js';
import { InputError } from './errors.js';
import type { Kernels, LinearDtype, LinearSizes, PackedLinear, PackedLinearKernels } from '../tensor/kernels.js';
import { jsPackedLinear, linearWeightsFor } from '../tensor/quant-kernels.js';

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
 * fp32 weights are packed only for products of at most this many rows, in inference forwards: there the sgemm's
 * own repacking of the weight on every call is a large share of the time (BERT-base linears at 128 rows: 1.0-2.0x
 * faster packed, busy machine), while at thousands of rows it is amortised and the packed copy (4 bytes per weight)
 * buys little.
 */
export const FP32_PACK_MAX_ROWS = 512;

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
 * computes in that dtype; backward, when asked for, uses the fp32 master weights); fp32 uses packed weights where
 * they pay (see FP32_PACK_MAX_ROWS) and the plain kernel elsewhere. Packed copies are made on first use and
 * rebuilt when the weights' version (bumped by the optimizer's adamwStep) or their fingerprint changed.
 */
export class ModelLinears {
  private readonly impl: PackedLinearKernels | null;
  private readonly cache = new WeakMap<Float32Array, Entry>();

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
    if (impl && m > 0 && (this.dtype !== 'fp32' || (inference && m <= FP32_PACK_MAX_ROWS))) {
      impl.forward(x, this.packed(impl, w, n, k), bias, y, m, activation);
    } else {
      this.kernels.linearForward(x, w, bias, y, m, n, k, activation);
    }
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
