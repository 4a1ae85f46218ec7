// Binary shards of pre-training instances (format in docs/pretraining-data.md): atomic writer, streaming reader.
import { DataError } from './errors.js';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { crc32 } from 'node:zlib';
import type { PretrainingInstance } from './pretraining.js';

export const SHARD_MAGIC = 'BERTPTD\u0000';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 64;
const RECORD_HEADER_BYTES = 8;
/** Header flag: the instances carry their masked positions and labels (static masking). */
export const SHARD_FLAG_MASKED = 1;
/** Header flag: masking was whole-word (informational). */
export const SHARD_FLAG_WHOLE_WORD = 2;

/** What the header of a shard says. */
export interface ShardHeader {
  version: number;
  /** Instances carry masked positions/labels (static masking); false: unmasked, mask at training time. */
  masked: boolean;
  wholeWordMask: boolean;
  /** 2 (uint16 ids, vocabularies up to 65,536 tokens) or 4 (uint32). */
  tokenBytes: 2 | 4;
  maxSeqLength: number;
  maxPredictions: number;
  vocabSize: number;
  instances: number;
  /** Bytes of records after the header. */
  dataBytes: number;
  /** CRC-32 (zlib) of the record bytes. */
  crc32: number;
}

export interface ShardWriterOptions {
  masked: boolean;
  wholeWordMask?: boolean;
  maxSeqLength: number;
  maxPredictions: number;
  vocabSize: number;
}

/**
 * Writes instances to `path` through a temporary file in the same folder; `close()` writes the header (counts and
 * checksum), syncs and renames, so the final name only ever holds a complete shard. `abort()` removes the temporary.
 */
export class ShardWriter {
  private readonly tmp: string;
  private fd: number | null;
  private readonly tokenBytes: 2 | 4;
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private crc = 0;
  private dataBytes = 0;
  private count = 0;

  constructor(
    readonly path: string,
    private readonly options: ShardWriterOptions,
  ) {
    if (options.vocabSize < 1 || options.vocabSize > 0x100000000)
      throw new RangeError(`ShardWriter: bad vocabSize ${options.vocabSize}`);
    if (options.maxSeqLength > 0xffff)
      throw new RangeError(`ShardWriter: maxSeqLength ${options.maxSeqLength} does not fit 16 bits`);
    this.tokenBytes = options.vocabSize <= 0x10000 ? 2 : 4;
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
    writeSync(this.fd, Buffer.alloc(SHARD_HEADER_BYTES)); // placeholder, rewritten by close()
  }

  get instances(): number {
    return this.count;
  }

  write(inst: PretrainingInstance): void {
    if (this.fd === null) throw new DataError(this.path, `write after close`);
    const n = inst.inputIds.length;
    const m = inst.maskedPositions.length;
    const o = this.options;
    if (n > o.maxSeqLength)
      throw new RangeError(`${this.path}: instance of ${n} tokens > maxSeqLength ${o.maxSeqLength}`);
    if (m > o.maxPredictions)
      throw new RangeError(`${this.path}: ${m} predictions > maxPredictions ${o.maxPredictions}`);
    if (!o.masked && m > 0)
      throw new RangeError(`${this.path}: an instance with masked positions in an unmasked shard`);
    const size = RECORD_HEADER_BYTES + n * this.tokenBytes + m * 2 + m * this.tokenBytes;
    if (this.used + size > this.buf.length) this.flush();
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
    const b = this.buf;
    let p = this.used;
    b.writeUInt16LE(n, p);
    b.writeUInt16LE(inst.segmentALength, p + 2);
    b.writeUInt16LE(m, p + 4);
    b.writeUInt8(inst.isRandomNext ? 1 : 0, p + 6);
    b.writeUInt8(0, p + 7);
    p += RECORD_HEADER_BYTES;
    const putIds = (ids: Int32Array): void => {
      for (const id of ids) {
        if (id < 0 || id >= o.vocabSize)
          throw new RangeError(`${this.path}: token id ${id} outside the vocabulary (size ${o.vocabSize})`);
        if (this.tokenBytes === 2) b.writeUInt16LE(id, p);
        else b.writeUInt32LE(id, p);
        p += this.tokenBytes;
      }
    };
    putIds(inst.inputIds);
    for (const pos of inst.maskedPositions) {
      b.writeUInt16LE(pos, p);
      p += 2;
    }
    putIds(inst.maskedLabels);
    this.used = p;
    this.count++;
  }

  private flush(): void {
    if (this.used === 0 || this.fd === null) return;
    const chunk = this.buf.subarray(0, this.used);
    this.crc = crc32(chunk, this.crc);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    this.dataBytes += chunk.length;
    this.used = 0;
  }

