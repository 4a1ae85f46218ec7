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
