// The fine-tuning optimizers over a model's named parameters: AdamW (torch), Adam (no decay) and BERT's AdamWeightDecay.
import type { Kernels } from '../tensor/kernels.js';

export type OptimizerName = 'adamw' | 'adam' | 'bert-adam';

/** A named parameter with its gradient (the model's views into its flat buffers). */
export interface NamedParameter {
  name: string;
  data: Float32Array;
  grad: Float32Array;
}

export interface OptimizerOptions {
  name: OptimizerName;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** HF's rule (and BERT's): no weight decay on biases and LayerNorm parameters. */
export function decays(name: string): boolean {
  return !(name.endsWith('.bias') || /LayerNorm\.(weight|gamma|beta)$/.test(name) || /layer_?norm/i.test(name));
}

/**
 * Adam-family optimizer with the moments in two flat buffers laid out like the parameters, so the whole state is
 * two Float32Arrays and a step counter (what a checkpoint stores).
 * - adamw: torch.optim.AdamW (decoupled decay, bias correction).
 * - adam: torch.optim.Adam with weight_decay 0 (the seed notebook's Adam); a non-zero decay is refused because
 *   L2-through-the-gradient is not what anyone means by it here.
 * - bert-adam: google-research/bert AdamWeightDecayOptimizer: decoupled decay, no bias correction.
 */
export class AdamFamily {
  readonly name: OptimizerName;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** First and second moments, concatenated in parameter order. */
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Number of updates applied so far. */
  t = 0;
  private readonly offsets: number[] = [];

  constructor(readonly params: readonly NamedParameter[], opts: OptimizerOptions, private readonly kernels: Kernels) {
    this.name = opts.name;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? (opts.name === 'bert-adam' ? 1e-6 : 1e-8);
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.name === 'adam' && this.weightDecay !== 0) {
      throw new Error(`--optimizer adam takes no weight decay (got ${this.weightDecay}); use adamw for decoupled decay`);
    }
    if (!(this.eps > 0)) throw new Error(`--adam-eps must be > 0, got ${this.eps}`);
    let n = 0;
    for (const p of params) {
      this.offsets.push(n);
      n += p.data.length;
    }
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }

  /** One update of every parameter with learning rate lr (gradients already clipped / averaged). */
  step(lr: number): void {
    this.t++;
    const bias = this.name !== 'bert-adam';
    const bc1 = bias ? 1 - Math.pow(this.beta1, this.t) : 1;
    const bc2 = bias ? 1 - Math.pow(this.beta2, this.t) : 1;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      const o = this.offsets[i]!;
      const n = p.data.length;
      const wd = decays(p.name) ? this.weightDecay : 0;
      this.kernels.adamwStep(p.data, p.grad, this.m.subarray(o, o + n), this.v.subarray(o, o + n), n, lr, this.beta1, this.beta2, this.eps, wd, bc1, bc2);
    }
  }

  /** Restores moments and step count (from a checkpoint). */
  load(state: { m: Float32Array; v: Float32Array; t: number }): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new Error(`optimizer state has ${state.m.length} moments, the model has ${this.m.length} parameters: checkpoint of another model`);
    }
    this.m.set(state.m);
    this.v.set(state.v);
    this.t = state.t;
  }
}

/**
 * Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): scales all gradients by maxNorm / (norm + 1e-6)
 * when the norm exceeds maxNorm. Returns the norm before clipping (NaN/Inf pass through so the caller can stop).
 */
export function clipGradNorm(params: readonly NamedParameter[], maxNorm: number, kernels: Kernels): number {
  let sq = 0;
  for (const p of params) sq += kernels.sumSquares(p.grad, p.grad.length);
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const p of params) kernels.scale(p.grad, p.grad.length, coef);
  }
  return norm;
}

export function isOptimizerName(s: string): s is OptimizerName {
  return s === 'adamw' || s === 'adam' || s === 'bert-adam';
}
