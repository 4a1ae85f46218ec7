// pytorch_model.bin reading: parity with the safetensors fixture HF wrote, strides/offsets/sharing, zip errors,
// and a corpus of malicious pickles that must all be refused without running anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointFormatError,
  UnsafePickleError,
  readPytorchBin,
  readPytorchBinBuffer,
  readSafetensors,
} from '../../src/io/index.js';
import {
  f32Bytes,
  op,
  pickle,
  rebuildTensor,
  stateDictPickle,
  storagePid,
  storagePidOf,
  torchArchive,
  zipArchive,
} from './helpers/pickle-zip.js';

const FIX = '../shared/fixtures/hf-tiny';
const BIN = `${FIX}/pretraining_bin/pytorch_model.bin`;

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

test('pytorch_model.bin (torch.save) gives bitwise the tensors of the safetensors HF wrote from the same model', () => {
  const bin = readPytorchBin(BIN);
  const st = readSafetensors(`${FIX}/pretraining/model.safetensors`);
  assert.equal(st.tensors.size, 46);
  for (const [name, ref] of st.tensors) {
    const t = bin.tensors.get(name);
    assert.ok(t, `${name} missing from the .bin`);
    assert.equal(t.dtype, ref.dtype, name);
    assert.deepEqual(t.shape, ref.shape, name);
    assert.ok(bytesOf(t.data).equals(bytesOf(ref.data)), `${name} differs`);
  }
  // Only the tied decoder (weight = word embeddings, bias = cls.predictions.bias) is extra in the .bin.
  assert.deepEqual([...bin.tensors.keys()].filter((k) => !st.tensors.has(k)).sort(), [
    'cls.predictions.decoder.bias',
    'cls.predictions.decoder.weight',
  ]);
  const dec = bin.tensors.get('cls.predictions.decoder.weight')!;
  const emb = bin.tensors.get('bert.embeddings.word_embeddings.weight')!;
  assert.equal(dec.data.buffer, emb.data.buffer, 'tied weights share one storage, as in torch');
  assert.ok(
    bytesOf(bin.tensors.get('cls.predictions.decoder.bias')!.data).equals(
      bytesOf(st.tensors.get('cls.predictions.bias')!.data),
    ),
    "bytesOf(bin.tensors.get('cls.predictions.decoder.bias')!.data).equals(bytesOf(st.tensors.get('cls.predictions.bias')!.data))",
  );
});

