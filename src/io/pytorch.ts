// PyTorch `torch.save` checkpoints (pytorch_model.bin): zip archive + restricted unpickler → tensors.
//
// Layout written by torch >= 1.6: `<archive>/data.pkl` (the pickled state dict; tensors are
// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, storages are persistent ids
// ('storage', torch.FloatStorage, key, location, numel)), `<archive>/data/<key>` (raw little-endian storage
// bytes), `<archive>/byteorder`. Only the globals below are honoured; anything else is an UnsafePickleError.
import { CheckpointFormatError, UnsafePickleError } from './errors.js';
import {
  DTYPE_SIZE,
  bfloat16ToFloat32,
  fromLittleEndian,
  halfToFloat32,
  type DType,
  type TensorData,
  type TensorEntry,
} from './dtypes.js';
import { bufferSource, openFileSource, type ByteSource } from './source.js';
import { openZip, type ZipArchive, type ZipEntry } from './zip.js';
import { PyCallable, PyDict, PyOpaque, PyTuple, pyTypeName, unpickle, type PyValue } from './unpickle.js';
import type { SafetensorsContent } from './safetensors.js';

/** Legacy typed-storage classes torch.save names in the pickle, and the dtype of their elements. */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** Largest data.pkl accepted (BERT-large's is ~60 KB; the bound keeps a hostile file from costing memory). */
const MAX_PICKLE_BYTES = 64 << 20;

interface StorageRef {
  key: string;
  dtype: DType;
  numel: number;
}

interface TensorRef {
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

function isInt(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function intTuple(v: PyValue, file: string, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every((x) => isInt(x) && x >= 0) || v.items.length > 64) {
    throw new CheckpointFormatError(file, `${what} must be a tuple of non-negative integers, got a ${pyTypeName(v)}`);
  }
  return v.items as number[];
}

/** The allowlist: every global torch.save uses for a state dict of tensors, implemented without Python. */
function makeResolver(file: string): (module: string, name: string) => PyValue {
  const rebuildTensor = (args: PyValue[]): PyValue => {
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.length < 4 || args.length > 7) {
      throw new CheckpointFormatError(file, `_rebuild_tensor_v2 called with ${args.length} arguments`);
    }
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof PyOpaque) || storage.kind !== 'torch storage') {
      throw new CheckpointFormatError(
        file,
        `_rebuild_tensor_v2: first argument is a ${pyTypeName(storage!)}, not a storage`,
      );
    }
    if (!isInt(offset!) || offset < 0) throw new CheckpointFormatError(file, '_rebuild_tensor_v2: bad storage offset');
    const shape = intTuple(size!, file, '_rebuild_tensor_v2 size');
    const strides = intTuple(stride!, file, '_rebuild_tensor_v2 stride');
    if (shape.length !== strides.length)
      throw new CheckpointFormatError(file, '_rebuild_tensor_v2: size and stride differ in length');
    const ref: TensorRef = { storage: storage.value as StorageRef, offset, shape, stride: strides };
    return new PyOpaque('torch tensor', ref);
  };
  const rebuildParameter = (args: PyValue[]): PyValue => {
    // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its data here.
    const data = args[0];
    if (args.length < 3 || args.length > 4 || !(data instanceof PyOpaque) || data.kind !== 'torch tensor') {
      throw new CheckpointFormatError(file, '_rebuild_parameter: expected (tensor, requires_grad, hooks)');
    }
    return data;
  };
  const orderedDict = (args: PyValue[]): PyValue => {
    const dict = new PyDict();
    if (args.length === 0) return dict;
    throw new CheckpointFormatError(
      file,
      'collections.OrderedDict called with arguments (only the empty call torch.save uses is supported)',
    );
  };
  return (module, name) => {
    const qualified = `${module}.${name}`;
    if (module === 'collections' && name === 'OrderedDict') return new PyCallable(qualified, orderedDict);
    if (module === 'torch._utils' && name === '_rebuild_tensor_v2') return new PyCallable(qualified, rebuildTensor);
    if (module === 'torch._utils' && (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state')) {
      return new PyCallable(qualified, rebuildParameter);
    }
    if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name)) {
      // A storage class is only ever an argument of a persistent id; calling it is refused in REDUCE.
      return new PyOpaque('torch storage class', STORAGE_DTYPES[name]!);
    }
    if (module === 'torch' && /^\w+Storage$/.test(name)) {
      // A storage class we cannot decode (float8, complex, quantized...): harmless, but unsupported.
      throw new CheckpointFormatError(
        file,
        `tensors stored as torch.${name} are not supported (supported: ${Object.keys(STORAGE_DTYPES).join(', ')}); convert the checkpoint to float32 or float16`,
      );
    }
    throw new UnsafePickleError(
      file,
      `the pickle asks for the global ${qualified}, which is not a tensor-rebuilding function; refused, nothing was executed`,
    );
  };
}

