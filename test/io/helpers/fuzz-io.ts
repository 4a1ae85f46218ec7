// Seeded mutation fuzzer for the checkpoint readers: only CheckpointFormatError may escape, in bounded time.
import { readFileSync } from 'node:fs';
import {
  CheckpointFormatError,
  encodeSafetensors,
  readPytorchBinBuffer,
  readSafetensorsBuffer,
  type WritableTensor,
} from '../../../src/io/index.js';
import { openZip } from '../../../src/io/zip.js';
import { bufferSource } from '../../../src/io/source.js';
import { zipArchive } from './pickle-zip.js';
import { seeded } from '../../helpers/seeded.js';

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x5b, 0x7b, 0x2c, 0x3a, 0x30, 0x39];

/** One random byte-level mutation (flip, set, insert, delete, duplicate, truncate, 8-byte integer). */
export function mutateBytes(input: Uint8Array, rand: () => number, focusEnd = input.length): Uint8Array {
  let b = Buffer.from(input);
  const at = (limit = b.length) => Math.floor(rand() * Math.max(1, limit));
  const pos = () => (rand() < 0.7 ? at(Math.min(focusEnd, b.length)) : at());
  const kinds = Math.floor(rand() * 8);
  switch (kinds) {
    case 0: {
      const p = pos();
      if (b.length) b[p] = b[p]! ^ (1 << Math.floor(rand() * 8));
      break;
    }
    case 1: {
      const p = pos();
      if (b.length) b[p] = INTERESTING[Math.floor(rand() * INTERESTING.length)]!;
      break;
    }
    case 2: {
      const p = pos();
      const n = 1 + at(16);
      b = Buffer.concat([b.subarray(0, p), Buffer.from(Array.from({ length: n }, () => at(256))), b.subarray(p)]);
      break;
    }
    case 3: {
      const p = pos();
      const n = 1 + at(64);
      b = Buffer.concat([b.subarray(0, p), b.subarray(p + n)]);
      break;
    }
    case 4: {
      const p = pos();
      const q = pos();
      const n = 1 + at(64);
      b = Buffer.concat([b.subarray(0, p), b.subarray(q, q + n), b.subarray(p)]);
      break;
    }
    case 5:
      b = b.subarray(0, at());
      break;
    case 6: {
      // an interesting 64-bit or 32-bit little-endian integer somewhere
      const p = pos();
      const values = [
        0n,
        1n,
        2n ** 31n,
        2n ** 32n - 1n,
        2n ** 63n,
        2n ** 64n - 1n,
        BigInt(b.length),
        BigInt(b.length) - 8n,
      ];
      const v = values[Math.floor(rand() * values.length)]!;
      if (p + 8 <= b.length) b.writeBigUInt64LE(v & (2n ** 64n - 1n), p);
      else if (p + 4 <= b.length) b.writeUInt32LE(Number(v & 0xffffffffn), p);
      break;
    }
    default: {
      const p = pos();
      const n = 1 + at(8);
      for (let i = 0; i < n && p + i < b.length; i++) b[p + i] = at(256);
    }
  }
  return b;
}

