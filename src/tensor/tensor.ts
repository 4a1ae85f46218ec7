// The Tensor value the model returns: a shape and a row-major Float32Array, nothing more.

/** A dense float32 tensor: `data.length` equals the product of `shape`. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Number of elements of a shape (1 for a scalar shape []). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Wraps data in a Tensor after checking that the shape matches its length. */
export function tensor(data: Float32Array, shape: number[]): Tensor {
  if (shapeSize(shape) !== data.length) {
    throw new Error(
      `tensor: shape [${shape.join(', ')}] holds ${shapeSize(shape)} elements but the data has ${data.length}`,
    );
  }
  return { shape, data };
}

/**
 * The shape of a tensor whose rank the caller knows (a model output), as a tuple to destructure; another rank is
 * a bug in the caller or the model, reported with the shape rather than read as undefined dimensions.
 */
export function dimsOf(t: Tensor, rank: 2): [number, number];
export function dimsOf(t: Tensor, rank: 3): [number, number, number];
export function dimsOf(t: Tensor, rank: 4): [number, number, number, number];
export function dimsOf(t: Tensor, rank: number): readonly number[] {
  if (t.shape.length !== rank)
    throw new RangeError(`expected a tensor of rank ${rank}, got one of shape [${t.shape.join(', ')}]`);
  return t.shape;
}