/** What a torch.save archive holds, before tensor data is read. */
interface ParsedBin {
  tensors: Map<string, TensorRef>;
  storageEntries: Map<string, ZipEntry>;
  bigEndian: boolean;
}

function parseArchive(zip: ZipArchive): ParsedBin {
  const file = zip.name;
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new CheckpointFormatError(
      file,
      pkls.length === 0
        ? 'zip archive without <name>/data.pkl: not a torch.save checkpoint'
        : `zip archive with ${pkls.length} data.pkl entries`,
    );
  }
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  let bigEndian = false;
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(zip.read(byteorder, 16));
    if (order !== 'little' && order !== 'big')
      throw new CheckpointFormatError(file, `unknown byteorder ${JSON.stringify(order)}`);
    bigEndian = order === 'big';
  }
  const pkl = zip.read(zip.entries.get(pkls[0]!)!, MAX_PICKLE_BYTES);
  const storages = new Map<string, StorageRef>();
  const storageEntries = new Map<string, ZipEntry>();
  const persistentLoad = (pid: PyValue): PyValue => {
    // ('storage', storage_class, key, location, numel)
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      throw new UnsafePickleError(file, `persistent id ${pyTypeName(pid)} is not a torch storage reference; refused`);
    }
    const [, cls, key, , numel] = pid.items;
    if (!(cls instanceof PyOpaque) || cls.kind !== 'torch storage class') {
      throw new UnsafePickleError(
        file,
        `persistent id names a ${pyTypeName(cls!)} instead of a torch storage class; refused`,
      );
    }
    if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key) || key.includes('..')) {
      throw new UnsafePickleError(file, `storage key ${JSON.stringify(key)} is not a plain name; refused`);
    }
    if (!isInt(numel!) || numel < 0) throw new CheckpointFormatError(file, `storage ${key}: bad element count`);
    const dtype = cls.value as DType;
    const existing = storages.get(key);
    if (existing) {
      if (existing.dtype !== dtype || existing.numel !== numel)
        throw new CheckpointFormatError(file, `storage ${key} is declared twice differently`);
      return new PyOpaque('torch storage', existing);
    }
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry)
      throw new CheckpointFormatError(file, `storage ${key} has no ${prefix}data/${key} entry in the archive`);
    if (entry.size !== numel * DTYPE_SIZE[dtype]) {
      throw new CheckpointFormatError(
        file,
        `storage ${key}: entry holds ${entry.size} bytes but ${numel} × ${dtype} needs ${numel * DTYPE_SIZE[dtype]}`,
      );
    }
    const ref: StorageRef = { key, dtype, numel };
    storages.set(key, ref);
    storageEntries.set(key, entry);
    return new PyOpaque('torch storage', ref);
  };
  const root = unpickle(pkl, { file: `${file} (${pkls[0]})`, resolveGlobal: makeResolver(file), persistentLoad });
  if (!(root instanceof PyDict))
    throw new CheckpointFormatError(file, `the pickle holds a ${pyTypeName(root)}, not a state dict`);
  const tensors = new Map<string, TensorRef>();
  for (const [key, value] of root.entries) {
    if (typeof key !== 'string') throw new CheckpointFormatError(file, `state dict key ${String(key)} is not a string`);
    if (!(value instanceof PyOpaque) || value.kind !== 'torch tensor') {
      throw new CheckpointFormatError(
        file,
        `state dict entry ${JSON.stringify(key)} is a ${pyTypeName(value)}, not a tensor (is this a full training checkpoint rather than a state dict?)`,
      );
    }
    tensors.set(key, value.value as TensorRef);
  }
  return { tensors, storageEntries, bigEndian };
}

