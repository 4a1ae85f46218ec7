// The safetensors format (HuggingFace): validated reading (eager and lazy) and byte-exact writing.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header (padded with spaces to a multiple
// of 8), then the data section. The header maps tensor names to {dtype, shape, data_offsets:[begin,end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map. The reference
// implementation (huggingface/safetensors, Rust) requires the tensors to cover the data section exactly,
// without gaps or overlaps; we check the same before touching any tensor byte.
import { CheckpointFormatError } from './errors.js';
import {
  DTYPE_SIZE,
  KNOWN_DTYPES,
  bfloat16ToFloat32,
  float32ToBfloat16,
  float32ToHalf,
  fromLittleEndian,
  halfToFloat32,
  isDType,
  type DType,
  type TensorData,
  type TensorEntry,
} from './dtypes.js';
import { bufferSource, openFileSource, type ByteSource, type FileIdentity } from './source.js';
import { writeFileAtomic } from './files.js';

/** Largest header accepted, as in the Rust implementation (MAX_HEADER_SIZE = 100 MB). */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

/** Where one tensor lives in the file. */
export interface SafetensorsTensorInfo {
  dtype: DType;
  shape: number[];
  /** Byte range inside the data section, as in the header. */
  dataOffsets: [number, number];
}

/** What {@link readSafetensors} returns. */
export interface SafetensorsContent {
  /** Tensors in file (data offset) order. */
  tensors: Map<string, TensorEntry>;
  /** The header's `__metadata__` (e.g. `{ format: 'pt' }`), empty when absent. */
  metadata: Record<string, string>;
  /** The version of the file that was read (absent for bytes in memory). */
  identity?: FileIdentity;
}

/**
 * A safetensors file whose header has been validated; tensor data is read on demand with {@link read}.
 * Call {@link close} when done (readAll does not close).
 */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  /** Header entries in file (data offset) order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Read and decode one tensor (see {@link TensorEntry} for the array type per dtype). */
  read(name: string): TensorEntry;
  /** Read every tensor. */
  readAll(): Map<string, TensorEntry>;
  close(): void;
}

/** A tensor to write. Float dtypes take Float32Array (or Float64Array) values and are rounded to the dtype. */
export interface WritableTensor {
  dtype: DType;
  shape: readonly number[];
  data: TensorData;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Parse and validate the header of `source`; throws CheckpointFormatError naming the problem. */
function parseHeader(source: ByteSource): {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensorInfo>;
  dataStart: number;
} {
  const file = source.name;
  const fail = (problem: string): never => {
    throw new CheckpointFormatError(file, `not a valid safetensors file: ${problem}`);
  };
  if (source.size < 8) fail(`the file is ${source.size} bytes, too short for the 8-byte header length`);
  const lenBytes = new Uint8Array(8);
  source.readInto(lenBytes, 0);
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(source.size - 8)) {
    fail(
      `header length ${headerLen} is beyond the end of the file (${source.size} bytes; truncated or not safetensors?)`,
    );
  }
  if (headerLen > BigInt(MAX_SAFETENSORS_HEADER)) {
    fail(`header length ${headerLen} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit`);
  }
  const n = Number(headerLen);
  if (n < 2) fail(`header length ${n} is too small to hold a JSON object`);
  const headerBytes = new Uint8Array(n);
  source.readInto(headerBytes, 8);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header does not start with '{' (starts with ${describe(text.slice(0, 20))})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header JSON is not an object');

