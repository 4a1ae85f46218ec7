// Safetensors reading/writing against files HuggingFace wrote (../shared/fixtures), plus the bad-input list of issue 3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointFormatError,
  bfloat16ToFloat32,
  encodeSafetensors,
  float32ToBfloat16,
  float32ToHalf,
  halfToFloat32,
  openSafetensors,
  readSafetensors,
  readSafetensorsBuffer,
  toInt32Array,
  writeSafetensors,
  type TensorEntry,
  type WritableTensor,
} from '../../src/io/index.js';

const FIX = '../shared/fixtures/hf-tiny';
const F32_FILE = `${FIX}/pretraining/model.safetensors`;
const F16_FILE = `${FIX}/pretraining_fp16/model.safetensors`;
const REF_FILE = `${FIX}/reference.safetensors`;

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

/** The fixture's word embeddings: stored dtype, shape, upcast to float32, first values and sum as numpy gives them. */
function assertWordEmbeddings(tensors: Map<string, TensorEntry>, dtype: string, first4: number[], total: number): void {
  const w = tensors.get('bert.embeddings.word_embeddings.weight');
  assert.ok(w, 'bert.embeddings.word_embeddings.weight is read');
  assert.equal(w.dtype, dtype);
  assert.deepEqual(w.shape, [1881, 32]);
  assert.ok(w.data instanceof Float32Array, 'upcast to Float32Array');
  assert.deepEqual(Array.from(w.data.subarray(0, 4)), first4);
  assert.ok(Math.abs(sum(w.data) - total) < 1e-9, `sum ${sum(w.data)}, numpy ${total}`);
}

test('reads the F32 fixture: values equal those numpy reads from the same file', () => {
  const { tensors, metadata } = readSafetensors(F32_FILE);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.equal(tensors.size, 46);
  // Reference values: numpy.frombuffer on the file (float32), printed as float64.
  assertWordEmbeddings(
    tensors,
    'F32',
    [-0.0061315433122217655, 0.028790520504117012, -0.06256134063005447, 0.005722218658775091],
    51.50770222186293,
  );
});

test('reads the F16 fixture upcast exactly (values numpy computes)', () => {
  const { tensors } = readSafetensors(F16_FILE);
  assertWordEmbeddings(
    tensors,
    'F16',
    [-0.006130218505859375, 0.0287933349609375, -0.06256103515625, 0.0057220458984375],
    51.5040220618248,
  );
  assert.ok(tensors.has('cls.predictions.decoder.bias'), "tensors.has('cls.predictions.decoder.bias')");
});

test('writing the F32 weights as F16 gives the bits torch wrote (round to nearest even)', () => {
  const f32 = readSafetensors(F32_FILE).tensors;
  const file = openSafetensors(F16_FILE);
  try {
    let compared = 0;
    const bytes = readFileSync(F16_FILE);
    for (const [name, t] of f32) {
      const info = file.tensors.get(name)!;
      const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
      const torchBits = new Uint16Array(
        bytes.buffer.slice(
          bytes.byteOffset + dataStart + info.dataOffsets[0],
          bytes.byteOffset + dataStart + info.dataOffsets[1],
        ),
      );
      assert.deepEqual(float32ToHalf(t.data as Float32Array), torchBits, name);
      compared++;
    }
    assert.equal(compared, 46);
  } finally {
    file.close();
  }
});

test('reads I64 ids of reference.safetensors; toInt32Array converts with a range check', () => {
  const { tensors, metadata } = readSafetensors(REF_FILE);
  assert.deepEqual(metadata, {});
  const ids = tensors.get('input.input_ids')!;
  assert.equal(ids.dtype, 'I64');
  assert.deepEqual(ids.shape, [3, 24]);
  assert.ok(ids.data instanceof BigInt64Array, 'ids.data instanceof BigInt64Array');
  // Row 0 as numpy reads it: [CLS]=9 ... [SEP]=10 (fixture README: special ids 9/10/11).
  assert.deepEqual(
    Array.from(toInt32Array(ids).subarray(0, 24)),
    [9, 80, 1269, 85, 50, 581, 99, 164, 224, 11, 11, 11, 10, 80, 1856, 85, 1649, 581, 82, 80, 65, 224, 164, 10],
  );
  assert.throws(
    () => toInt32Array({ dtype: 'I64', data: BigInt64Array.of(1n, 2n ** 31n) }, 'ids'),
    /ids: value 2147483648 at index 1/,
  );
  assert.throws(() => toInt32Array({ dtype: 'F32', data: new Float32Array(1) }), /not an integer type/);
});