test('storage offsets, strides (transpose), expansion, shared storages, F16 and I64 storages', () => {
  const pkl = stateDictPickle([
    ['t', rebuildTensor('FloatStorage', '0', 6, 0, [3, 2], [1, 3])], // transpose of [[0,1,2],[3,4,5]]
    ['o', rebuildTensor('FloatStorage', '0', 6, 2, [2], [1])],
    ['e', rebuildTensor('FloatStorage', '0', 6, 0, [2, 3], [0, 1])],
    ['h', rebuildTensor('HalfStorage', '1', 2, 0, [2], [1])],
    ['l', rebuildTensor('LongStorage', '2', 1, 0, [], [])],
  ]);
  const out = readPytorchBinBuffer(
    torchArchive(pkl, {
      0: f32Bytes([0, 1, 2, 3, 4, 5]),
      1: Uint8Array.of(0x00, 0x3c, 0x00, 0xc0), // half 1.0, -2.0
      2: new Uint8Array(BigInt64Array.of(-7n).buffer),
    }),
    'mem.bin',
  );
  assert.deepEqual(Array.from(out.tensors.get('t')!.data as Float32Array), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(out.tensors.get('t')!.shape, [3, 2]);
  assert.deepEqual(Array.from(out.tensors.get('o')!.data as Float32Array), [2, 3]);
  assert.deepEqual(Array.from(out.tensors.get('e')!.data as Float32Array), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(out.tensors.get('h')!, { dtype: 'F16', shape: [2], data: Float32Array.of(1, -2) });
  assert.deepEqual(out.tensors.get('l')!, { dtype: 'I64', shape: [], data: BigInt64Array.of(-7n) });
});

function expectRefused(bytes: Uint8Array, cls: typeof CheckpointFormatError, pattern: RegExp): void {
  assert.throws(
    () => readPytorchBinBuffer(bytes, 'evil.bin'),
    (err: unknown) => {
      assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
      assert.match((err as Error).message, /^evil\.bin/);
      assert.match((err as Error).message, pattern);
      return true;
    },
  );
}

test('bad tensors: out-of-range views, huge expansions, missing storages, wrong sizes', () => {
  const storage = { 0: f32Bytes([0, 1, 2, 3, 4, 5]) };
  expectRefused(
    torchArchive(stateDictPickle([['x', rebuildTensor('FloatStorage', '0', 6, 4, [3], [1])]]), storage),
    CheckpointFormatError,
    /reach element 6 of a storage of 6/,
  );
  expectRefused(
    torchArchive(stateDictPickle([['x', rebuildTensor('FloatStorage', '0', 6, 0, [100000, 100000], [0, 0])]]), storage),
    CheckpointFormatError,
    /expanded\/overlapping view/,
  );
  expectRefused(
    torchArchive(stateDictPickle([['x', rebuildTensor('FloatStorage', '7', 6, 0, [6], [1])]]), storage),
    CheckpointFormatError,
    /storage 7 has no archive\/data\/7 entry/,
  );
  expectRefused(
    torchArchive(stateDictPickle([['x', rebuildTensor('FloatStorage', '0', 1_000_000_000, 0, [6], [1])]]), storage),
    CheckpointFormatError,
    /needs 4000000000/,
  );
  expectRefused(
    torchArchive(pickle(op.proto(2), op.str('not a dict'), op.stop)),
    CheckpointFormatError,
    /holds a str, not a state dict/,
  );
  expectRefused(
    torchArchive(stateDictPickle([['x', rebuildTensor('ComplexFloatStorage', '0', 3, 0, [3], [1])]]), storage),
    CheckpointFormatError,
    /torch\.ComplexFloatStorage are not supported/,
  );
  expectRefused(
    torchArchive(pickle(op.proto(2), op.emptyDict, op.str('k'), op.int(3), op.setitem, op.stop)),
    CheckpointFormatError,
    /"k" is a int, not a tensor/,
  );
});

// ---- the malicious corpus: every one must be refused, and its payload (creating a file) never run ----

const sentinelDir = mkdtempSync(join(tmpdir(), 'bert-ts-pwn-'));
const sentinel = join(sentinelDir, 'pwned');
const payload = `touch ${sentinel}`;
/** Calls what is on the stack with `args` (REDUCE of a tuple). */
const applyTo = (...args: number[][]) => [op.mark, ...args, op.tuple, op.reduce];
const callWith = (module: string, name: string, ...args: number[][]) => [op.global(module, name), ...applyTo(...args)];

type CorpusEntry = [string, Uint8Array, typeof CheckpointFormatError, RegExp];

/** A pickle that calls module.name(arg): the unpickler must refuse the global by name. */
const refusedCall = (module: string, name: string, arg: number[], label = `${module}.${name}`): CorpusEntry => [
  label,
  pickle(op.proto(2), ...callWith(module, name, arg), op.stop),
  UnsafePickleError,
  new RegExp(`global ${module}\\.${name}`),
];

const corpus: CorpusEntry[] = [
  refusedCall('os', 'system', op.str(payload)),
  refusedCall('posix', 'system', op.str(payload)),
  refusedCall('nt', 'system', op.str(payload)),
  refusedCall('builtins', 'eval', op.str(`__import__('os').system('${payload}')`)),
  refusedCall('builtins', 'exec', op.str(`import os; os.system('${payload}')`)),
  refusedCall('__builtin__', 'eval', op.str('1'), '__builtin__.eval (python 2)'),
  refusedCall('subprocess', 'Popen', [op.mark, op.str('touch'), op.str(sentinel), op.tuple].flat()),
  refusedCall('subprocess', 'check_output', op.str(payload)),
  [
    '__reduce__ of builtins.getattr(os, "system")',
    pickle(
      op.proto(2),
      op.global('builtins', 'getattr'),
      op.mark,
      op.global('os', 'path'),
      op.str('join'),
      op.tuple,
      op.reduce,
      op.stop,
    ),
    UnsafePickleError,
    /global builtins\.getattr/,
  ],
  [
    'STACK_GLOBAL os.system (protocol 4)',
    pickle(op.proto(4), op.str('os'), op.str('system'), op.stackGlobal, ...applyTo(op.str(payload)), op.stop),
    UnsafePickleError,
    /global os\.system/,
  ],
  refusedCall('torch', 'load', op.str('/etc/passwd'), 'torch.load itself (recursion)'),
  [
    'torch._utils._rebuild_device_tensor_from_numpy (not allowlisted)',
    pickle(op.proto(2), ...callWith('torch._utils', '_rebuild_device_tensor_from_numpy', op.none), op.stop),
    UnsafePickleError,
    /_rebuild_device_tensor_from_numpy/,
  ],
  [
    'nested REDUCE: eval inside OrderedDict arguments',
    pickle(
      op.proto(2),
      op.global('collections', 'OrderedDict'),
      op.mark,
      ...callWith('builtins', 'eval', op.str('1')),
      op.tuple,
      op.reduce,
      op.stop,
    ),
    UnsafePickleError,
    /global builtins\.eval/,
  ],
  [
    'nested REDUCE: calling the result of a REDUCE',
    pickle(
      op.proto(2),
      op.global('collections', 'OrderedDict'),
      op.emptyTuple,
      op.reduce,
      ...applyTo(op.str(payload)),
      op.stop,
    ),
    UnsafePickleError,
    /REDUCE on a dict/,
  ],
  [
    'REDUCE of a storage class (torch.FloatStorage(...))',
    pickle(op.proto(2), ...callWith('torch', 'FloatStorage', op.int(5)), op.stop),
    UnsafePickleError,
    /REDUCE on a torch storage class/,
  ],
  [
    'REDUCE of a string',
    pickle(op.proto(2), op.str('os.system'), op.mark, op.str(payload), op.tuple, op.reduce, op.stop),
    UnsafePickleError,
    /REDUCE on a str/,
  ],
  [
    'memoised global reused after refusal is impossible: GET of never-stored entry',
    pickle(op.proto(2), op.binget(3), op.stop),
    CheckpointFormatError,
    /memo entry 3 was never stored/,
  ],
  ['PERSID (text persistent id)', pickle(op.proto(2), op.persid('0'), op.stop), UnsafePickleError, /PERSID/],
  [
    'BINPERSID that is not a storage tuple',
    pickle(op.proto(2), op.str(payload), ...[op.binpersid], op.stop),
    UnsafePickleError,
    /not a torch storage reference/,
  ],
  [
    'BINPERSID naming os.system as the storage class',
    pickle(op.proto(2), ...storagePidOf(op.global('os', 'system'), '0', 1), op.stop),
    UnsafePickleError,
    /global os\.system/,
  ],
  [
    'BINPERSID with a string as storage class',
    pickle(op.proto(2), ...storagePidOf(op.str('torch.FloatStorage'), '0', 1), op.stop),
    UnsafePickleError,
    /names a str instead of a torch storage class/,
  ],
  [
    'BINPERSID with a path-traversal key',
    pickle(op.proto(2), ...storagePid('FloatStorage', '../../../../etc/passwd', 1), op.stop),
    UnsafePickleError,
    /storage key ".*etc\/passwd" is not a plain name/,
  ],
  [
    'INST os.system',
    pickle(op.mark, op.str(payload), op.inst('os', 'system'), op.stop),
    UnsafePickleError,
    /INST of os\.system/,
  ],
  [
    'OBJ with an allowlisted class',
    pickle(op.proto(2), op.mark, op.global('collections', 'OrderedDict'), op.obj, op.stop),
    UnsafePickleError,
    /OBJ/,
  ],
  [
    'NEWOBJ of OrderedDict',
    pickle(op.proto(2), op.global('collections', 'OrderedDict'), op.emptyTuple, op.newobj, op.stop),
    UnsafePickleError,
    /NEWOBJ/,
  ],
  [
    'NEWOBJ_EX',
    pickle(op.proto(4), op.global('collections', 'OrderedDict'), op.emptyTuple, op.emptyDict, op.newobjEx, op.stop),
    UnsafePickleError,
    /NEWOBJ_EX/,
  ],
  ['EXT1 (copyreg extension registry)', pickle(op.proto(2), op.ext1(1), op.stop), UnsafePickleError, /EXT/],
  [
    'BUILD (__setstate__) on a tensor',
    pickle(
      op.proto(2),
      op.emptyDict,
      op.str('x'),
      ...rebuildTensor('FloatStorage', '0', 1, 0, [1], [1]),
      op.emptyDict,
      op.build,
      op.setitem,
      op.stop,
    ),
    UnsafePickleError,
    /BUILD \(__setstate__\) on a torch tensor/,
  ],
  [
    'BUILD on a dict with a non-dict state',
    pickle(op.proto(2), op.emptyDict, op.str(payload), op.build, op.stop),
    UnsafePickleError,
    /BUILD/,
  ],
  [
    '_rebuild_tensor_v2 with a string as storage',
    pickle(
      op.proto(2),
      ...callWith(
        'torch._utils',
        '_rebuild_tensor_v2',
        op.str(payload),
        op.int(0),
        op.intTuple([1]),
        op.intTuple([1]),
        op.newfalse,
        op.emptyDict,
      ),
      op.stop,
    ),
    CheckpointFormatError,
    /first argument is a str, not a storage/,
  ],
  [
    'OrderedDict called with arguments',
    pickle(op.proto(2), ...callWith('collections', 'OrderedDict', op.str(payload)), op.stop),
    CheckpointFormatError,
    /OrderedDict called with arguments/,
  ],
  ['unknown opcode', pickle(op.proto(2), [0xff], op.stop), CheckpointFormatError, /unknown or unsupported opcode 0xff/],
  ['no STOP', pickle(op.proto(2), op.emptyDict), CheckpointFormatError, /without a STOP/],
  [
    '200,000 nested marks',
    Uint8Array.from([0x80, 2, ...new Array<number>(200_000).fill(0x28), 0x2e]),
    CheckpointFormatError,
    /more than 100000 nested marks/,
  ],
  [
    'string length beyond the pickle',
    pickle(op.proto(2), [0x58, 0xff, 0xff, 0xff, 0x7f], op.stop),
    CheckpointFormatError,
    /truncated/,
  ],
];

for (const [name, pkl, cls, pattern] of corpus) {
  test(`malicious pickle refused: ${name}`, () => {
    expectRefused(torchArchive(pkl, { 0: f32Bytes([1]) }), cls, pattern);
  });
}

test('no payload of the corpus ran', () => {
  assert.equal(existsSync(sentinel), false);
  rmSync(sentinelDir, { recursive: true, force: true });
});

// ---- zip-level problems ----

test('zip problems: not a zip, legacy torch format, compressed entries, CRC mismatch, truncation', () => {
  const pkl = stateDictPickle([['w', rebuildTensor('FloatStorage', '0', 2, 0, [2], [1])]]);
  const good = torchArchive(pkl, { 0: f32Bytes([1, 2]) });
  assert.deepEqual(readPytorchBinBuffer(good).tensors.get('w')!.data, Float32Array.of(1, 2));
  expectRefused(new TextEncoder().encode('{"this": "is json"}'), CheckpointFormatError, /not a zip archive/);
  expectRefused(
    Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, ...new Array(40).fill(0)),
    CheckpointFormatError,
    /legacy \(pre-1\.6\) torch\.save format/,
  );
  expectRefused(
    zipArchive([{ name: 'archive/data.pkl', data: pkl, method: 8 }]),
    CheckpointFormatError,
    /compressed \(method 8\)/,
  );
  expectRefused(
    zipArchive([{ name: 'archive/data.pkl', data: pkl, crc: 1234 }]),
    CheckpointFormatError,
    /CRC-32 mismatch/,
  );
  expectRefused(zipArchive([{ name: 'weights.pkl', data: pkl }]), CheckpointFormatError, /without <name>\/data\.pkl/);
  expectRefused(good.subarray(0, good.length - 30), CheckpointFormatError, /not a zip archive|outside the file/);
  const real = readFileSync(BIN);
  expectRefused(
    real.subarray(0, real.length - 200),
    CheckpointFormatError,
    /not a zip archive|outside the file|truncated/,
  );
  const cut = Buffer.from(real);
  cut.writeUInt32LE(0xfffffff0, cut.length - 22 + 16); // classic EOCD CD offset; zip64 record still rules
  assert.equal(readPytorchBinBuffer(cut).tensors.size, 48, 'the zip64 end record torch writes takes precedence');
});

test('file-based errors name the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-bin-'));
  try {
    const path = join(dir, 'pytorch_model.bin');
    writeFileSync(path, torchArchive(pickle(op.proto(2), ...callWith('os', 'system', op.str(payload)), op.stop)));
    assert.throws(
      () => readPytorchBin(path),
      (err: unknown) =>
        err instanceof UnsafePickleError && err.message.startsWith(path) && /os\.system/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