/** Read one storage's bytes and decode them (F16/BF16/F64 → float32, others as their own type). */
function loadStorage(zip: ZipArchive, ref: StorageRef, entry: ZipEntry, bigEndian: boolean): TensorData {
  const width = DTYPE_SIZE[ref.dtype];
  const fill = <T extends TensorData | Uint16Array>(array: T): T => {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    zip.readInto(entry, bytes);
    if (bigEndian) {
      // Reverse to little-endian first, then to host order.
      for (let i = 0; i + width <= bytes.length; i += width) bytes.subarray(i, i + width).reverse();
    }
    fromLittleEndian(bytes, width);
    return array;
  };
  switch (ref.dtype) {
    case 'F32':
      return fill(new Float32Array(ref.numel));
    case 'F16':
      return halfToFloat32(fill(new Uint16Array(ref.numel)));
    case 'BF16':
      return bfloat16ToFloat32(fill(new Uint16Array(ref.numel)));
    case 'F64':
      return Float32Array.from(fill(new Float64Array(ref.numel)));
    case 'I64':
      return fill(new BigInt64Array(ref.numel));
    case 'I32':
      return fill(new Int32Array(ref.numel));
    case 'I16':
      return fill(new Int16Array(ref.numel));
    case 'I8':
      return fill(new Int8Array(ref.numel));
    default:
      return fill(new Uint8Array(ref.numel));
  }
}

/** A row-major copy (or view, when already contiguous) of a strided tensor over its storage. */
function materialize(file: string, name: string, t: TensorRef, storage: TensorData): TensorData {
  const { shape, stride, offset } = t;
  let count = 1;
  for (const d of shape) count *= d;
  if (count === 0) return storage.subarray(0, 0);
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
  if (last >= t.storage.numel) {
    throw new CheckpointFormatError(
      file,
      `tensor ${JSON.stringify(name)}: offset ${offset}, size [${shape}], stride [${stride}] reach element ${last} of a storage of ${t.storage.numel}`,
    );
  }
  let contiguous = true;
  for (let i = shape.length - 1, expected = 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i]! !== expected) contiguous = false;
    expected *= shape[i]!;
  }
  if (contiguous) return storage.subarray(offset, offset + count);
  // Strided (e.g. a saved transpose): copy into row-major order. Expanded tensors (stride 0) could make a
  // huge tensor from a tiny storage, so the copy is bounded by the storage size.
  if (count > t.storage.numel) {
    throw new CheckpointFormatError(
      file,
      `tensor ${JSON.stringify(name)} has ${count} elements over a storage of ${t.storage.numel} (an expanded/overlapping view); re-save it contiguous`,
    );
  }
  const out = new (storage.constructor as { new (n: number): TensorData })(count);
  const index = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let k = 0; k < count; k++) {
    (out as Float32Array)[k] = (storage as Float32Array)[src]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]!++;
      src += stride[d]!;
      if (index[d]! < shape[d]!) break;
      src -= stride[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

function readArchive(source: ByteSource): SafetensorsContent {
  const zip = openZip(source);
  const parsed = parseArchive(zip);
  const decoded = new Map<string, TensorData>();
  const tensors = new Map<string, TensorEntry>();
  for (const [name, t] of parsed.tensors) {
    let storage = decoded.get(t.storage.key);
    if (!storage) {
      storage = loadStorage(zip, t.storage, parsed.storageEntries.get(t.storage.key)!, parsed.bigEndian);
      decoded.set(t.storage.key, storage);
    }
    tensors.set(name, { dtype: t.storage.dtype, shape: [...t.shape], data: materialize(zip.name, name, t, storage) });
  }
  return { tensors, metadata: {} };
}

/**
 * Read a `torch.save` state dict (pytorch_model.bin) without running any pickle code: a bounds-checked zip
 * reader (stored entries, zip64, CRC-32 checked) and a restricted unpickler that only rebuilds tensors
 * (`torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, `torch.*Storage`, `collections.OrderedDict`)
 * and refuses every other global with an UnsafePickleError naming it. Returns the same shape as
 * readSafetensors (metadata is empty). Tensors that share a storage in the file (tied weights) share memory
 * here; strided tensors are made contiguous. Legacy pre-1.6 files and compressed entries are refused clearly.
 */
export function readPytorchBin(path: string): SafetensorsContent {
  const source = openFileSource(path);
  try {
    const content = readArchive(source);
    source.checkUnchanged();
    return { ...content, identity: source.identity };
  } finally {
    source.close();
  }
}

/** {@link readPytorchBin} over bytes in memory (`name` is used in error messages). */
export function readPytorchBinBuffer(bytes: Uint8Array, name = '<buffer>'): SafetensorsContent {
  return readArchive(bufferSource(bytes, name));
}
