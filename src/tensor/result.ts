// ResultTensor: the tensor value handed to users, shaped as transformers.js's Tensor ({type, data, dims, size},
// tolist()), and readable as a model input ({data, shape}).

export type ResultTensorType = 'float32' | 'int64';

type DataOf<T extends ResultTensorType> = T extends 'float32' ? Float32Array : BigInt64Array;
type ScalarOf<T extends ResultTensorType> = T extends 'float32' ? number : bigint;

/** Nested arrays of a tensor's values, one level per dimension. */
export type NestedList<S> = S | NestedList<S>[];

/**
 * A dense row-major tensor as transformers.js returns it: `type` ('float32' or 'int64'), `data` (a Float32Array or
 * BigInt64Array), `dims`, `size`, and `tolist()`. `shape` (= dims) lets it go straight back into a model call.
 */
export class ResultTensor<T extends ResultTensorType = ResultTensorType> {
  readonly type: T;
  readonly data: DataOf<T>;
  readonly dims: number[];

  constructor(type: T, data: DataOf<T>, dims: readonly number[]) {
    const size = dims.reduce((a, b) => a * b, 1);
    if (!dims.every((d) => Number.isInteger(d) && d >= 0) || size !== data.length) {
      throw new RangeError(
        `ResultTensor: dims [${dims.join(', ')}] hold ${size} values but the data has ${data.length}`,
      );
    }
    this.type = type;
    this.data = data;
    this.dims = [...dims];
  }

  /** Number of values (the product of dims). */
  get size(): number {
    return this.data.length;
  }

  /** The dims, under the name the model inputs use. */
  get shape(): number[] {
    return this.dims;
  }

  /** The values as nested arrays (numbers for float32, bigints for int64, as transformers.js). */
  tolist(): NestedList<ScalarOf<T>> {
    const data = this.data as unknown as ArrayLike<ScalarOf<T>>;
    const build = (depth: number, offset: number): NestedList<ScalarOf<T>> => {
      if (depth === this.dims.length) return data[offset]!;
      const n = this.dims[depth]!;
      let stride = 1;
      for (let d = depth + 1; d < this.dims.length; d++) stride *= this.dims[d]!;
      const out: NestedList<ScalarOf<T>>[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(depth + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }
}
