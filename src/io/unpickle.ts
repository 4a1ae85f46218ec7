// A restricted pickle interpreter: data opcodes only, globals resolved through an allowlist, nothing executed.
//
// Python's pickle is a small stack machine whose GLOBAL/REDUCE opcodes call arbitrary functions. Here every
// GLOBAL goes through `resolveGlobal`, which returns an allowlisted callable implemented in TypeScript or
// throws UnsafePickleError naming the global; REDUCE can only call such a callable. Object-construction
// opcodes (INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT*) and out-of-band buffers are refused outright. Sizes are
// bounded: strings are slices of the input, the memo is a Map (no allocation from an index), stack and
// mark depth are capped.
import { CheckpointFormatError, UnsafePickleError } from './errors.js';

/** A Python tuple (distinct from a list, since REDUCE takes a tuple of arguments). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
/** A Python list. */
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
/** A Python dict (or OrderedDict); keys are restricted to scalars. */
export class PyDict {
  readonly entries = new Map<PyKey, PyValue>();
}
/** Python bytes. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}
/** An allowlisted global: a TypeScript function standing in for the Python callable. */
export class PyCallable {
  constructor(
    readonly qualifiedName: string,
    readonly call: (args: PyValue[]) => PyValue,
  ) {}
}
/** A value produced by a callable or a persistent id (a storage, a tensor); opaque to the interpreter. */
export class PyOpaque<T = unknown> {
  constructor(
    readonly kind: string,
    readonly value: T,
  ) {}
}

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | PyTuple | PyList | PyDict | PyBytes | PyCallable | PyOpaque;

export interface UnpickleOptions {
  /** Name of the file (and entry) in error messages. */
  file: string;
  /** Return the allowlisted callable or value for `module.name`, or throw UnsafePickleError. */
  resolveGlobal(module: string, name: string): PyValue;
  /** Handle BINPERSID (torch: storage references); absent → persistent ids are refused. */
  persistentLoad?(pid: PyValue): PyValue;
  /** Caps (defaults: 1e6 stack items, 1e5 marks, 1e6 memo entries). */
  maxStack?: number;
  maxMarks?: number;
  maxMemo?: number;
}

const MARK = Symbol('mark');

/** Name of a value's type, for error messages. */
export function pyTypeName(v: PyValue | typeof MARK | undefined): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (v === MARK) return 'mark';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyList) return 'list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyBytes) return 'bytes';
  if (v instanceof PyCallable) return v.qualifiedName;
  return v.kind;
}

