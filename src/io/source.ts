// Random-access byte sources (a file by descriptor, or a buffer) so readers never load more than they need.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { CheckpointFormatError } from './errors.js';

/**
 * One version of a file: replacing it (a rename over it), truncating it or writing into it changes at least one
 * of these (ctime changes on every write and on a rename of the inode, even when mtime is set back).
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The identity fields of a `BigIntStats` (typed structurally so that the public .d.ts need no @types/node). */
export function fileIdentity(stat: Readonly<FileIdentity>): FileIdentity {
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs };
}

export function sameFileIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The identity of the file now at `path`, or null when there is none (deleted, renamed away). */
export function pathIdentity(path: string): FileIdentity | null {
  const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stat ? fileIdentity(stat) : null;
}

/** Bytes that can be read at any position; `size` is fixed when opened. */
export interface ByteSource {
  /** Name used in error messages (the file path, or a label for in-memory data). */
  readonly name: string;
  readonly size: number;
  /** The version of the file opened; absent for in-memory data. */
  readonly identity?: FileIdentity;
  /** Fill `target` entirely from `position`; throws if the source ends first. */
  readInto(target: Uint8Array, position: number): void;
  /** Throws CheckpointFormatError if the file was written to, truncated or grown since it was opened. */
  checkUnchanged(): void;
  close(): void;
}

/** Why a file could not be opened, in words. */
function openProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file (deleted or renamed away?)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return `cannot open: ${(err as Error).message}`;
}

/**
 * A file opened read-only; reads go straight into the caller's arrays (no intermediate copy). Every read uses the
 * one descriptor, so a file replaced by a rename while it is read is still read whole, in its old version.
 */
export function openFileSource(path: string): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CheckpointFormatError(path, openProblem(err), { cause: err });
  }
  let identity: FileIdentity;
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) throw new CheckpointFormatError(path, 'not a regular file');
    identity = fileIdentity(stat);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const size = Number(identity.size);
  let open = true;
  return {
    name: path,
    size,
    identity,
    readInto(target: Uint8Array, position: number): void {
      let done = 0;
      // readSync may return fewer bytes than asked (large reads are split), so loop until full.
      while (done < target.length) {
        const n = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
        if (n === 0)
          throw new CheckpointFormatError(
            path,
            `file ended at byte ${position + done} of ${size}: it shrank while being read`,
          );
        done += n;
      }
    },
    checkUnchanged(): void {
      if (!sameFileIdentity(identity, fileIdentity(fstatSync(fd, { bigint: true })))) {
        throw new CheckpointFormatError(
          path,
          'the file was written to while being read (truncated, grown or rewritten in place); read it again',
        );
      }
    },
    close(): void {
      if (open) {
        open = false;
        closeSync(fd);
      }
    },
  };
}

/** An in-memory source (tests, fuzzing, data already downloaded). */
export function bufferSource(bytes: Uint8Array, name = '<buffer>'): ByteSource {
  return {
    name,
    size: bytes.length,
    readInto(target: Uint8Array, position: number): void {
      if (position < 0 || position + target.length > bytes.length) {
        throw new Error(`${name}: read of ${target.length} bytes at ${position} is past the end (${bytes.length})`);
      }
      target.set(bytes.subarray(position, position + target.length));
    },
    checkUnchanged(): void {},
    close(): void {},
  };
}