test('encode reproduces the files HuggingFace wrote byte for byte (header, key order, padding, data order)', () => {
  for (const [file, metadata] of [
    [F32_FILE, { format: 'pt' }],
    [F16_FILE, { format: 'pt' }],
    [REF_FILE, undefined],
  ] as const) {
    const { tensors } = readSafetensors(file);
    const encoded = encodeSafetensors(tensors as Map<string, WritableTensor>, metadata);
    assert.ok(Buffer.compare(Buffer.from(encoded), readFileSync(file)) === 0, `${file} differs when re-encoded`);
  }
});

test('writeSafetensors writes atomically and reads back; refuses inconsistent input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-st-'));
  try {
    const path = join(dir, 'model.safetensors');
    const tensors = new Map<string, WritableTensor>([
      ['b', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
      ['a', { dtype: 'I64', shape: [2], data: Int32Array.of(-5, 7) }],
      ['h', { dtype: 'BF16', shape: [1], data: Float32Array.of(1.5) }],
      ['s', { dtype: 'F32', shape: [], data: Float32Array.of(3) }],
      ['z', { dtype: 'U8', shape: [0], data: new Uint8Array(0) }],
    ]);
    writeSafetensors(path, tensors, { format: 'pt' });
    assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'no temporary file left behind');
    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt' });
    assert.deepEqual([...back.tensors.keys()], ['a', 'b', 's', 'h', 'z'], 'I64 first, then F32 by name, BF16, U8');
    assert.deepEqual(back.tensors.get('a')!.data, BigInt64Array.of(-5n, 7n));
    assert.deepEqual(back.tensors.get('b')!.data, Float32Array.of(1, 2, 3, 4, 5, 6));
    assert.deepEqual(back.tensors.get('h')!.data, Float32Array.of(1.5));
    assert.deepEqual(back.tensors.get('s')!.shape, []);
    // The header is what serde_json writes, padded with spaces to a multiple of 8.
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    assert.match(
      bytes.subarray(8, 8 + n).toString(),
      /^\{"__metadata__":\{"format":"pt"\},"a":\{"dtype":"I64","shape":\[2\],"data_offsets":\[0,16\]\},/,
    );
    assert.throws(
      () => writeSafetensors(path, new Map([['x', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]])),
      /has 3 elements but data has 2/,
    );
    assert.throws(
      () => writeSafetensors(path, new Map([['x', { dtype: 'I32', shape: [1], data: new Float32Array(1) }]])),
      /Float32Array cannot be written as I32/,
    );
    assert.equal(readSafetensors(path).tensors.size, 5, 'a refused write leaves the previous file intact');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('F16 and BF16 conversions on hand-worked bit patterns', () => {
  assert.deepEqual(Array.from(halfToFloat32(Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x0400))), [
    1,
    -2,
    65504,
    2 ** -24,
    -0,
    Infinity,
    2 ** -14,
  ]);
  assert.ok(
    Number.isNaN(halfToFloat32(Uint16Array.of(0x7e00))[0]),
    'Number.isNaN(halfToFloat32(Uint16Array.of(0x7e00))[0])',
  );
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1); 1 + 3*2^-11 ties up to 1 + 2^-9.
  assert.deepEqual(
    Array.from(float32ToHalf(Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -25, 3 * 2 ** -26))),
    [0x3c00, 0x3c02, 0x7c00, 0x0000, 0x0001],
  );
  assert.deepEqual(Array.from(bfloat16ToFloat32(Uint16Array.of(0x3f80, 0xc000, 0x7f80))), [1, -2, Infinity]);
  assert.deepEqual(
    Array.from(float32ToBfloat16(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, -1))),
    [0x3f80, 0x3f82, 0xbf80],
  );
});

// ---- bad input (issue 3): each refused with a CheckpointFormatError naming the file and the problem ----

