// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (norm type 2).
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';

/**
 * Scales every gradient by maxNorm / (norm + 1e-6) when that is below 1 (torch's rule) and returns the total norm
 * before clipping. A non-finite norm is returned untouched so the caller can skip the step.
 */
export function clipGradNorm(
  params: readonly { grad: Float32Array }[],
  maxNorm: number,
  kernels: Kernels = getKernels(),
): number {
  let sq = 0;
  for (const p of params) sq += kernels.sumSquares(p.grad, p.grad.length);
  const norm = Math.sqrt(sq);
  if (Number.isFinite(norm) && maxNorm > 0) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const p of params) kernels.scale(p.grad, p.grad.length, coef);
  }
  return norm;
}
