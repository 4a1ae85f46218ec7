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
  /** Values held in the flat buffer: the shape's product, or 0 for an external parameter. */
  size: number;
  shape: number[];
  external: boolean;
}

export class ParameterStore {
  /** All parameters, in allocation order, contiguous. */
  readonly data: Float32Array;
  /** All gradients, same layout as `data`. */
  readonly grad: Float32Array;
  private readonly entries = new Map<string, Entry>();
  private readonly aliases = new Map<string, string>();
  readonly order: string[] = [];

  /**
   * `external`: parameters that keep their shape and name but no values here (a quantized folder's int8 linear
   * weights, held by the layers that compute with them): their views are empty.
   */
  constructor(specs: ParamSpec[], external: ReadonlySet<string> = new Set()) {
    let offset = 0;
    for (const s of specs) {
      if (this.entries.has(s.name)) throw new Error(`ParameterStore: duplicate parameter ${s.name}`);
      const isExternal = external.has(s.name);
      const size = isExternal ? 0 : s.shape.reduce((a, b) => a * b, 1);
      this.entries.set(s.name, { offset, size, shape: s.shape.slice(), external: isExternal });
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

  /** Whether the parameter's values live outside the flat buffer (see the constructor): its view is empty. */
  isExternal(name: string): boolean {
    return this.entry(name).external;
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

/** A declared parameter: its HF name and shape, and (once the table is allocated) its value and gradient views. */
export interface ParamRef {
  readonly name: string;
  readonly shape: readonly number[];
  /** The values (a view into the flat buffer; empty until {@link ParamTable.allocate}). */
  w: Float32Array;
  /** The gradient (a view into the flat gradient buffer; empty until allocated). */
  g: Float32Array;
  /**
   * A bias the module does not have (ModernBERT's bias=False): zeros outside the store, and a gradient nobody reads,
   * so that the layers compute with it unchanged (adding zero is exact).
   */
  readonly absent?: true;
}

/** Values and gradient of an nn.Linear or nn.LayerNorm: `weight` then `bias`, adjacent in the buffer. */
export interface WeightBias {
  weight: ParamRef;
  bias: ParamRef;
}

const UNBOUND = new Float32Array(0);

/**
 * Where the model declares its parameters, each name written once. Modules declare under scoped names (candle's
 * `vb.pp("attention").pp("self")`), in the order the flat buffer lays them out; `allocate` then builds the one
 * ParameterStore and points every declared reference at its views, so specs and views come from one walk.
 */
export class ParamTable {
  private readonly specs: ParamSpec[] = [];
  private readonly binds: ((store: ParameterStore) => void)[] = [];
  private readonly aliases: [alias: string, target: string][] = [];
  private store: ParameterStore | null = null;

  /** The scope whose names start with `prefix` ('' or 'bert.'). */
  scope(prefix = ''): ParamScope {
    return new ParamScope(this, prefix);
  }

  declare(name: string, shape: number[]): ParamRef {
    if (this.store) throw new Error(`ParamTable: ${name} declared after the parameters were allocated`);
    const ref: ParamRef = { name, shape: shape.slice(), w: UNBOUND, g: UNBOUND };
    this.specs.push({ name, shape: shape.slice() });
    this.binds.push((store) => {
      ref.w = store.view(name);
      ref.g = store.gradView(name);
    });
    return ref;
  }

  /** One reference over parameters declared one after another (e.g. query/key/value weights for a fused GEMM). */
  adjacent(refs: ParamRef[]): ParamRef {
    const first = refs[0];
    if (!first) throw new Error('ParamTable.adjacent: no parameters given');
    const at = this.specs.findIndex((s) => s.name === first.name);
    refs.forEach((r, i) => {
      if (this.specs[at + i]?.name !== r.name)
        throw new Error(`ParamTable.adjacent: ${r.name} is not declared right after ${refs[i - 1]?.name ?? '?'}`);
    });
    const total = refs.reduce((n, r) => n + r.shape.reduce((a, b) => a * b, 1), 0);
    const ref: ParamRef = { name: first.name, shape: [total], w: UNBOUND, g: UNBOUND };
    this.binds.push((store) => {
      const span = store.span(first.name, refs.length);
      ref.w = span.data;
      ref.g = span.grad;
    });
    return ref;
  }

  /** `alias` is another name of `target` (tied weights: one storage, one gradient). */
  alias(alias: string, target: ParamRef): void {
    this.aliases.push([alias, target.name]);
  }

  /** Builds the store in declaration order (`external`: see ParameterStore), applies the aliases, binds every reference. Once. */
  allocate(external?: ReadonlySet<string>): ParameterStore {
    if (this.store) throw new Error('ParamTable: allocate() called twice');
    const store = new ParameterStore(this.specs, external);
    for (const [alias, target] of this.aliases) store.alias(alias, target);
    for (const bind of this.binds) bind(store);
    this.store = store;
    return store;
  }
}

/** A name prefix inside a {@link ParamTable}: `pp` goes one module down, `param` declares a leaf. */
export class ParamScope {
  constructor(
    private readonly table: ParamTable,
    /** The names' prefix, '' or ending in '.'. */
    readonly path: string,
  ) {}

  /** The scope of a submodule (candle's `pp`, "push prefix"): `vb.pp('encoder').pp('layer').pp(3)`. */
  pp(name: string | number): ParamScope {
    return new ParamScope(this.table, `${this.path}${name}.`);
  }

  /** The full name of a leaf of this scope. */
  name(leaf: string): string {
    return `${this.path}${leaf}`;
  }

  param(leaf: string, shape: number[]): ParamRef {
    return this.table.declare(this.name(leaf), shape);
  }

  /** nn.Linear(inDim, out) named `module`: weight [out, inDim] as PyTorch stores it, then bias [out] (if `bias`). */
  linear(module: string, out: number, inDim: number, bias = true): WeightBias {
    const s = this.pp(module);
    return { weight: s.param('weight', [out, inDim]), bias: bias ? s.param('bias', [out]) : s.absent('bias', out) };
  }

  /** nn.LayerNorm(dim) named `module`: weight then bias, [dim] each (no bias parameter when `bias` is false). */
  layerNorm(module: string, dim: number, bias = true): WeightBias {
    const s = this.pp(module);
    return { weight: s.param('weight', [dim]), bias: bias ? s.param('bias', [dim]) : s.absent('bias', dim) };
  }

  /** A bias the module does not have: see {@link ParamRef.absent}. */
  absent(leaf: string, dim: number): ParamRef {
    return { name: this.name(leaf), shape: [dim], w: new Float32Array(dim), g: new Float32Array(dim), absent: true };
  }

  /** See {@link ParamTable.adjacent}. */
  adjacent(refs: ParamRef[]): ParamRef {
    return this.table.adjacent(refs);
  }

  /** Declares `leaf` of this scope as another name of `target` (tied weights). */
  alias(leaf: string, target: ParamRef): void {
    this.table.alias(this.name(leaf), target);
  }
}