function header(obj: unknown, dataBytes: number, pad = true): Buffer {
  let json = Buffer.from(JSON.stringify(obj));
  if (pad && json.length % 8) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

const valid = {
  w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
  b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
};

function expectBad(bytes: Uint8Array, pattern: RegExp): void {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-bad-'));
  const path = join(dir, 'bad.safetensors');
  try {
    writeFileSync(path, bytes);
    const started = Date.now();
    assert.throws(
      () => readSafetensors(path),
      (err: unknown) => {
        assert.ok(err instanceof CheckpointFormatError, `expected CheckpointFormatError, got ${String(err)}`);
        assert.ok(err.message.startsWith(path), `message names the file: ${err.message}`);
        assert.match(err.message, pattern);
        return true;
      },
    );
    assert.ok(Date.now() - started < 2000, 'refused in bounded time');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bad input: the valid base case reads', () => {
  assert.equal(readSafetensorsBuffer(header(valid, 24)).tensors.size, 2);
});

test('bad input: header length beyond the file, and 2^63', () => {
  const b = header(valid, 24);
  b.writeBigUInt64LE(BigInt(b.length), 0);
  expectBad(b, /header length \d+ is beyond the end of the file/);
  b.writeBigUInt64LE(2n ** 63n, 0);
  expectBad(b, /header length 9223372036854775808 is beyond the end/);
  b.writeBigUInt64LE(2n ** 64n - 1n, 0);
  expectBad(b, /header length 18446744073709551615/);
  expectBad(Buffer.from([1, 2, 3]), /too short/);
});

test('bad input: header not JSON, not an object, not UTF-8', () => {
  const b = header(valid, 24);
  b.write('{"w":', 8);
  b[13] = 0x7b; // '{' somewhere breaks the structure
  b.write('xx', 14);
  expectBad(b, /header is not valid JSON/);
  expectBad(header([1, 2], 0), /does not start with '\{'/);
  const c = header(valid, 24);
  c[10] = 0xff;
  expectBad(c, /not valid UTF-8/);
});

test('bad input: unknown dtype', () => {
  expectBad(
    header({ ...valid, w: { dtype: 'F8_E4M3', shape: [16], data_offsets: [0, 16] } }, 24),
    /tensor "w": unknown or unsupported dtype "F8_E4M3"/,
  );
  expectBad(
    header({ ...valid, w: { dtype: 7, shape: [16], data_offsets: [0, 16] } }, 24),
    /unknown or unsupported dtype 7/,
  );
});

test('bad input: shape disagreeing with the byte range', () => {
  expectBad(
    header({ ...valid, w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, 24),
    /needs 24 bytes but data_offsets \[0, 16\] hold 16/,
  );
  expectBad(
    header({ ...valid, w: { dtype: 'F32', shape: [2, -2], data_offsets: [0, 16] } }, 24),
    /not a list of non-negative integers/,
  );
  expectBad(
    header({ ...valid, w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }, 24),
    /too large/,
  );
});

test('bad input: ranges outside the file, overlapping, with gaps, trailing bytes', () => {
  expectBad(
    header({ ...valid, b: { dtype: 'F32', shape: [2], data_offsets: [24, 32] } }, 24),
    /outside the data section of 24 bytes/,
  );
  expectBad(header({ ...valid, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 24), /overlap tensor/);
  expectBad(header({ ...valid, b: { dtype: 'F32', shape: [2], data_offsets: [20, 28] } }, 28), /gap of 4 bytes/);
  expectBad(header(valid, 32), /8 trailing bytes/);
  expectBad(header({ ...valid, b: { dtype: 'F32', shape: [2], data_offsets: [16, 8] } }, 24), /begin <= end/);
});

test('bad input: a truncated file', () => {
  const good = readFileSync(F32_FILE);
  expectBad(good.subarray(0, good.length - 1), /outside the data section .*truncated/);
  expectBad(good.subarray(0, 5000), /header length 4896 is beyond|outside the data section/);
  expectBad(good.subarray(0, 100), /header length 4896 is beyond the end of the file/);
});

test('bad input: metadata must be a string map', () => {
  expectBad(header({ ...valid, __metadata__: { format: 1 } }, 24), /"__metadata__" value of "format" is not a string/);
});

test('lazy reader validates the header up front and reads tensors on demand', () => {
  const file = openSafetensors(F32_FILE);
  try {
    assert.equal(file.tensors.size, 46);
    const info = file.tensors.get('cls.seq_relationship.weight')!;
    assert.deepEqual(info.shape, [2, 32]);
    const t: TensorEntry = file.read('cls.seq_relationship.weight');
    assert.equal(t.data.length, 64);
    assert.throws(() => file.read('nope'), /no tensor named "nope"/);
  } finally {
    file.close();
  }
});
