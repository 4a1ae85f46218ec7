// Test helpers: a tiny pickle-opcode writer and a stored-zip writer, to build torch.save-like and hostile files.
import { crc32 } from 'node:zlib';

/** Pickle opcodes as byte builders (names as in Python's pickletools). */
export const op = {
  proto: (n: number) => [0x80, n],
  stop: [0x2e],
  mark: [0x28],
  emptyTuple: [0x29],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  tuple3: [0x87],
  emptyDict: [0x7d],
  emptyList: [0x5d],
  append: [0x61],
  setitem: [0x73],
  setitems: [0x75],
  reduce: [0x52],
  build: [0x62],
  binpersid: [0x51],
  newfalse: [0x89],
  none: [0x4e],
  dup: [0x32],
  global: (module: string, name: string) => [0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')],
  stackGlobal: [0x93],
  inst: (module: string, name: string) => [0x69, ...Buffer.from(`${module}\n${name}\n`, 'latin1')],
  obj: [0x6f],
  newobj: [0x81],
  newobjEx: [0x92],
  ext1: (code: number) => [0x82, code],
  persid: (text: string) => [0x50, ...Buffer.from(`${text}\n`, 'latin1')],
  str: (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return [0x58, ...len, ...b];
  },
  int: (n: number) => {
    if (n >= 0 && n < 256) return [0x4b, n];
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return [0x4a, ...b];
  },
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
  longBinget: (i: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(i);
    return [0x6a, ...b];
  },
  intTuple: (xs: number[]) => [0x28, ...xs.flatMap((x) => op.int(x)), 0x74],
};

/** Concatenate opcode byte lists into a pickle. */
export function pickle(...parts: Array<number[]>): Uint8Array {
  return Uint8Array.from(parts.flat());
}

/** Opcodes pushing torch.save's persistent id ('storage', torch.<cls>, key, 'cpu', numel) + BINPERSID. */
export function storagePid(cls: string, key: string, numel: number): number[][] {
  return storagePidOf(op.global('torch', cls), key, numel);
}

/** The same persistent id with any opcodes in the storage class's place (what a hostile file may put there). */
export function storagePidOf(storageClass: number[], key: string, numel: number): number[][] {
  return [op.mark, op.str('storage'), storageClass, op.str(key), op.str('cpu'), op.int(numel), op.tuple, op.binpersid];
}

/** Opcodes pushing _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
export function rebuildTensor(
  cls: string,
  key: string,
  numel: number,
  offset: number,
  size: number[],
  stride: number[],
): number[][] {
  return [
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.mark,
    ...storagePid(cls, key, numel),
    op.int(offset),
    op.intTuple(size),
    op.intTuple(stride),
    op.newfalse,
    op.global('collections', 'OrderedDict'),
    op.emptyTuple,
    op.reduce,
    op.tuple,
    op.reduce,
  ];
}

/** A state dict pickle {name: tensor, ...} given the opcode lists pushing each tensor. */
export function stateDictPickle(entries: Array<[string, number[][]]>): Uint8Array {
  const body: number[][] = [op.proto(2), op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce, op.mark];
  for (const [name, tensorOps] of entries) body.push(op.str(name), ...tensorOps);
  body.push(op.setitems, op.stop);
  return pickle(...body);
}

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  /** Compression method to claim (0 = stored); the data is stored as given either way. */
  method?: number;
  /** Override the CRC written (to simulate corruption). */
  crc?: number;
}

/** A zip archive of stored entries (classic records only), as Python's zipfile would write it. */
export function zipArchive(files: ZipFileSpec[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const crc = f.crc ?? crc32(f.data);
    // The fields a local header and its central directory record share: method, crc, sizes, name length, laid out
    // alike from offset 8 (local) or 10 (central).
    const entryFields = (b: Buffer, at: number): Buffer => {
      b.writeUInt16LE(f.method ?? 0, at);
      b.writeUInt32LE(crc >>> 0, at + 6);
      b.writeUInt32LE(f.data.length, at + 10);
      b.writeUInt32LE(f.data.length, at + 14);
      b.writeUInt16LE(name.length, at + 18);
      return b;
    };
    const lh = entryFields(Buffer.alloc(30), 8);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    const cd = entryFields(Buffer.alloc(46), 10);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(offset, 42);
    locals.push(lh, name, Buffer.from(f.data));
    centrals.push(cd, name);
    offset += 30 + name.length + f.data.length;
  }
  const cdBytes = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, eocd]);
}

/** A torch.save-like archive: archive/data.pkl, archive/byteorder, archive/data/<key> for each storage. */
export function torchArchive(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  return zipArchive([
    { name: 'archive/data.pkl', data: pkl },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
  ]);
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
