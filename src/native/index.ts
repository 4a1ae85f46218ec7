// Backend selection: getKernels() returns the Kernels the model uses (stub: the js kernels until the native addon lands).
import type { Kernels } from '../tensor/kernels.js';
import { jsKernels } from '../tensor/js-kernels.js';

/** The Kernels implementation selected for this process (BERT_BACKEND=js|native once the native backend exists). */
export function getKernels(): Kernels {
  return jsKernels;
}
