// The Kernels interface over the native addon: a thin argument adapter, the math lives in native/src.
import type { Activation, DropoutSpec, Kernels } from '../tensor/kernels.js';
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

function actCode(act: Activation): number {
  const code = ACTIVATION_CODES[act];
  if (code === undefined) throw new RangeError(`native kernels: unsupported activation '${String(act)}'`);
  return code;
}

/** A contract call's trailing dropout spec as the addon's (p, seed); no dropout is p = 0. */
function dropoutAsNumbers<A extends unknown[]>(args: [...A, DropoutSpec | null]): [...A, number, number] {
  const dropout = args[args.length - 1] as DropoutSpec | null;
  return [...(args.slice(0, -1) as A), dropout ? dropout.p : 0, dropout ? dropout.seed | 0 : 0];
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
    dropoutForward(x, y, n, dropout) {
      addon.dropout(x, y, n, dropout.p, dropout.seed | 0);
    },
    dropoutBackward(dy, dx, n, dropout) {
      addon.dropout(dy, dx, n, dropout.p, dropout.seed | 0);
    },
    softmaxCrossEntropy: addon.softmaxCrossEntropy,
    adamwStep: addon.adamwStep,
    sumSquares: addon.sumSquares,
    scale: addon.scale,
  };
}