  const metadata: Record<string, string> = {};
  const infos: Array<[string, SafetensorsTensorInfo]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('"__metadata__" is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" value of ${describe(k)} is not a string: ${describe(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor ${describe(name)}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) {
      fail(`${where}: unknown or unsupported dtype ${describe(dtype)} (supported: ${KNOWN_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`${where}: shape ${describe(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      fail(`${where}: data_offsets ${describe(offsets)} is not a pair [begin, end] of integers with begin <= end`);
    }
    const dims = shape as number[];
    let bytes = DTYPE_SIZE[dtype as DType];
    for (const d of dims) {
      bytes *= d;
      if (!Number.isSafeInteger(bytes)) fail(`${where}: shape ${describe(shape)} is too large`);
    }
    const [begin, end] = offsets as [number, number];
    if (end - begin !== bytes) {
      fail(
        `${where}: shape ${describe(shape)} × ${dtype} (${DTYPE_SIZE[dtype as DType]} bytes) needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    infos.push([name, { dtype: dtype as DType, shape: [...dims], dataOffsets: [begin, end] }]);
  }

  const dataStart = 8 + n;
  const dataLen = source.size - dataStart;
  for (const [name, info] of infos) {
    if (info.dataOffsets[1] > dataLen) {
      fail(
        `tensor ${describe(name)}: data_offsets [${info.dataOffsets[0]}, ${info.dataOffsets[1]}] are outside the data section of ${dataLen} bytes (file truncated?)`,
      );
    }
  }
  infos.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let covered = 0;
  let previous = '(start of data)';
  for (const [name, info] of infos) {
    const [begin, end] = info.dataOffsets;
    if (begin < covered)
      fail(`tensor ${describe(name)}: data_offsets [${begin}, ${end}] overlap tensor ${describe(previous)}`);
    if (begin > covered)
      fail(`gap of ${begin - covered} bytes in the data section before tensor ${describe(name)} (offset ${covered})`);
    covered = end;
    previous = name;
  }
  if (covered !== dataLen) {
    fail(
      `the tensors cover ${covered} bytes but the data section has ${dataLen} (${dataLen - covered} trailing bytes)`,
    );
  }
  return { metadata, tensors: new Map(infos), dataStart };
}

/** Read one tensor's bytes from `source` and decode them to the array type of its dtype. */
function readTensor(source: ByteSource, dataStart: number, info: SafetensorsTensorInfo): TensorEntry {
  const [begin, end] = info.dataOffsets;
  const count = (end - begin) / DTYPE_SIZE[info.dtype];
  const position = dataStart + begin;
  const fill = <T extends TensorData | Uint16Array>(array: T, width: number): T => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    source.readInto(bytes, position);
    fromLittleEndian(bytes, width);
    return array;
  };
  let data: TensorData;
  switch (info.dtype) {
    case 'F32':
      data = fill(new Float32Array(count), 4);
      break;
    case 'F16':
      data = halfToFloat32(fill(new Uint16Array(count), 2));
      break;
    case 'BF16':
      data = bfloat16ToFloat32(fill(new Uint16Array(count), 2));
      break;
    case 'F64':
      data = Float32Array.from(fill(new Float64Array(count), 8));
      break;
    case 'I64':
      data = fill(new BigInt64Array(count), 8);
      break;
    case 'I32':
      data = fill(new Int32Array(count), 4);
      break;
    case 'I16':
      data = fill(new Int16Array(count), 2);
      break;
    case 'I8':
      data = fill(new Int8Array(count), 1);
      break;
    case 'U8':
    case 'BOOL':
      data = fill(new Uint8Array(count), 1);
      break;
  }
  return { dtype: info.dtype, shape: [...info.shape], data };
}

/** Validate the header of an opened source and return a lazy reader over it (it takes ownership of the source). */
export function parseSafetensors(source: ByteSource): SafetensorsFile {
  let header: ReturnType<typeof parseHeader>;
  try {
    header = parseHeader(source);
  } catch (err) {
    source.close();
    throw err;
  }
  const { metadata, tensors, dataStart } = header;
  return {
    path: source.name,
    metadata,
    tensors,
    read(name: string): TensorEntry {
      const info = tensors.get(name);
      if (!info) throw new Error(`${source.name}: no tensor named ${describe(name)}`);
      return readTensor(source, dataStart, info);
    },
    readAll(): Map<string, TensorEntry> {
      const out = new Map<string, TensorEntry>();
      for (const [name, info] of tensors) out.set(name, readTensor(source, dataStart, info));
      return out;
    },
    close(): void {
      source.close();
    },
  };
}

/**
 * Open a safetensors file lazily: the header is read and fully validated now (bounded: at most
 * {@link MAX_SAFETENSORS_HEADER} bytes), tensor data only when asked. Close it when done.
 */
export function openSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(openFileSource(path));
}

/**
 * Read a whole safetensors file. The header is validated before any tensor is trusted (length within the file
 * and bounded, UTF-8 JSON object, known dtypes, shape × dtype size = byte range, every range inside the data
 * section, no overlap, no gap, nothing trailing); each tensor's bytes are read from the file straight into its
 * own array (F32 needs no further copy), so a 440 MB checkpoint costs 440 MB. Errors are CheckpointFormatError
 * naming the file and the problem.
 */
export function readSafetensors(path: string): SafetensorsContent {
  const source = openFileSource(path);
  const file = parseSafetensors(source);
  try {
    const tensors = file.readAll();
    source.checkUnchanged();
    return { tensors, metadata: { ...file.metadata }, identity: source.identity };
  } finally {
    file.close();
  }
}

/** {@link readSafetensors} over bytes already in memory (`name` is used in error messages). */
export function readSafetensorsBuffer(bytes: Uint8Array, name = '<buffer>'): SafetensorsContent {
  const file = parseSafetensors(bufferSource(bytes, name));
  return { tensors: file.readAll(), metadata: { ...file.metadata } };
}

// Rust's `Dtype` enum order (huggingface/safetensors); `prepare` sorts tensors by it, descending, then by name.
const RUST_DTYPE_ORDER: readonly DType[] = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'];

function checkWritable(name: string, tensor: WritableTensor): number {
  const where = `writeSafetensors: tensor ${describe(name)}`;
  if (name === '__metadata__' || name.length === 0) throw new Error(`${where}: invalid tensor name`);
  if (!isDType(tensor.dtype))
    throw new Error(`${where}: unknown dtype ${describe(tensor.dtype)} (supported: ${KNOWN_DTYPES.join(', ')})`);
  let count = 1;
  for (const d of tensor.shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new Error(`${where}: shape ${describe(tensor.shape)} is not a list of non-negative integers`);
    count *= d;
  }
  if (tensor.data.length !== count) {
    throw new Error(
      `${where}: shape ${describe(tensor.shape)} has ${count} elements but data has ${tensor.data.length}`,
    );
  }
  const d = tensor.data;
  const ok = (() => {
    switch (tensor.dtype) {
      case 'F32':
      case 'F16':
      case 'BF16':
      case 'F64':
        return d instanceof Float32Array || d instanceof Float64Array;
      case 'I64':
        return d instanceof BigInt64Array || d instanceof Int32Array;
      case 'I32':
        return d instanceof Int32Array;
      case 'I16':
        return d instanceof Int16Array;
      case 'I8':
        return d instanceof Int8Array;
      case 'U8':
      case 'BOOL':
        return d instanceof Uint8Array;
    }
  })();
  if (!ok) throw new Error(`${where}: ${d.constructor.name} cannot be written as ${tensor.dtype}`);
  return count * DTYPE_SIZE[tensor.dtype];
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of a typed array in little-endian order (a view when the host is little-endian). */
function littleEndianBytes(array: TensorData | Uint16Array, width: number): Uint8Array {
  const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  if (HOST_LITTLE_ENDIAN || width === 1) return view;
  const copy = view.slice();
  fromLittleEndian(copy, width); // the swap is its own inverse
  return copy;
}

function encodeData(tensor: WritableTensor): Uint8Array {
  const d = tensor.data;
  switch (tensor.dtype) {
    case 'F32':
      return littleEndianBytes(d instanceof Float32Array ? d : Float32Array.from(d as Float64Array), 4);
    case 'F64':
      return littleEndianBytes(d instanceof Float64Array ? d : Float64Array.from(d as Float32Array), 8);
    case 'F16':
      return littleEndianBytes(float32ToHalf(d as Float32Array | Float64Array), 2);
    case 'BF16':
      return littleEndianBytes(float32ToBfloat16(d as Float32Array | Float64Array), 2);
    case 'I64':
      return littleEndianBytes(
        d instanceof BigInt64Array ? d : BigInt64Array.from(d as Int32Array, (v) => BigInt(v)),
        8,
      );
    case 'I32':
      return littleEndianBytes(d as Int32Array, 4);
    case 'I16':
      return littleEndianBytes(d as Int16Array, 2);
    default:
      return littleEndianBytes(d as Int8Array | Uint8Array, 1);
  }
}

/** Header bytes (with length prefix and padding) and the tensors in the order their data follows. */
function prepare(
  tensors: ReadonlyMap<string, WritableTensor>,
  metadata: Record<string, string> | undefined,
): { head: Uint8Array; order: Array<[string, WritableTensor]> } {
  const order = [...tensors.entries()];
  const sizes = new Map<string, number>();
  for (const [name, t] of order) sizes.set(name, checkWritable(name, t));
  order.sort(
    ([an, a], [bn, b]) =>
      RUST_DTYPE_ORDER.indexOf(b.dtype) - RUST_DTYPE_ORDER.indexOf(a.dtype) ||
      Buffer.compare(Buffer.from(an, 'utf8'), Buffer.from(bn, 'utf8')),
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors: metadata value of ${describe(k)} must be a string`);
    }
    header['__metadata__'] = metadata;
  }
  let offset = 0;
  for (const [name, t] of order) {
    const size = sizes.get(name)!;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  // serde_json's compact output equals JSON.stringify's; Rust pads the header with spaces to 8 bytes.
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const head = Buffer.alloc(8 + json.length);
  head.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(head, 8);
  return { head, order };
}

/**
 * Encode tensors to safetensors bytes exactly as huggingface/safetensors writes them (same header JSON, key
 * order, padding and data order), so `safe_open` / `load_file` in Python read it back.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, WritableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const { head, order } = prepare(tensors, metadata);
  return Buffer.concat([head, ...order.map(([, t]) => encodeData(t))]);
}

/**
 * Write a safetensors file exactly as huggingface/safetensors does (transformers' save_pretrained passes
 * `metadata = { format: 'pt' }`). Tensors are sorted by dtype alignment (descending) then name, as the Rust
 * implementation does. Written atomically (temp file + fsync + rename): a crash leaves the old file.
 * Float dtypes take Float32Array data and are rounded to nearest even for F16 / BF16.
 */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, WritableTensor>,
  metadata?: Record<string, string>,
): void {
  const { head, order } = prepare(tensors, metadata);
  // A generator keeps at most one converted tensor in memory besides the caller's arrays.
  function* chunks(): Generator<Uint8Array> {
    yield head;
    for (const [, t] of order) yield encodeData(t);
  }
  writeFileAtomic(path, chunks());
}
