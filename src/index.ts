// bert-ts public API.
export type { Kernels, Activation, DropoutSpec } from './tensor/kernels.js';
