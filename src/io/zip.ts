// A minimal, bounds-checked zip reader for torch.save archives: central directory, zip64, stored entries only.
import * as zlib from 'node:zlib';
import { CheckpointFormatError } from './errors.js';
import type { ByteSource } from './source.js';

/** One file inside the archive, as the central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is refused when read. */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  readonly name: string;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** Absolute file offset of an entry's data (from its local header), checked to lie inside the file. */
  dataOffset(entry: ZipEntry): number;
  /** Read an entry fully into `target` (length must equal entry.size), verifying its CRC-32. */
  readInto(entry: ZipEntry, target: Uint8Array): void;
  /** Read an entry into a new buffer; refuses entries larger than `maxBytes`. */
  read(entry: ZipEntry, maxBytes: number): Uint8Array;
}

const MAX_ENTRIES = 1_000_000;
const MAX_NAME = 4096;
const crc32: ((data: Uint8Array) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32
    : undefined;

/** Parse the central directory of a zip archive held by `source` (which stays owned by the caller). */
export function openZip(source: ByteSource): ZipArchive {
  const file = source.name;
  const fail = (problem: string): never => {
    throw new CheckpointFormatError(file, problem);
  };
  const size = source.size;
  if (size < 22) fail(`not a zip archive (${size} bytes, too short)`);

  // The end-of-central-directory record is in the last 22 + 65535 (max comment) bytes.
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tail = new Uint8Array(tailLen);
  source.readInto(tail, size - tailLen);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === 0x06054b50 && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    const head = new Uint8Array(Math.min(size, 4));
    source.readInto(head, 0);
    if (head[0] === 0x80 && head[1] === 0x02) {
      fail(
        'this is the legacy (pre-1.6) torch.save format, which is not supported; re-save it with a recent PyTorch or convert it to safetensors',
      );
    }
    fail(
      'not a zip archive (no end-of-central-directory record); a pytorch_model.bin must be written by torch.save (PyTorch >= 1.6)',
    );
  }
  let entryCount = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (tv.getUint16(eocd + 4, true) !== 0 || tv.getUint16(eocd + 6, true) !== 0)
    fail('multi-disk zip archives are not supported');

  // Zip64: torch (miniz) always writes the zip64 end record and its locator just before the classic record.
  const locator = eocd - 20;
  if (locator >= 0 && tv.getUint32(locator, true) === 0x07064b50) {
    const z64Offset = tv.getBigUint64(locator + 8, true);
    if (z64Offset > BigInt(size - 56)) fail(`zip64 end record offset ${z64Offset} is outside the file`);
    const rec = new Uint8Array(56);
    source.readInto(rec, Number(z64Offset));
    const rv = new DataView(rec.buffer);
    if (rv.getUint32(0, true) !== 0x06064b50)
      fail('zip64 end-of-central-directory record is missing where its locator points');
    const big = (at: number, what: string): number => {
      const v = rv.getBigUint64(at, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`zip64 ${what} ${v} is too large`);
      return Number(v);
    };
    entryCount = big(32, 'entry count');
    cdSize = big(40, 'central directory size');
    cdOffset = big(48, 'central directory offset');
  } else if (entryCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail('zip64 values without a zip64 end record');
  }
  if (cdOffset + cdSize > size)
    fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) is outside the file (${size} bytes; truncated?)`);
  if (entryCount > MAX_ENTRIES || entryCount * 46 > cdSize)
    fail(`entry count ${entryCount} does not fit the central directory of ${cdSize} bytes`);

  const cd = new Uint8Array(cdSize);
  source.readInto(cd, cdOffset);
  const cv = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let p = 0;
  for (let k = 0; k < entryCount; k++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== 0x02014b50)
      fail(`central directory entry ${k} is malformed (at byte ${cdOffset + p})`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let usize = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(`central directory entry ${k} runs past the directory`);
    if (nameLen > MAX_NAME) fail(`central directory entry ${k} has a ${nameLen}-byte name`);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extended information: the 0xffffffff fields, in this order, are in extra block 0x0001.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd) fail(`entry ${JSON.stringify(name)}: extra field runs past its end`);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(`entry ${JSON.stringify(name)}: zip64 extra field lacks the ${what}`);
          const v = cv.getBigUint64(q, true);
          q += 8;
          if (v > BigInt(Number.MAX_SAFE_INTEGER))
            fail(`entry ${JSON.stringify(name)}: zip64 ${what} ${v} is too large`);
          return Number(v);
        };
        if (usize === 0xffffffff) usize = next('size');
        if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next('local header offset');
      }
      e += 4 + len;
    }
    if (localHeaderOffset + 30 + compressedSize > size) {
      fail(
        `entry ${JSON.stringify(name)} (offset ${localHeaderOffset}, ${compressedSize} bytes) lies outside the file (truncated?)`,
      );
    }
    if (entries.has(name)) fail(`entry ${JSON.stringify(name)} appears twice`);
    entries.set(name, { name, method, flags, compressedSize, size: usize, crc32: crc, localHeaderOffset });
    p = end;
  }

  const dataOffsets = new Map<ZipEntry, number>();
  const archive: ZipArchive = {
    name: file,
    entries,
    dataOffset(entry: ZipEntry): number {
      const cached = dataOffsets.get(entry);
      if (cached !== undefined) return cached;
      const lh = new Uint8Array(30);
      source.readInto(lh, entry.localHeaderOffset);
      const lv = new DataView(lh.buffer);
      if (lv.getUint32(0, true) !== 0x04034b50)
        fail(`entry ${JSON.stringify(entry.name)}: no local header at offset ${entry.localHeaderOffset}`);
      const offset = entry.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
      if (offset + entry.compressedSize > size)
        fail(
          `entry ${JSON.stringify(entry.name)}: data [${offset}, ${offset + entry.compressedSize}) runs past the end of the file (truncated?)`,
        );
      dataOffsets.set(entry, offset);
      return offset;
    },
    readInto(entry: ZipEntry, target: Uint8Array): void {
      if (entry.flags & 1) fail(`entry ${JSON.stringify(entry.name)} is encrypted`);
      if (entry.method !== 0) {
        fail(
          `entry ${JSON.stringify(entry.name)} is compressed (method ${entry.method}); only stored entries are supported, as torch.save writes them — re-save the file with torch.save or convert it to safetensors`,
        );
      }
      if (entry.compressedSize !== entry.size)
        fail(
          `entry ${JSON.stringify(entry.name)} is stored but its sizes differ (${entry.compressedSize} vs ${entry.size})`,
        );
      if (target.length !== entry.size)
        throw new Error(`zip: target of ${target.length} bytes for entry of ${entry.size}`);
      source.readInto(target, archive.dataOffset(entry));
      if (crc32 && crc32(target) >>> 0 !== entry.crc32) {
        fail(`entry ${JSON.stringify(entry.name)}: CRC-32 mismatch (the file is corrupted)`);
      }
    },
    read(entry: ZipEntry, maxBytes: number): Uint8Array {
      if (entry.size > maxBytes)
        fail(`entry ${JSON.stringify(entry.name)} is ${entry.size} bytes, more than the ${maxBytes}-byte limit`);
      const out = new Uint8Array(entry.size);
      archive.readInto(entry, out);
      return out;
    },
  };
  return archive;
}
