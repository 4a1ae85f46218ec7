// A minimal protobuf writer (varint, fixed32, length-delimited fields) for the ONNX exporter; no dependencies.

const encoder = new TextEncoder();

/** One protobuf message under construction: a list of byte chunks (big tensors are never copied until the end). */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  /** int32 / int64 / enum / bool field (negative numbers take 10 bytes, as protobuf requires). */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(typeof value === 'bigint' ? value : BigInt(Math.trunc(value)));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    this.tag(field, 2);
    this.varint(BigInt(value.size));
    for (const c of value.chunks) this.push(c);
    return this;
  }

  /** The encoded message as one buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