  /** Finishes the shard: header, fsync, rename to the final name. Returns the header written. */
  close(): ShardHeader {
    if (this.fd === null) throw new DataError(this.path, `closed twice`);
    try {
      this.flush();
      const header: ShardHeader = {
        version: SHARD_VERSION,
        masked: this.options.masked,
        wholeWordMask: this.options.wholeWordMask ?? false,
        tokenBytes: this.tokenBytes,
        maxSeqLength: this.options.maxSeqLength,
        maxPredictions: this.options.maxPredictions,
        vocabSize: this.options.vocabSize,
        instances: this.count,
        dataBytes: this.dataBytes,
        crc32: this.crc >>> 0,
      };
      writeSync(this.fd, encodeHeader(header), 0, SHARD_HEADER_BYTES, 0);
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
      renameSync(this.tmp, this.path);
      return header;
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Drops the partial shard. */
  abort(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    rmSync(this.tmp, { force: true });
  }
}

function encodeHeader(h: ShardHeader): Buffer {
  const b = Buffer.alloc(SHARD_HEADER_BYTES);
  b.write(SHARD_MAGIC, 0, 'latin1');
  b.writeUInt32LE(h.version, 8);
  b.writeUInt32LE((h.masked ? SHARD_FLAG_MASKED : 0) | (h.wholeWordMask ? SHARD_FLAG_WHOLE_WORD : 0), 12);
  b.writeUInt32LE(h.tokenBytes, 16);
  b.writeUInt32LE(h.maxSeqLength, 20);
  b.writeUInt32LE(h.maxPredictions, 24);
  b.writeUInt32LE(h.vocabSize >>> 0, 28); // 0 stands for 2^32
  b.writeBigUInt64LE(BigInt(h.instances), 32);
  b.writeBigUInt64LE(BigInt(h.dataBytes), 40);
  b.writeUInt32LE(h.crc32 >>> 0, 48);
  return b;
}

function decodeHeader(b: Buffer, file: string, fileBytes: number): ShardHeader {
  if (b.length < SHARD_HEADER_BYTES)
    throw new DataError(
      file,
      `${b.length} bytes, shorter than the ${SHARD_HEADER_BYTES}-byte header (truncated or not a shard)`,
    );
  if (b.toString('latin1', 0, 8) !== SHARD_MAGIC)
    throw new DataError(file, 'not a bert-ts pre-training shard (bad magic)');
  const version = b.readUInt32LE(8);
  if (version !== SHARD_VERSION)
    throw new DataError(file, `shard format version ${version}; this bert-ts reads version ${SHARD_VERSION}`);
  const flags = b.readUInt32LE(12);
  const tokenBytes = b.readUInt32LE(16);
  if (tokenBytes !== 2 && tokenBytes !== 4)
    throw new DataError(file, `token width ${tokenBytes} bytes at byte 16 (must be 2 or 4)`);
  const vocabRaw = b.readUInt32LE(28);
  const h: ShardHeader = {
    version,
    masked: (flags & SHARD_FLAG_MASKED) !== 0,
    wholeWordMask: (flags & SHARD_FLAG_WHOLE_WORD) !== 0,
    tokenBytes,
    maxSeqLength: b.readUInt32LE(20),
    maxPredictions: b.readUInt32LE(24),
    vocabSize: vocabRaw === 0 ? 0x100000000 : vocabRaw,
    instances: Number(b.readBigUInt64LE(32)),
    dataBytes: Number(b.readBigUInt64LE(40)),
    crc32: b.readUInt32LE(48),
  };
  if (SHARD_HEADER_BYTES + h.dataBytes !== fileBytes) {
    throw new DataError(
      file,
      `header says ${SHARD_HEADER_BYTES + h.dataBytes} bytes, the file has ${fileBytes} (truncated or corrupted)`,
    );
  }
  return h;
}

/** Reads just the header of a shard (validated against the file size). */
export function readShardHeader(path: string): ShardHeader {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(SHARD_HEADER_BYTES);
    const got = readSync(fd, b, 0, SHARD_HEADER_BYTES, 0);
    return decodeHeader(b.subarray(0, got), path, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Streams the instances of a shard in file order, holding one read buffer (1 MiB) at a time. Every record is
 * checked (lengths, segment split, positions, ids) and the checksum and count are verified at the end; a problem is
 * a {@link DataError} with the byte offset.
 */
export function* readShard(path: string): Generator<PretrainingInstance> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const hb = Buffer.alloc(SHARD_HEADER_BYTES);
    const got = readSync(fd, hb, 0, SHARD_HEADER_BYTES, 0);
    const h = decodeHeader(hb.subarray(0, got), path, size);
    const w = h.tokenBytes;
    let buf = Buffer.alloc(1 << 20);
    let start = 0; // unread bytes are buf[start, end)
    let end = 0;
    let filePos = SHARD_HEADER_BYTES;
    let crc = 0;
    let count = 0;
    const fill = (need: number): boolean => {
      if (end - start >= need) return true;
      if (start > 0) {
        buf.copy(buf, 0, start, end);
        end -= start;
        start = 0;
      }
      if (need > buf.length) {
        const bigger = Buffer.alloc(need);
        buf.copy(bigger, 0, 0, end);
        buf = bigger;
      }
      while (end < need && filePos < size) {
        const n = readSync(fd, buf, end, buf.length - end, filePos);
        if (n === 0) break;
        crc = crc32(buf.subarray(end, end + n), crc);
        end += n;
        filePos += n;
      }
      return end - start >= need;
    };
    for (;;) {
      const recordAt = filePos - (end - start);
      if (!fill(RECORD_HEADER_BYTES)) {
        if (end - start !== 0) throw new DataError(path, `${end - start} stray bytes at byte ${recordAt}`);
        break;
      }
      const n = buf.readUInt16LE(start);
      const segA = buf.readUInt16LE(start + 2);
      const m = buf.readUInt16LE(start + 4);
      const label = buf.readUInt8(start + 6);
      const bad = (what: string): never => {
        throw new DataError(path, `record ${count} at byte ${recordAt}: ${what}`);
      };
      if (n < 5 || n > h.maxSeqLength) bad(`${n} tokens (must be 5..${h.maxSeqLength})`);
      if (segA < 3 || segA > n - 2) bad(`segment A length ${segA} for ${n} tokens`);
      if (m > h.maxPredictions || (!h.masked && m !== 0))
        bad(`${m} predictions (max ${h.maxPredictions}, masked=${h.masked})`);
      if (label > 1) bad(`next-sentence label ${label}`);
      const size1 = RECORD_HEADER_BYTES + n * w + m * 2 + m * w;
      if (!fill(size1)) bad('truncated');
      let p = start + RECORD_HEADER_BYTES;
      const readIds = (k: number): Int32Array => {
        const out = new Int32Array(k);
        for (let i = 0; i < k; i++) {
          const id = w === 2 ? buf.readUInt16LE(p) : buf.readUInt32LE(p);
          if (id >= h.vocabSize) bad(`token id ${id} >= vocabulary size ${h.vocabSize}`);
          out[i] = id;
          p += w;
        }
        return out;
      };
      const inputIds = readIds(n);
      const maskedPositions = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        const pos = buf.readUInt16LE(p);
        if (pos >= n || (i > 0 && pos <= maskedPositions[i - 1]!)) bad(`masked position ${pos} (must ascend, < ${n})`);
        maskedPositions[i] = pos;
        p += 2;
      }
      const maskedLabels = readIds(m);
      start += size1;
      count++;
      yield { inputIds, segmentALength: segA, isRandomNext: label === 1, maskedPositions, maskedLabels };
    }
    if (count !== h.instances) throw new DataError(path, `holds ${count} instances, its header says ${h.instances}`);
    if (crc >>> 0 !== h.crc32) throw new DataError(path, 'checksum mismatch: the records are corrupted');
  } finally {
    closeSync(fd);
  }
}

/** dataset.json: what a create-pretraining-data output folder holds (written last, so its presence means complete). */
export interface PretrainingDatasetManifest {
  format: 'bert-ts-pretraining-shards';
  version: number;
  /** "static": shards hold masked instances; "dynamic": unmasked, the trainer masks anew each epoch. */
  masking: 'static' | 'dynamic';
  maxSeqLength: number;
  maxPredictionsPerSeq: number;
  maskedLmProb: number;
  shortSeqProb: number;
  dupeFactor: number;
  wholeWordMask: boolean;
  seed: number;
  documentsPerShard: number;
  vocabSize: number;
  /** Ids of [PAD] [UNK] [CLS] [SEP] [MASK] in the vocabulary used. */
  specialIds: { pad: number; unk: number; cls: number; sep: number; mask: number };
  inputs: string[];
  documents: number;
  sentences: number;
  tokens: number;
  instances: number;
  /** Instances whose B is a random next (NSP label 1). */
  randomNext: number;
  /** Masked positions over all instances (static masking). */
  predictions: number;
  shards: Array<{ file: string; instances: number; documents: number; bytes: number }>;
}

export const MANIFEST_FILE = 'dataset.json';

/** Reads and checks dataset.json of a pre-training data folder; errors say what to do. */
export function readDatasetManifest(dir: string): PretrainingDatasetManifest {
  const path = `${dir}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new DataError(
      path,
      `not found; make the folder with \`bert create-pretraining-data --output ${dir}\` (an interrupted run leaves no dataset.json)`,
    );
  }
  let m: PretrainingDatasetManifest;
  try {
    m = JSON.parse(text) as PretrainingDatasetManifest;
  } catch (e) {
    throw new DataError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== 'bert-ts-pretraining-shards')
    throw new DataError(path, `not a bert-ts pre-training dataset (format ${String(m.format)})`);
  if (m.version !== 1) throw new DataError(path, `dataset version ${m.version}; this bert-ts reads version 1`);
  if (!Array.isArray(m.shards) || m.shards.length === 0) throw new DataError(path, `lists no shards`);
  return m;
}

/** Streams every instance of a dataset folder, shard by shard in manifest order. */
export function* readDataset(dir: string, manifest: PretrainingDatasetManifest): Generator<PretrainingInstance> {
  for (const s of manifest.shards) yield* readShard(`${dir}/${s.file}`);
}