/** Structure-aware mutation of a safetensors header: rewrite one field of one entry, re-encode the header. */
export function mutateSafetensorsHeader(input: Uint8Array, rand: () => number): Uint8Array {
  const n = Number(Buffer.from(input).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(input.subarray(8, 8 + n)).toString()) as Record<
    string,
    Record<string, unknown>
  >;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = names[Math.floor(rand() * names.length)]!;
  const entry = header[name]!;
  const big = [0, 1, -1, 2 ** 31, 2 ** 53, 1e300, 0.5, 'x', null, [], {}, 2 ** 32 + 4];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 6)) {
    case 0:
      entry['dtype'] = pick(['F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'f32', 3, null]);
      break;
    case 1:
      entry['shape'] = pick([
        [],
        [0],
        [1, 2, 3],
        [2 ** 40, 2 ** 40],
        [-1],
        'x',
        [1.5],
        (entry['shape'] as number[]).map((d) => d * 2),
      ]);
      break;
    case 2:
      (entry['data_offsets'] as unknown[])[Math.floor(rand() * 2)] = pick(big);
      break;
    case 3:
      entry['data_offsets'] = pick([[0, 0], [0], 'x', [1, 0], null]);
      break;
    case 4:
      delete header[name];
      break;
    default:
      header['__metadata__'] = pick([{ format: 'pt' }, { format: 1 }, [], 'x', null]) as Record<string, unknown>;
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + (input.length - 8 - n));
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(input.subarray(8 + n)).copy(out, 8 + json.length);
  return out;
}

export interface FuzzReport {
  cases: number;
  accepted: number;
  rejected: number;
  /** Cases that threw something other than CheckpointFormatError, or took too long. */
  failures: Array<{ target: string; seed: number; iteration: number; error: string }>;
  slowestMs: number;
}

export interface FuzzTarget {
  name: string;
  seedInput: Uint8Array;
  mutate(input: Uint8Array, rand: () => number): Uint8Array;
  read(bytes: Uint8Array): void | Promise<void>;
  /** The errors this target may raise (the library's typed errors); default: CheckpointFormatError. */
  isTyped?(err: unknown): boolean;
}

/** The seed files and mutators over the safetensors and .bin readers. */
export function ioFuzzTargets(fixtures = '../shared/fixtures/hf-tiny'): FuzzTarget[] {
  const small = encodeSafetensors(
    new Map<string, WritableTensor>([
      ['a', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
      ['b', { dtype: 'F16', shape: [4], data: Float32Array.of(1, -2, 0.5, 3) }],
      ['c', { dtype: 'I64', shape: [2], data: BigInt64Array.of(7n, -1n) }],
      ['d', { dtype: 'BF16', shape: [1, 1], data: Float32Array.of(2) }],
    ]),
    { format: 'pt' },
  );
  const f16 = new Uint8Array(readFileSync(`${fixtures}/pretraining_fp16/model.safetensors`));
  const bin = new Uint8Array(readFileSync(`${fixtures}/pretraining_bin/pytorch_model.bin`));
  // Unpack the .bin so the pickle can be mutated and re-zipped with a valid CRC (else CRC stops every case).
  const zip = openZip(bufferSource(bin, 'seed.bin'));
  const files = [...zip.entries.values()].map((e) => ({ name: e.name, data: zip.read(e, 1 << 30) }));
  const pklIndex = files.findIndex((f) => f.name.endsWith('/data.pkl'));
  const headerEnd = (b: Uint8Array) => 8 + Number(Buffer.from(b).readBigUInt64LE(0));
  const readSafetensorsInput = (b: Uint8Array): void => void readSafetensorsBuffer(b, 'fuzz.safetensors');
  return [
    {
      name: 'safetensors bytes (small)',
      seedInput: small,
      mutate: (b, r) => mutateBytes(b, r, headerEnd(small)),
      read: readSafetensorsInput,
    },
    {
      name: 'safetensors header fields (F16 fixture)',
      seedInput: f16,
      mutate: mutateSafetensorsHeader,
      read: readSafetensorsInput,
    },
    {
      name: 'safetensors bytes (F16 fixture)',
      seedInput: f16,
      mutate: (b, r) => mutateBytes(b, r, headerEnd(f16)),
      read: readSafetensorsInput,
    },
    {
      name: 'pytorch .bin bytes (zip level)',
      seedInput: bin,
      mutate: (b, r) => mutateBytes(b, r),
      read: (b) => void readPytorchBinBuffer(b, 'fuzz.bin'),
    },
    {
      name: 'pytorch .bin pickle (re-zipped)',
      seedInput: files[pklIndex]!.data,
      mutate: (b, r) => {
        let out = mutateBytes(b, r);
        if (r() < 0.5) out = mutateBytes(out, r);
        return out;
      },
      read: (pkl) => {
        const rezipped = zipArchive(files.map((f, i) => (i === pklIndex ? { name: f.name, data: pkl } : f)));
        void readPytorchBinBuffer(rezipped, 'fuzz.bin');
      },
    },
  ];
}

/**
 * Run `iterations` mutations per target from `seed`; a case slower than `maxCaseMs` counts as a failure.
 * `onCase` is told of each case before it runs (a watchdog can name the case that hangs).
 */
export async function runIoFuzz(
  targets: FuzzTarget[],
  seed: number,
  iterations: number,
  maxCaseMs = 2000,
  onCase?: (target: string, iteration: number) => void,
): Promise<FuzzReport> {
  const report: FuzzReport = { cases: 0, accepted: 0, rejected: 0, failures: [], slowestMs: 0 };
  for (const target of targets) {
    const isTyped = target.isTyped ?? ((err: unknown) => err instanceof CheckpointFormatError);
    for (let i = 0; i < iterations; i++) {
      const rand = seeded(seed * 1_000_003 + i);
      const input = target.mutate(target.seedInput, rand);
      onCase?.(target.name, i);
      const started = performance.now();
      try {
        await target.read(input);
        report.accepted++;
      } catch (err) {
        if (isTyped(err)) report.rejected++;
        else
          report.failures.push({
            target: target.name,
            seed,
            iteration: i,
            error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err),
          });
      }
      const ms = performance.now() - started;
      report.slowestMs = Math.max(report.slowestMs, ms);
      if (ms > maxCaseMs)
        report.failures.push({ target: target.name, seed, iteration: i, error: `took ${ms.toFixed(0)} ms` });
      report.cases++;
    }
  }
  return report;
}
