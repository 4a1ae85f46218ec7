// Small file helpers shared by every writer and reader: atomic writes and JSON reading with clear errors.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CheckpointFormatError } from './errors.js';
import { openFileSource, pathIdentity, sameFileIdentity, type ByteSource, type FileIdentity } from './source.js';

/**
 * Write `data` to `path` so that readers see either the old file or the complete new one, never a half
 * file: the bytes go to a temporary file in the same directory (same filesystem, so rename is atomic),
 * which is fsynced, then renamed over `path`, then the directory is fsynced so the rename survives a crash.
 * On any error (disk full, ...) the temporary file is removed and `path` is untouched.
 * `data` may be an iterable of chunks, so large files are written without first concatenating them.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<Uint8Array>, mode = 0o644): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', mode);
  let ok = false;
  try {
    const chunks: Iterable<Uint8Array> =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
    }
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) {
      try {
        unlinkSync(tmp);
      } catch {
        // The original error matters more than a leftover temporary file.
      }
    }
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // ignore, see above
    }
    throw err;
  }
  syncDirectory(dir);
}

/**
 * The tokenizer files of a model folder, as HF's save_pretrained writes them: vocab.txt or tokenizer.json defines
 * the vocabulary, the other two hold its settings and special tokens.
 */
export const TOKENIZER_FILES = [
  'vocab.txt',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

/** Copies the tokenizer files that folder `from` has into folder `to` (each written atomically); returns their names. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  const present = TOKENIZER_FILES.filter((f) => existsSync(join(from, f)));
  for (const f of present) writeFileAtomic(join(to, f), readFileSync(join(from, f)));
  return present;
}

/** fsync a directory so a rename in it is durable; some platforms cannot open directories, which is fine. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Line and column (1-based) of a character offset in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * Offset of the first JSON syntax error in `text` (V8's messages do not always carry one), or -1.
 * An iterative scanner (no recursion, so deep nesting cannot overflow the stack).
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const stack: Array<'{' | '['> = [];
  // States: expecting a value, or after a value (expecting , ] } or end).
  let expectValue = true;
  let expectKey = false;
  for (;;) {
    ws();
    if (expectValue) {
      if (i >= n) return i;
      const c = text[i]!;
      if (expectKey) {
        if (c !== '"') return i;
      }
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          expectValue = false;
          continue;
        }
        expectKey = c === '{';
        continue;
      }
      if (c === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          const code = text.charCodeAt(i);
          if (code < 0x20) return i;
          if (text[i] === '\\') {
            const e = text[i + 1];
            if (e === 'u') {
              if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return i;
              i += 6;
              continue;
            }
            if (e === undefined || !'"\\/bfnrt'.includes(e)) return i;
            i += 2;
            continue;
          }
          i++;
        }
        if (i >= n) return i;
        i++;
        if (expectKey) {
          ws();
          if (text[i] !== ':') return i;
          i++;
          expectKey = false;
          continue; // the member's value follows
        }
      } else {
        const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
        if (!m) return i;
        i += m[0].length;
      }
      expectValue = false;
      continue;
    }
    if (stack.length === 0) return i < n ? i : -1;
    const c = text[i];
    const open = stack[stack.length - 1]!;
    if (c === ',') {
      i++;
      expectValue = true;
      expectKey = open === '{';
    } else if ((c === '}' && open === '{') || (c === ']' && open === '[')) {
      stack.pop();
      i++;
    } else {
      return i;
    }
  }
}

/** Parse JSON text, turning a syntax error into a CheckpointFormatError with line and column. */
export function parseJsonText(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = jsonErrorOffset(text);
    let where = '';
    if (offset >= 0) {
      const { line, column } = lineColumn(text, offset);
      where = offset >= text.length ? ' (unexpected end of file)' : ` at line ${line}, column ${column}`;
    }
    throw new CheckpointFormatError(file, `${what} is not valid JSON${where}: ${message}`, { cause: err });
  }
}

/**
 * Read and parse a JSON file. `what` names it in errors ("config.json", "tokenizer config").
 * A missing/unreadable file and invalid JSON are CheckpointFormatErrors naming the file (invalid JSON with the line
 * and column of the syntax error). The file is read from one descriptor and must not change while it is read;
 * `snapshot`, when given, remembers the version read (see {@link FolderSnapshot}). The result is `unknown`: the
 * caller validates its shape.
 */
export function readJsonFile(path: string, what = 'JSON file', snapshot?: FolderSnapshot): unknown {
  let text = readTextFile(path, what, snapshot);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM is not JSON, but editors write it
  return parseJsonText(text, path, what);
}

/** The largest JSON / text file read (a config.json is a few KB, a tokenizer.json a few MB; V8 strings end at 512 MiB). */
export const MAX_TEXT_FILE_BYTES = 256 * 2 ** 20;

/** A whole UTF-8 text file, read from one descriptor; CheckpointFormatError if it is missing or changes meanwhile. */
export function readTextFile(path: string, what: string, snapshot?: FolderSnapshot): string {
  let source: ByteSource;
  try {
    source = openFileSource(path);
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    const reason =
      code === 'ENOENT'
        ? 'file not found'
        : err instanceof CheckpointFormatError
          ? err.problem
          : (err as Error).message;
    throw new CheckpointFormatError(path, `cannot read ${what}: ${reason}`, { cause: err });
  }
  try {
    if (source.size > MAX_TEXT_FILE_BYTES) {
      throw new CheckpointFormatError(
        path,
        `${what} is ${source.size} bytes; text files over ${MAX_TEXT_FILE_BYTES} bytes (256 MiB) are refused`,
      );
    }
    const bytes = Buffer.alloc(source.size);
    source.readInto(bytes, 0);
    source.checkUnchanged();
    snapshot?.record(path, source.identity!);
    return bytes.toString('utf8');
  } finally {
    source.close();
  }
}

/**
 * The files read while loading one folder (a model: config.json, then the weights), each with the version that
 * was read. {@link verify}, called once everything is read, refuses the load when any of them has since been
 * replaced, rewritten or deleted: what was read is then the folder as it was at one moment, never a mix of an
 * old config.json and new weights.
 */
export class FolderSnapshot {
  private readonly files = new Map<string, FileIdentity>();

  record(path: string, identity: FileIdentity | undefined): void {
    if (identity) this.files.set(path, identity);
  }

  /** The paths recorded, in the order they were read. */
  get paths(): string[] {
    return [...this.files.keys()];
  }

  verify(): void {
    for (const [path, identity] of this.files) {
      const now = pathIdentity(path);
      if (now === null || !sameFileIdentity(identity, now)) {
        const how =
          now === null ? 'was deleted or renamed away' : now.ino !== identity.ino ? 'was replaced' : 'was rewritten';
        throw new CheckpointFormatError(
          path,
          `${how} while the folder was being loaded, so the files read may not belong together; load it again`,
        );
      }
    }
  }
}
