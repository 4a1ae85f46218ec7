// sentence-transformers' Dense module (base/modules/dense.py): y = act(x @ W^T + b), forward and backward side by
// side; its weights are `linear.weight` [out, in] and `linear.bias` [out] in the module folder.
import type { Activation, Kernels } from '../../tensor/kernels.js';

/** Dense activations by the torch class name sentence-transformers records (`fullname(activation_function)`). */
const TORCH_ACTIVATIONS: Record<string, DenseActivation> = {
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.ReLU': 'relu',
  'torch.nn.modules.activation.GELU': 'gelu',
  'torch.nn.modules.activation.SiLU': 'silu',
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
};

export type DenseActivation = Extract<Activation, 'tanh' | 'identity' | 'relu' | 'gelu' | 'silu'> | 'sigmoid';

/** The activation of a torch class path; undefined when this library does not implement it. */
export function denseActivation(torchName: string): DenseActivation | undefined {
  return TORCH_ACTIVATIONS[torchName];
}

export const DENSE_ACTIVATION_NAMES = Object.keys(TORCH_ACTIVATIONS);

/** One Dense layer over a [rows, in] batch; weight/bias/gradients are views the caller owns (a parameter store). */
export class DenseLayer {
  private x = new Float32Array(0);
  private pre = new Float32Array(0);
  private y = new Float32Array(0);
  private rows = 0;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly activation: DenseActivation,
    readonly weight: Float32Array,
    readonly bias: Float32Array | null,
    private readonly kernels: Kernels,
  ) {}

  /** y [rows, out]; keeps x and the pre-activation for backward. */
  forward(x: Float32Array, rows: number): Float32Array {
    const n = rows * this.outFeatures;
    this.x = x.slice(0, rows * this.inFeatures);
    this.pre = new Float32Array(n);
    this.kernels.linearForward(this.x, this.weight, this.bias, this.pre, rows, this.outFeatures, this.inFeatures);
    const y = new Float32Array(n);
    if (this.activation === 'sigmoid') for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-this.pre[i]!));
    else this.kernels.activationForward(this.activation, this.pre, y, n);
    this.y = y;
    this.rows = rows;
    return y;
  }

  /**
   * Reads dy [rows, out] and what forward kept; adds into dWeight / dBias (+=); returns a new d(x) [rows, in].
   */
  backward(dy: Float32Array, dWeight: Float32Array, dBias: Float32Array | null): Float32Array {
    const rows = this.rows,
      n = rows * this.outFeatures;
    const dPre = new Float32Array(n);
    if (this.activation === 'sigmoid') {
      for (let i = 0; i < n; i++) dPre[i] = dy[i]! * this.y[i]! * (1 - this.y[i]!);
    } else this.kernels.activationBackward(this.activation, this.pre, dy, dPre, n);
    const dx = new Float32Array(rows * this.inFeatures);
    this.kernels.linearBackward(dPre, this.x, this.weight, dx, dWeight, dBias, rows, this.outFeatures, this.inFeatures);
    return dx;
  }
}
