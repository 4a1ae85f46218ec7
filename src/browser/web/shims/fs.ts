// node:fs for the browser bundle: an in-memory file system. A page mounts files into it (fetched model folders,
// a user-chosen CSV: see src/browser/web/files.ts), and the library's readers and writers (fromPretrained, finetune's
// output folder, the Trainer's checkpoints) run on it unchanged. Paths are POSIX; the working directory is '/'.
import { Buffer } from './buffer.js';
import { dirname, resolve } from './path.js';

interface Entry {
  data: Uint8Array;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

const files = new Map<string, Entry>();
const dirs = new Set<string>(['/']);
let nextIno = 1;

function fsError(code: string, syscall: string, path: string): Error {
  const err = new Error(`${code}: ${syscall} '${path}'`) as Error & { code: string; path: string; syscall: string };
  err.code = code;
  err.path = path;
  err.syscall = syscall;
  return err;
}

function addParents(path: string): void {
  for (let d = dirname(path); !dirs.has(d); d = dirname(d)) dirs.add(d);
}

function touch(path: string, data: Uint8Array): Entry {
  const p = resolve(path);
  addParents(p);
  const now = Date.now();
  const entry: Entry = { data, ino: nextIno++, mtimeMs: now, ctimeMs: now };
  files.set(p, entry);
  return entry;
}

/** Puts `data` at `path` in the in-memory file system (parent folders are created). */
export function mountFile(path: string, data: Uint8Array | ArrayBuffer | string): void {
  touch(path, typeof data === 'string' ? Buffer.from(data) : data instanceof Uint8Array ? data : new Uint8Array(data));
}

/** Every file path under `dir` (recursively), sorted. */
export function listFiles(dir = '/'): string[] {
  const root = resolve(dir);
  const prefix = root === '/' ? '/' : `${root}/`;
  return [...files.keys()].filter((p) => p.startsWith(prefix)).sort();
}

export interface StatOptions {
  bigint?: boolean;
  throwIfNoEntry?: boolean;
}

function makeStats(entry: Entry | null, bigint: boolean): unknown {
  const size = entry ? entry.data.length : 0;
  const mtimeMs = entry ? entry.mtimeMs : 0;
  const ctimeMs = entry ? entry.ctimeMs : 0;
  const n = (x: number): number | bigint => (bigint ? BigInt(Math.round(x)) : x);
  return {
    isFile: () => entry !== null,
    isDirectory: () => entry === null,
    isSymbolicLink: () => false,
    size: n(size),
    dev: n(1),
    ino: n(entry ? entry.ino : 0),
    mode: n(entry ? 0o100644 : 0o40755),
    mtimeMs: n(mtimeMs),
    ctimeMs: n(ctimeMs),
    mtimeNs: bigint ? BigInt(Math.round(mtimeMs)) * 1_000_000n : mtimeMs * 1e6,
    ctimeNs: bigint ? BigInt(Math.round(ctimeMs)) * 1_000_000n : ctimeMs * 1e6,
    mtime: new Date(mtimeMs),
    ctime: new Date(ctimeMs),
  };
}

export function existsSync(path: string): boolean {
  const p = resolve(String(path));
  return files.has(p) || dirs.has(p);
}

export function statSync(path: string, options: StatOptions = {}): unknown {
  const p = resolve(String(path));
  const entry = files.get(p);
  if (entry) return makeStats(entry, options.bigint === true);
  if (dirs.has(p)) return makeStats(null, options.bigint === true);
  if (options.throwIfNoEntry === false) return undefined;
  throw fsError('ENOENT', 'stat', p);
}
export const lstatSync = statSync;

export function realpathSync(path: string): string {
  const p = resolve(String(path));
  if (!existsSync(p)) throw fsError('ENOENT', 'realpath', p);
  return p;
}

export function readFileSync(path: string | number, options?: string | { encoding?: string }): Buffer | string {
  const entry = typeof path === 'number' ? openFiles.get(path)?.entry : files.get(resolve(path));
  if (!entry) {
    const p = resolve(String(path));
    throw fsError(dirs.has(p) ? 'EISDIR' : 'ENOENT', 'open', p);
  }
  const encoding = typeof options === 'string' ? options : options?.encoding;
  const bytes = Buffer.from(entry.data) as Buffer;
  return encoding ? bytes.toString(encoding as 'utf8') : bytes;
}

export function writeFileSync(path: string, data: string | Uint8Array): void {
  const p = resolve(path);
  if (!dirs.has(dirname(p))) throw fsError('ENOENT', 'open', p);
  touch(p, typeof data === 'string' ? Buffer.from(data) : Uint8Array.from(data));
}

export function appendFileSync(path: string, data: string | Uint8Array): void {
  const p = resolve(path);
  const old = files.get(p)?.data ?? new Uint8Array(0);
  writeFileSync(p, Buffer.concat([old, typeof data === 'string' ? Buffer.from(data) : data]));
}

export function mkdirSync(path: string, options: { recursive?: boolean } = {}): string | undefined {
  const p = resolve(path);
  if (files.has(p)) throw fsError('EEXIST', 'mkdir', p);
  if (dirs.has(p)) {
    if (options.recursive) return undefined;
    throw fsError('EEXIST', 'mkdir', p);
  }
  if (!options.recursive && !dirs.has(dirname(p))) throw fsError('ENOENT', 'mkdir', p);
  addParents(p);
  dirs.add(p);
  return p;
}

let tempCounter = 0;
export function mkdtempSync(prefix: string): string {
  const p = `${prefix}${(tempCounter++).toString(36).padStart(6, '0')}`;
  mkdirSync(p, { recursive: true });
  return resolve(p);
}

function children(p: string): string[] {
  const prefix = p === '/' ? '/' : `${p}/`;
  const names = new Set<string>();
  for (const key of [...files.keys(), ...dirs])
    if (key.startsWith(prefix) && key !== p) names.add(key.slice(prefix.length).split('/')[0] ?? '');
  names.delete('');
  return [...names].sort();
}

export function readdirSync(path: string, options: { withFileTypes?: boolean } = {}): unknown[] {
  const p = resolve(path);
  if (!dirs.has(p)) throw fsError(files.has(p) ? 'ENOTDIR' : 'ENOENT', 'scandir', p);
  const names = children(p);
  if (!options.withFileTypes) return names;
  return names.map((name) => {
    const isDir = dirs.has(resolve(p, name));
    return { name, isFile: () => !isDir, isDirectory: () => isDir, isSymbolicLink: () => false };
  });
}

export function unlinkSync(path: string): void {
  const p = resolve(path);
  if (!files.delete(p)) throw fsError('ENOENT', 'unlink', p);
}

export function rmSync(path: string, options: { recursive?: boolean; force?: boolean } = {}): void {
  const p = resolve(path);
  if (files.delete(p)) return;
  if (!dirs.has(p)) {
    if (options.force) return;
    throw fsError('ENOENT', 'rm', p);
  }
  if (!options.recursive && children(p).length > 0) throw fsError('ENOTEMPTY', 'rm', p);
  const prefix = `${p}/`;
  for (const key of [...files.keys()]) if (key.startsWith(prefix)) files.delete(key);
  for (const key of [...dirs]) if (key.startsWith(prefix)) dirs.delete(key);
  if (p !== '/') dirs.delete(p);
}
export const rmdirSync = rmSync;

export function renameSync(from: string, to: string): void {
  const a = resolve(from);
  const b = resolve(to);
  const entry = files.get(a);
  if (entry) {
    files.delete(a);
    addParents(b);
    entry.ctimeMs = Date.now();
    files.set(b, entry);
    return;
  }
  if (!dirs.has(a)) throw fsError('ENOENT', 'rename', a);
  rmSync(b, { recursive: true, force: true });
  const prefix = `${a}/`;
  for (const [key, e] of [...files]) {
    if (!key.startsWith(prefix)) continue;
    files.delete(key);
    files.set(b + key.slice(a.length), e);
  }
  for (const key of [...dirs]) {
    if (key !== a && !key.startsWith(prefix)) continue;
    dirs.delete(key);
    dirs.add(b + key.slice(a.length));
  }
  addParents(b);
}

export function copyFileSync(from: string, to: string): void {
  writeFileSync(to, readFileSync(from) as Uint8Array);
}

// Descriptors: reads see the entry opened; writes collect chunks and replace the entry's bytes on each write.
interface OpenFile {
  path: string;
  entry: Entry;
  chunks: Uint8Array[] | null;
}
const openFiles = new Map<number, OpenFile>();
let nextFd = 3;

export function openSync(path: string, flags: string | number = 'r'): number {
  const p = resolve(path);
  const fd = nextFd++;
  if (flags === 'r' || flags === 0) {
    const entry = files.get(p);
    if (!entry) throw fsError(dirs.has(p) ? 'EISDIR' : 'ENOENT', 'open', p);
    openFiles.set(fd, { path: p, entry, chunks: null });
    return fd;
  }
  if (dirs.has(p) && flags === 'r+') {
    // syncDirectory opens a folder to fsync it: nothing to do in memory.
    openFiles.set(fd, { path: p, entry: { data: new Uint8Array(0), ino: 0, mtimeMs: 0, ctimeMs: 0 }, chunks: null });
    return fd;
  }
  if (String(flags).includes('x') && existsSync(p)) throw fsError('EEXIST', 'open', p);
  if (!dirs.has(dirname(p))) throw fsError('ENOENT', 'open', p);
  openFiles.set(fd, { path: p, entry: touch(p, new Uint8Array(0)), chunks: [] });
  return fd;
}

function fileOf(fd: number): OpenFile {
  const f = openFiles.get(fd);
  if (!f) throw fsError('EBADF', 'fd', String(fd));
  return f;
}

export function fstatSync(fd: number, options: StatOptions = {}): unknown {
  const f = fileOf(fd);
  flush(f);
  return makeStats(f.entry, options.bigint === true);
}

export function readSync(
  fd: number,
  target: Uint8Array,
  offset = 0,
  length = target.length - offset,
  position: number | bigint | null = 0,
): number {
  const f = fileOf(fd);
  flush(f);
  const data = f.entry.data;
  const from = Number(position ?? 0);
  const n = Math.max(0, Math.min(length, data.length - from));
  target.set(data.subarray(from, from + n), offset);
  return n;
}

export function writeSync(fd: number, data: Uint8Array | string, offset = 0, length?: number): number {
  const f = fileOf(fd);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data.subarray(offset, offset + (length ?? data.length));
  if (!f.chunks) throw fsError('EBADF', 'write', f.path);
  f.chunks.push(Uint8Array.from(bytes));
  f.entry.mtimeMs = Date.now();
  return bytes.length;
}

/** The written chunks become the file's bytes (once, not per write: a checkpoint is written in many chunks). */
function flush(f: OpenFile): void {
  if (f.chunks && f.chunks.length > 0) {
    f.entry.data =
      f.chunks.length === 1 && f.entry.data.length === 0 ? f.chunks[0]! : Buffer.concat([f.entry.data, ...f.chunks]);
    f.chunks = [];
  }
}

export function fsyncSync(fd: number): void {
  flush(fileOf(fd));
}

export function closeSync(fd: number): void {
  flush(fileOf(fd));
  openFiles.delete(fd);
}

/** A file's bytes as a one-chunk stream (the readline shim, ./readline.ts, reads its `bytes`). */
export function createReadStream(path: string): {
  bytes: Uint8Array;
  on(): unknown;
  pipe<T>(to: T): T;
  destroy(): void;
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array>;
} {
  const bytes = readFileSync(path) as Uint8Array;
  const stream = {
    bytes,
    on: () => stream,
    pipe: <T>(to: T): T => to,
    destroy: () => {},
    async *[Symbol.asyncIterator]() {
      yield bytes;
    },
  };
  return stream;
}
export function createWriteStream(): never {
  throw new Error('fs.createWriteStream is not available in the browser build of bert-ts');
}
export function symlinkSync(): never {
  throw new Error('fs.symlinkSync is not available in the browser build of bert-ts');
}

export const promises = {
  readFile: async (path: string, options?: string | { encoding?: string }) => readFileSync(path, options),
  writeFile: async (path: string, data: string | Uint8Array) => writeFileSync(path, data),
  mkdir: async (path: string, options?: { recursive?: boolean }) => mkdirSync(path, options),
  rm: async (path: string, options?: { recursive?: boolean; force?: boolean }) => rmSync(path, options),
  stat: async (path: string, options?: StatOptions) => statSync(path, options),
  open: async (path: string, flags?: string) => {
    const fd = openSync(path, flags);
    return {
      fd,
      stat: async (options?: StatOptions) => fstatSync(fd, options),
      read: async (target: Uint8Array, offset: number, length: number, position: number) => ({
        bytesRead: readSync(fd, target, offset, length, position),
        buffer: target,
      }),
      close: async () => closeSync(fd),
    };
  },
};

export const constants = { F_OK: 0, R_OK: 4, W_OK: 2, O_RDONLY: 0 };
export default {
  existsSync,
  statSync,
  lstatSync,
  realpathSync,
  readFileSync,
  writeFileSync,
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  unlinkSync,
  rmSync,
  rmdirSync,
  renameSync,
  copyFileSync,
  openSync,
  fstatSync,
  readSync,
  writeSync,
  fsyncSync,
  closeSync,
  createReadStream,
  createWriteStream,
  symlinkSync,
  promises,
  constants,
};
