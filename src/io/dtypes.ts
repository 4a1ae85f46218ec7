// Element types of checkpoint files and their conversion to the typed arrays bert-ts computes with.

/** Element types bert-ts reads and writes (safetensors names; torch storages map onto them). */
export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Typed arrays a tensor's data may arrive in. Float dtypes are always decoded to Float32Array. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * One tensor read from a checkpoint: `dtype` is the type stored in the file, `data` the decoded values in
 * row-major order (length = product of `shape`):
 * F32 / F16 / BF16 / F64 → Float32Array (F16 and BF16 upcast exactly; F64 rounded to float32),
 * I64 → BigInt64Array (see {@link toInt32Array}), I32 → Int32Array, I16 → Int16Array, I8 → Int8Array,
 * U8 and BOOL → Uint8Array.
 */
export interface TensorEntry {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export const KNOWN_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, value);
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

/** Product of a shape's dimensions (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the byte order of each `width`-byte element in place (only needed on big-endian hosts). */
function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Interpret little-endian file bytes in place as host-order elements of `width` bytes. */
export function fromLittleEndian(bytes: Uint8Array, width: number): void {
  if (!LITTLE_ENDIAN && width > 1) swapBytes(bytes, width);
}

let halfTable: Float32Array | undefined;

/** The float32 value of every IEEE half bit pattern (exact: every half is representable in float32). */
function getHalfTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = sign * mant * 2 ** -24;
    else if (exp === 31) v = mant === 0 ? sign * Infinity : NaN;
    else v = sign * (1 + mant / 1024) * 2 ** (exp - 15);
    table[h] = v;
  }
  // Keep NaN payloads bit-exact (the arithmetic above would canonicalise them).
  const bits = new Uint32Array(table.buffer);
  for (let h = 0x7c01; h < 0x8000; h++) bits[h] = 0x7f800000 | ((h & 0x3ff) << 13);
  for (let h = 0xfc01; h <= 0xffff; h++) bits[h] = 0xff800000 | ((h & 0x3ff) << 13);
  halfTable = table;
  return table;
}

/** Decode IEEE binary16 bit patterns to float32 (exact). */
export function halfToFloat32(half: Uint16Array, out: Float32Array = new Float32Array(half.length)): Float32Array {
  const table = getHalfTable();
  for (let i = 0; i < half.length; i++) out[i] = table[half[i]!]!;
  return out;
}

/** Decode bfloat16 bit patterns to float32 (exact: bf16 is the top half of a float32). */
export function bfloat16ToFloat32(bf: Uint16Array, out: Float32Array = new Float32Array(bf.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bf.length; i++) bits[i] = bf[i]! << 16;
  return out;
}

/** out[i] = toBits(the float32 bit pattern of src[i]): the loop of the float32 → 16-bit conversions. */
function fromFloat32Bits(
  src: Float32Array | Float64Array,
  out: Uint16Array,
  toBits: (x: number) => number,
): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i]!;
    out[i] = toBits(u[0]!);
  }
  return out;
}

/** IEEE binary16 bits of float32 bits `x`, rounded to nearest even. */
function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  // Inf stays Inf; NaN keeps its top payload bits and stays a (quiet) NaN.
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand, round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: correct, up to Inf
  return sign | h;
}

/** bfloat16 bits of float32 bits `x`, rounded to nearest even (NaN stays NaN). */
function bfloat16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Round float32 values to IEEE binary16 bit patterns, to nearest even, as torch's `.half()` does. */
export function float32ToHalf(
  src: Float32Array | Float64Array,
  out: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  return fromFloat32Bits(src, out, halfBits);
}

/** Round float32 values to bfloat16 bit patterns, to nearest even (NaN stays NaN), as torch does. */
export function float32ToBfloat16(
  src: Float32Array | Float64Array,
  out: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  return fromFloat32Bits(src, out, bfloat16Bits);
}

/**
 * Integer ids as Int32Array (what embedding lookups take). I64 values outside the int32 range are an error
 * naming `what`, never silently wrapped.
 */
export function toInt32Array(entry: Pick<TensorEntry, 'dtype' | 'data'>, what = 'tensor'): Int32Array {
  const data = entry.data;
  if (data instanceof Int32Array) return data;
  if (data instanceof BigInt64Array) {
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < -2147483648n || v > 2147483647n) {
        throw new RangeError(`${what}: value ${v} at index ${i} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  if (data instanceof Int16Array || data instanceof Int8Array || data instanceof Uint8Array)
    return Int32Array.from(data);
  throw new TypeError(`${what}: dtype ${entry.dtype} is not an integer type`);
}
