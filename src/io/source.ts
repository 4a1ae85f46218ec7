// Random-access byte sources (a file by descriptor, or a buffer) so readers never load more than they need.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes that can be read at any position; `size` is fixed when opened. */
export interface ByteSource {
  /** Name used in error messages (the file path, or a label for in-memory data). */
  readonly name: string;
  readonly size: number;
  /** Fill `target` entirely from `position`; throws if the source ends first. */
  readInto(target: Uint8Array, position: number): void;
  close(): void;
}

/** A file opened read-only; reads go straight into the caller's arrays (no intermediate copy). */
export function openFileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${path}: not a regular file`);
    size = stat.size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    name: path,
    size,
    readInto(target: Uint8Array, position: number): void {
      let done = 0;
      // readSync may return fewer bytes than asked (large reads are split), so loop until full.
      while (done < target.length) {
        const n = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
        if (n === 0) throw new Error(`${path}: file ended at byte ${position + done} (it shrank while being read?)`);
        done += n;
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
    close(): void {},
  };
}
