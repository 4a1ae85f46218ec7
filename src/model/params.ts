// The flat parameter buffer: every parameter and its gradient as named views over two Float32Arrays.

/** One named parameter: `data` and `grad` are views into the model's flat buffers (same offset, same length). */
export interface Parameter {
  name: string;
  shape: number[];
  data: Float32Array;
  grad: Float32Array;
}

export interface ParamSpec {
  name: string;
  shape: number[];
}

interface Entry {
  offset: number;
  size: number;
  shape: number[];
}

export class ParameterStore {
  /** All parameters, in allocation order, contiguous. */
  readonly data: Float32Array;
  /** All gradients, same layout as `data`. */
  readonly grad: Float32Array;
  private readonly entries = new Map<string, Entry>();
  private readonly aliases = new Map<string, string>();
  readonly order: string[] = [];

  constructor(specs: ParamSpec[]) {
    let offset = 0;
    for (const s of specs) {
      if (this.entries.has(s.name)) throw new Error(`ParameterStore: duplicate parameter ${s.name}`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      this.entries.set(s.name, { offset, size, shape: s.shape.slice() });
      this.order.push(s.name);
      offset += size;
    }
    this.data = new Float32Array(offset);
    this.grad = new Float32Array(offset);
  }

  /** Makes `alias` another name of `target` (tied weights share storage and gradient). */
  alias(alias: string, target: string): void {
    if (!this.entries.has(target)) throw new Error(`ParameterStore: alias target ${target} does not exist`);
    this.aliases.set(alias, target);
  }

  resolve(name: string): string | undefined {
    if (this.entries.has(name)) return name;
    return this.aliases.get(name);
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  isAlias(name: string): boolean {
    return this.aliases.has(name);
  }

  private entry(name: string): Entry {
    const r = this.resolve(name);
    const e = r === undefined ? undefined : this.entries.get(r);
    if (!e) throw new Error(`unknown parameter ${name}`);
    return e;
  }

  shape(name: string): number[] {
    return this.entry(name).shape.slice();
  }

  /** The parameter's values (a view: writes change the model). */
  view(name: string): Float32Array {
    const e = this.entry(name);
    return this.data.subarray(e.offset, e.offset + e.size);
  }

  /** The parameter's gradient (a view). */
  gradView(name: string): Float32Array {
    const e = this.entry(name);
    return this.grad.subarray(e.offset, e.offset + e.size);
  }

  /** A view over several parameters that are adjacent in the buffer (e.g. query/key/value weights). */
  span(first: string, count: number): { data: Float32Array; grad: Float32Array } {
    const e = this.entry(first);
    const idx = this.order.indexOf(this.resolve(first)!);
    let size = 0;
    for (let i = 0; i < count; i++) size += this.entries.get(this.order[idx + i]!)!.size;
    return { data: this.data.subarray(e.offset, e.offset + size), grad: this.grad.subarray(e.offset, e.offset + size) };
  }

  /** Every parameter (aliases excluded), in buffer order. */
  parameters(): Parameter[] {
    return this.order.map((name) => ({
      name,
      shape: this.shape(name),
      data: this.view(name),
      grad: this.gradView(name),
    }));
  }
}