/** Interpret `data` as a pickle under the restrictions above and return the top-level value. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): PyValue {
  const { file } = options;
  const maxStack = options.maxStack ?? 1_000_000;
  const maxMarks = options.maxMarks ?? 100_000;
  const maxMemo = options.maxMemo ?? 1_000_000;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let opPos = 0;
  let stack: Array<PyValue | typeof MARK> = [];
  const marks: Array<Array<PyValue | typeof MARK>> = [];
  const memo = new Map<number, PyValue>();

  const fail = (problem: string): never => {
    throw new CheckpointFormatError(file, `pickle byte ${opPos}: ${problem}`);
  };
  const refuse = (problem: string): never => {
    throw new UnsafePickleError(file, `pickle byte ${opPos}: ${problem}; refused, nothing was executed`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`truncated (needs ${n} more bytes, ${data.length - pos} left)`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} is beyond the end of the pickle`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const out = data.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 65536) fail('unterminated text argument');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= maxStack) fail(`stack deeper than ${maxStack}`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop()!;
    if (v === MARK) fail('unexpected mark');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) fail('no mark to pop to');
    stack = previous!;
    if (items.includes(MARK)) fail('nested mark');
    return items as PyValue[];
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > 64) fail(`integer of ${b.length} bytes is too large`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const asKey = (k: PyValue): PyKey => {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean')
      return k;
    return fail(`dict key of type ${pyTypeName(k)} is not supported`);
  };
  const setItems = (dict: PyValue, items: PyValue[]): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM(S) on a ${pyTypeName(dict)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (dict as PyDict).entries.set(asKey(items[i]!), items[i + 1]!);
  };
  const appendItems = (list: PyValue, items: PyValue[]): void => {
    if (!(list instanceof PyList)) fail(`APPEND(S) on a ${pyTypeName(list)}, not a list`);
    for (const item of items) (list as PyList).items.push(item);
  };
  const memoPut = (index: number): void => {
    if (memo.size >= maxMemo && !memo.has(index)) fail(`more than ${maxMemo} memo entries`);
    memo.set(index, top());
  };
  const memoGet = (index: number): void => {
    const v = memo.get(index);
    if (v === undefined) fail(`memo entry ${index} was never stored`);
    push(v!);
  };
  const global = (module: string, name: string): void => {
    if (module.length > 256 || name.length > 256) fail('global name too long');
    push(options.resolveGlobal(module, name));
  };
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };

  for (;;) {
    opPos = pos;
    if (pos >= data.length) fail('pickle ended without a STOP opcode');
    const op = data[pos++]!;
    switch (op) {
      case 0x80: {
        // PROTO
        const proto = u8();
        if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: only a read-ahead hint
      case 0x2e: {
        // STOP
        const result = pop();
        return result;
      }
      case 0x28: // MARK
        if (marks.length >= maxMarks) fail(`more than ${maxMarks} nested marks`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        push(top());
        break; // DUP
      case 0x4e:
        push(null);
        break; // NONE
      case 0x88:
        push(true);
        break; // NEWTRUE
      case 0x89:
        push(false);
        break; // NEWFALSE
      case 0x49: {
        // INT (text)
        const s = line();
        if (s === '00') push(false);
        else if (s === '01') push(true);
        else if (/^[+-]?\d{1,15}$/.test(s)) push(Number(s));
        else fail(`bad INT argument ${JSON.stringify(s.slice(0, 30))}`);
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = line().replace(/L$/, '');
        if (!/^[+-]?\d{1,150}$/.test(s)) fail(`bad LONG argument ${JSON.stringify(s.slice(0, 30))}`);
        const v = BigInt(s);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x4a:
        push(i32());
        break; // BININT
      case 0x4b:
        push(u8());
        break; // BININT1
      case 0x4d:
        push(u16());
        break; // BININT2
      case 0x8a:
        push(decodeLong(bytes(u8())));
        break; // LONG1
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        push(decodeLong(bytes(n)));
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) fail(`bad FLOAT argument ${JSON.stringify(s.slice(0, 30))}`);
        push(v);
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58:
        push(text(bytes(u32())));
        break; // BINUNICODE
      case 0x8c:
        push(text(bytes(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        push(text(bytes(u64())));
        break; // BINUNICODE8
      case 0x54: {
        // BINSTRING (python 2 str, read as latin-1 text)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(latin1.decode(bytes(n)));
        break;
      }
      case 0x55:
        push(latin1.decode(bytes(u8())));
        break; // SHORT_BINSTRING
      case 0x42:
        push(new PyBytes(bytes(u32())));
        break; // BINBYTES
      case 0x43:
        push(new PyBytes(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x8e:
        push(new PyBytes(bytes(u64())));
        break; // BINBYTES8
      case 0x29:
        push(new PyTuple([]));
        break; // EMPTY_TUPLE
      case 0x74:
        push(new PyTuple(popMark()));
        break; // TUPLE
      case 0x85:
        push(new PyTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d:
        push(new PyList([]));
        break; // EMPTY_LIST
      case 0x6c:
        push(new PyList(popMark()));
        break; // LIST
      case 0x61: {
        // APPEND
        const item = pop();
        appendItems(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d:
        push(new PyDict());
        break; // EMPTY_DICT
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x67: {
        // GET (text)
        const s = line();
        if (!/^\d{1,10}$/.test(s)) fail('bad GET argument');
        memoGet(Number(s));
        break;
      }
      case 0x68:
        memoGet(u8());
        break; // BINGET
      case 0x6a:
        memoGet(u32());
        break; // LONG_BINGET
      case 0x70: {
        // PUT (text)
        const s = line();
        if (!/^\d{1,10}$/.test(s)) fail('bad PUT argument');
        memoPut(Number(s));
        break;
      }
      case 0x71:
        memoPut(u8());
        break; // BINPUT
      case 0x72:
        memoPut(u32());
        break; // LONG_BINPUT
      case 0x94:
        memoPut(memo.size);
        break; // MEMOIZE
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        global(module, name);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        global(module as string, name as string);
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args)
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyCallable))
          refuse(`REDUCE on a ${pyTypeName(callable)}, which is not an allowed callable`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments are a ${pyTypeName(args)}, not a tuple`);
        push((callable as PyCallable).call((args as PyTuple).items));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state)
        const state = pop();
        const obj = top();
        // torch.save's OrderedDict carries `_metadata` (module versions) as state: harmless, dropped.
        if (!(obj instanceof PyDict) || !(state instanceof PyDict || state === null)) {
          refuse(`BUILD (__setstate__) on a ${pyTypeName(obj)} with a ${pyTypeName(state)}`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) refuse('persistent ids are not allowed here');
        push(options.persistentLoad!(pid));
        break;
      }
      case 0x50:
        refuse('text persistent id (PERSID) is not allowed');
        break;
      case 0x69: {
        // INST "module\nname\n"
        const module = line();
        const name = line();
        refuse(`INST of ${module}.${name} (object construction) is not allowed`);
        break;
      }
      case 0x6f:
        refuse('OBJ (object construction) is not allowed');
        break;
      case 0x81:
        refuse('NEWOBJ (cls.__new__) is not allowed');
        break;
      case 0x92:
        refuse('NEWOBJ_EX (cls.__new__) is not allowed');
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        refuse('EXT (extension registry globals) is not allowed');
        break;
      case 0x97:
      case 0x98:
        refuse('out-of-band buffers are not allowed');
        break;
      default:
        fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
