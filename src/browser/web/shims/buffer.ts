// The subset of Node's Buffer the library uses on a page's path (utf8/hex/base64/latin1 strings, concat, compare,
// little-endian integer writes), as a Uint8Array subclass; injected as the global Buffer in the browser bundle.
type Encoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'latin1' | 'binary' | 'ascii';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromString(s: string, enc: Encoding): Uint8Array {
  if (enc === 'hex') {
    const out = new Uint8Array(s.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  if (enc === 'base64') {
    const bin = atob(s.replace(/[^A-Za-z0-9+/]/g, '').padEnd(Math.ceil(s.replace(/=+$/, '').length / 4) * 4, '='));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  return encoder.encode(s);
}

export class BufferBytes extends Uint8Array {
  override toString(enc: Encoding = 'utf8', start = 0, end = this.length): string {
    const bytes = this.subarray(start, end);
    if (enc === 'hex') return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
    if (enc === 'base64') return btoa(Array.from(bytes, (x) => String.fromCharCode(x)).join(''));
    if (enc === 'latin1' || enc === 'binary' || enc === 'ascii')
      return Array.from(bytes, (x) => String.fromCharCode(x)).join('');
    return decoder.decode(bytes);
  }

  equals(other: Uint8Array): boolean {
    return compare(this, other) === 0;
  }

  copy(target: Uint8Array, targetStart = 0, start = 0, end = this.length): number {
    const part = this.subarray(start, Math.min(end, start + target.length - targetStart));
    target.set(part, targetStart);
    return part.length;
  }

  view(): DataView {
    return new DataView(this.buffer, this.byteOffset, this.byteLength);
  }

  writeUInt16LE(v: number, at = 0): number {
    this.view().setUint16(at, v, true);
    return at + 2;
  }

  writeUInt32LE(v: number, at = 0): number {
    this.view().setUint32(at, v, true);
    return at + 4;
  }

  writeBigUInt64LE(v: bigint, at = 0): number {
    this.view().setBigUint64(at, v, true);
    return at + 8;
  }

  readUInt16LE(at = 0): number {
    return this.view().getUint16(at, true);
  }

  readUInt32LE(at = 0): number {
    return this.view().getUint32(at, true);
  }

  readBigUInt64LE(at = 0): bigint {
    return this.view().getBigUint64(at, true);
  }
}

function from(
  value: string | ArrayLike<number> | ArrayBufferLike | Iterable<number>,
  enc: Encoding = 'utf8',
): BufferBytes {
  if (typeof value === 'string') {
    const bytes = fromString(value, enc);
    return new BufferBytes(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
  }
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer))
    return new BufferBytes(value as ArrayBuffer);
  const bytes = Uint8Array.from(value as ArrayLike<number>);
  const out = new BufferBytes(bytes.length);
  out.set(bytes);
  return out;
}

function alloc(size: number, fill = 0): BufferBytes {
  const b = new BufferBytes(size);
  if (fill) b.fill(fill);
  return b;
}

function allocUnsafe(size: number): BufferBytes {
  return new BufferBytes(size);
}

function isBuffer(value: unknown): value is BufferBytes {
  return value instanceof BufferBytes;
}

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

function concat(list: readonly Uint8Array[], total?: number): BufferBytes {
  const size = total ?? list.reduce((n, b) => n + b.length, 0);
  const out = new BufferBytes(size);
  let at = 0;
  for (const b of list) {
    if (at >= size) break;
    out.set(b.subarray(0, size - at), at);
    at += b.length;
  }
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0) ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Node's Buffer: the byte class with its static constructors (from shadows Uint8Array.from, as in Node). */
export const Buffer = Object.assign(BufferBytes, { from, alloc, allocUnsafe, isBuffer, byteLength, concat, compare });
export type Buffer = BufferBytes;
export default { Buffer };
