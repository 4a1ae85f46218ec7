// AdamW with torch semantics over a model's named parameters; moments in two flat buffers laid out like the parameters.
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';

/** A named parameter and its gradient (views into the model's flat buffers), as model.parameters() returns. */
export interface OptimizableParameter {
  name: string;
  data: Float32Array;
  grad: Float32Array;
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Which parameters get no weight decay: a predicate, or name substrings. Default: HF's rule, names ending in
   * "bias" and LayerNorm parameters. Pass `() => false` for torch's plain AdamW (decay everywhere).
   */
  noDecay?: ((name: string) => boolean) | string[];
  /** Default true (torch). */
  biasCorrection?: boolean;
  kernels?: Kernels;
}

/** HF's no-decay rule: biases and LayerNorm weights. */
export function hfNoDecay(name: string): boolean {
  return name.endsWith('bias') || name.includes('LayerNorm');
}

export class AdamW {
  /** Learning rate of the next step (set it from a schedule before step()). */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly biasCorrection: boolean;
  /** Moments, concatenated in parameter order. */
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Steps taken so far. */
  stepCount = 0;
  private readonly offsets: number[] = [];
  private readonly decayed: boolean[] = [];
  private readonly kernels: Kernels;

  constructor(readonly params: readonly OptimizableParameter[], options: AdamWOptions) {
    if (!(options.lr >= 0)) throw new Error(`AdamW: lr must be >= 0, found ${options.lr}`);
    this.lr = options.lr;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.biasCorrection = options.biasCorrection ?? true;
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) throw new Error(`AdamW: betas must be in [0, 1), found ${this.beta1}, ${this.beta2}`);
    if (!(this.eps >= 0)) throw new Error(`AdamW: eps must be >= 0, found ${this.eps}`);
    this.kernels = options.kernels ?? getKernels();
    const nd = options.noDecay;
    const noDecay = nd === undefined ? hfNoDecay : typeof nd === 'function' ? nd : (name: string) => nd.some((s) => name.includes(s));
    let n = 0;
    for (const p of params) {
      if (p.data.length !== p.grad.length) throw new Error(`AdamW: parameter ${p.name} has ${p.data.length} values but ${p.grad.length} gradients`);
      this.offsets.push(n);
      this.decayed.push(!noDecay(p.name));
      n += p.data.length;
    }
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }

  /** One update of every parameter from its current gradient. */
  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = this.biasCorrection ? 1 - Math.pow(this.beta1, t) : 1;
    const bc2 = this.biasCorrection ? 1 - Math.pow(this.beta2, t) : 1;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!, o = this.offsets[i]!, n = p.data.length;
      this.kernels.adamwStep(
        p.data, p.grad, this.m.subarray(o, o + n), this.v.subarray(o, o + n), n,
        this.lr, this.beta1, this.beta2, this.eps, this.decayed[i] ? this.weightDecay : 0, bc1, bc2,
      );
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad.fill(0);
  }
}
