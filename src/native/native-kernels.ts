// The Kernels interface over the native addon: a thin argument adapter, the math lives in native/src.
import { markWeightsChanged } from '../tensor/kernels.js';
import type {
  Activation,
  DropoutSpec,
  Kernels,
  LinearDtype,
  PackedLinear,
  PackedLinearKernels,
} from '../tensor/kernels.js';
import type { NativeAddon } from './addon.js';

const ACTIVATION_CODES: Record<Activation, number> = {
  gelu: 0,
  gelu_new: 1,
  gelu_fast: 2,
  quick_gelu: 3,
  relu: 4,
  silu: 5,
  tanh: 6,
  identity: 7,
};

export function actCode(act: Activation): number {
  const code = ACTIVATION_CODES[act];
  if (code === undefined) throw new RangeError(`native kernels: unsupported activation '${String(act)}'`);
  return code;
}

/** A dropout spec as the addon's (p, seed, firstExample); no dropout is p = 0. */
export function dropoutNumbers(dropout: DropoutSpec | null): [number, number, number] {
  return dropout ? [dropout.p, dropout.seed | 0, dropout.firstExample | 0] : [0, 0, 0];
}

/** A contract call's trailing dropout spec as the addon's (p, seed, firstExample). */
function dropoutAsNumbers<A extends unknown[]>(args: [...A, DropoutSpec | null]): [...A, number, number, number] {
  return [...(args.slice(0, -1) as A), ...dropoutNumbers(args[args.length - 1] as DropoutSpec | null)];
}

const PACK_KINDS: Record<LinearDtype, number> = { fp32: 0, q8: 1, bf16: 2 };

interface NativePacked extends PackedLinear {
  readonly handle: object;
}

/** The addon's packed linear layers (oneDNN matmul primitives over weights reordered once). */
function nativePackedLinear(addon: NativeAddon): PackedLinearKernels {
  // Probing creates a small primitive per dtype: done on first use, not whenever the kernels are created.
  let probed: ReturnType<NativeAddon['packedSupport']> | null = null;
  const support = (): ReturnType<NativeAddon['packedSupport']> => (probed ??= addon.packedSupport());
  return {
    unsupported: (dtype) => support()[dtype],
    get q8WeightMax() {
      return support().q8WeightMax;
    },
    pack(weights, n, k) {
      const wMax = support().q8WeightMax;
      const scales = weights.dtype === 'q8' ? weights.scales : null;
      if (weights.dtype === 'q8') {
        for (let i = 0; i < n * k; i++) {
          const v = weights.data[i]!;
          if (v > wMax || v < -wMax)
            throw new RangeError(
              `pack: int8 weight ${v} at ${i} exceeds ${wMax}, what this CPU's int8 GEMM adds up exactly (quantize with wMax = q8WeightMax)`,
            );
        }
      }
      const packed: NativePacked = {
        dtype: weights.dtype,
        n,
        k,
        handle: addon.packLinear(PACK_KINDS[weights.dtype], weights.data, scales, n, k),
      };
      return packed;
    },
    forward(x, packed, bias, y, m, activation) {
      const handle = (packed as NativePacked).handle;
      if (!handle) throw new TypeError('native packedLinear.forward: the weight was not packed by the native kernels');
      addon.packedLinearForward(handle, x, bias, y, m, activation ? actCode(activation) : -1);
    },
  };
}

/** Kernels backed by the addon; `name` says which GEMM library it was built with. */
export function createNativeKernels(addon: NativeAddon): Kernels {
  const info = addon.info();
  return {
    name: `native (${info.library})`,
    gemm: addon.gemm,
    linearForward(x, w, bias, y, m, n, k, activation) {
      addon.linearForward(x, w, bias, y, m, n, k, activation ? actCode(activation) : -1);
    },
    linearBackward: addon.linearBackward,
    activationForward(act, x, y, n) {
      addon.activationForward(actCode(act), x, y, n);
    },
    activationBackward(act, x, dy, dx, n) {
      addon.activationBackward(actCode(act), x, dy, dx, n);
    },
    layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps, residual) {
      addon.layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps, residual ?? null);
    },
    layerNormBackward: addon.layerNormBackward,
    attentionForward: (...args) => addon.attentionForward(...dropoutAsNumbers(args)),
    attentionBackward: (...args) => addon.attentionBackward(...dropoutAsNumbers(args)),
    add: addon.add,
    embeddingForward: addon.embeddingForward,
    embeddingBackward: addon.embeddingBackward,
    dropoutForward(x, y, n, exampleSize, dropout) {
      addon.dropout(x, y, n, exampleSize, ...dropoutNumbers(dropout));
    },
    dropoutBackward(dy, dx, n, exampleSize, dropout) {
      addon.dropout(dy, dx, n, exampleSize, ...dropoutNumbers(dropout));
    },
    softmaxCrossEntropy: addon.softmaxCrossEntropy,
    adamwStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2) {
      addon.adamwStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
      markWeightsChanged(params); // packed copies of these parameters are stale now
    },
    sumSquares: addon.sumSquares,
    scale: addon.scale,
    packedLinear: nativePackedLinear(addon),
  };
}
