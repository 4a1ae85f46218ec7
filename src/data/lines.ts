// Streaming text input: lines of a plain or gzipped file, and whole-file reads, with clear errors for missing/empty files.
import { DataError } from './errors.js';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip, gunzipSync } from 'node:zlib';
import type { Readable } from 'node:stream';

/** Throws a specific error when `path` is missing, a folder, or empty. */
export function assertReadableFile(path: string): void {
  if (!existsSync(path)) throw new DataError(path, `file not found`);
  const st = statSync(path);
  if (st.isDirectory()) throw new DataError(path, `is a folder, expected a file`);
  if (st.size === 0) throw new DataError(path, `file is empty`);
}

/** A readable stream of the file's bytes, gunzipped on the fly when the name ends in .gz. */
function openStream(path: string): Readable {
  const raw = createReadStream(path);
  if (!path.endsWith('.gz')) return raw;
  const gz = createGunzip();
  raw.on('error', (e) => gz.destroy(e));
  return raw.pipe(gz);
}

/** Yields [lineNumber (1-based), line] for every line of a text file (.gz gunzipped while streaming). */
export async function* readLines(path: string): AsyncGenerator<[number, string]> {
  assertReadableFile(path);
  const stream = openStream(path);
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of rl) {
      n++;
      yield [n, n === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line];
    }
  } catch (e) {
    throw new DataError(path, `read failed after line ${n}: ${(e as Error).message}`);
  } finally {
    rl.close();
    stream.destroy();
  }
}

/** Every non-blank line of a JSON lines file parsed as a JSON object, with "file:line" for error messages. */
export async function* readJsonlObjects(path: string): AsyncGenerator<{ where: string; row: Record<string, unknown> }> {
  for await (const [lineNo, line] of readLines(path)) {
    if (line.trim() === '') continue;
    const where = `${path}:${lineNo}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new DataError(where, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new DataError(where, `expected a JSON object per line`);
    yield { where, row: row as Record<string, unknown> };
  }
}

/** The whole file as UTF-8 text (gunzipped when .gz), BOM removed. */
export async function readText(path: string): Promise<string> {
  assertReadableFile(path);
  let buf = await readFile(path);
  if (path.endsWith('.gz')) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new DataError(path, `not a valid gzip file (${(e as Error).message})`);
    }
  }
  const text = buf.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
