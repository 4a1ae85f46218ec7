// node:crypto for the browser bundle: random bytes (temporary file names); hashing is not on a page's path.
import { Buffer } from './buffer.js';

export function randomBytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

export function createHash(): never {
  throw new Error('crypto.createHash is not available in the browser build of bert-ts');
}

export default { randomBytes, createHash };
