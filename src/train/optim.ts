// The optimizers over a model's named parameters: AdamW (torch), Adam (no decay) and BERT's AdamWeightDecay, one update.
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';

export type OptimizerName = 'adamw' | 'adam' | 'bert-adam';

/** A named parameter with its gradient (the model's views into its flat buffers), as model.parameters() returns. */
export interface NamedParameter {
  name: string;
  data: Float32Array;
  grad: Float32Array;
}

export interface OptimizerOptions {
  /** Default 'adamw'. */
  name?: OptimizerName;
  /** Learning rate of `step()` when it is called without one (a schedule passes its own). Default 1e-3 (torch). */
  lr?: number;
  /** (beta1, beta2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Default 1e-8 (1e-6 for bert-adam, as google-research/bert). */
  eps?: number;
  /** Decoupled weight decay, applied only to parameters that `noDecay` does not exempt. Default 0. */
  weightDecay?: number;
  /** Parameters exempt from weight decay, by name. Default: biases and LayerNorm parameters (HF's rule). */
  noDecay?: (name: string) => boolean;
}

/** HF's rule (and BERT's): no weight decay on biases and LayerNorm parameters. */
export function decays(name: string): boolean {
  // LayerNorm, layer_norm, ... and ModernBERT's norm, attn_norm, mlp_norm, final_norm.
  return !(name.endsWith('bias') || /layer_?norm/i.test(name) || /(^|[._])norm\./.test(name));
}

export function isOptimizerName(s: string): s is OptimizerName {
  return s === 'adamw' || s === 'adam' || s === 'bert-adam';
}

/**
 * Adam-family optimizer with the moments in two flat buffers laid out like the parameters, so the whole state is
 * two Float32Arrays and a step counter (what a checkpoint stores). Every variant is the kernels' adamwStep:
 * - adamw: torch.optim.AdamW (decoupled decay, bias correction).
 * - adam: torch.optim.Adam with weight_decay 0 (the seed notebook's Adam); a non-zero decay is refused because
 *   L2-through-the-gradient is not what anyone means by it here.
 * - bert-adam: google-research/bert AdamWeightDecayOptimizer: decoupled decay, no bias correction.
 */
export class AdamW {
  readonly name: OptimizerName;
  readonly lr: number;
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
  private readonly decayed: boolean[] = [];

  constructor(
    readonly params: readonly NamedParameter[],
    opts: OptimizerOptions = {},
    private readonly kernels: Kernels = getKernels(),
  ) {
    this.name = opts.name ?? 'adamw';
    this.lr = opts.lr ?? 1e-3;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    const noDecay = opts.noDecay ?? ((name: string) => !decays(name));
    this.eps = opts.eps ?? (this.name === 'bert-adam' ? 1e-6 : 1e-8);
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.name === 'adam' && this.weightDecay !== 0) {
      throw new Error(`optimizer adam takes no weight decay (got ${this.weightDecay}); use adamw for decoupled decay`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1))
      throw new Error(`${this.name}: betas must be in [0, 1), got ${this.beta1}, ${this.beta2}`);
    if (!(this.eps > 0)) throw new Error(`${this.name}: eps must be > 0, got ${this.eps}`);
    if (!(this.lr >= 0)) throw new Error(`${this.name}: lr must be >= 0, got ${this.lr}`);
    if (!(this.weightDecay >= 0)) throw new Error(`${this.name}: weight decay must be >= 0, got ${this.weightDecay}`);
    let n = 0;
    for (const p of params) {
      if (p.data.length !== p.grad.length)
        throw new Error(`${this.name}: parameter ${p.name} has ${p.data.length} values but ${p.grad.length} gradients`);
      this.offsets.push(n);
      this.decayed.push(!noDecay(p.name));
      n += p.data.length;
    }
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }

  /** One update of every parameter with learning rate lr (default: the `lr` option); gradients already clipped. */
  step(lr: number = this.lr): void {
    if (!(lr >= 0)) throw new Error(`${this.name}: lr must be >= 0, got ${lr}`);
    this.t++;
    const bias = this.name !== 'bert-adam';
    const bc1 = bias ? 1 - Math.pow(this.beta1, this.t) : 1;
    const bc2 = bias ? 1 - Math.pow(this.beta2, this.t) : 1;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      const o = this.offsets[i]!;
      const n = p.data.length;
      const wd = this.decayed[i] ? this.weightDecay : 0;
      this.kernels.adamwStep(
        p.data,
        p.grad,
        this.m.subarray(o, o + n),
        this.v.subarray(o, o + n),
        n,
        lr,
        this.beta1,
        this.beta2,
        this.eps,
        wd,
        bc1,
        bc2,
      );
    }
  }

  /** Restores moments and step count (from a checkpoint). */
  load(state: { m: Float32Array; v: Float32Array; t: number }): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new Error(
        `optimizer state has ${state.m.length} moments, the model has ${this.m.length} parameters: checkpoint of another model`,
      );
    }
    this.m.set(state.m);
    this.v.set(state.v);
    this.t = state.t;
  }
}
