// node:assert/strict for test files bundled into the browser harness: the assertions the kernel tests use, with
// Node's strict semantics (Object.is for primitives, typed arrays compared element by element).
class AssertionError extends Error {
  override name = 'AssertionError';
}

function fail(message?: string | Error): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? 'Failed');
}

function ok(value: unknown, message?: string | Error): asserts value {
  if (!value) fail(message ?? `expected a truthy value, got ${String(value)}`);
}

function equal(actual: unknown, expected: unknown, message?: string | Error): void {
  if (!Object.is(actual, expected)) fail(message ?? `${String(actual)} !== ${String(expected)}`);
}

function notEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  if (Object.is(actual, expected)) fail(message ?? `${String(actual)} === ${String(expected)}`);
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function deepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  if (!same(actual, expected)) fail(message ?? `not deep-equal: ${String(actual)} vs ${String(expected)}`);
}

function match(text: string, re: RegExp, message?: string | Error): void {
  if (!re.test(text)) fail(message ?? `${JSON.stringify(text)} does not match ${re}`);
}

type Matcher = RegExp | (new (...args: never[]) => unknown) | ((err: unknown) => boolean) | Record<string, unknown>;

function matches(err: unknown, m: Matcher): boolean {
  if (m instanceof RegExp) return m.test(String((err as Error)?.message ?? err)) || m.test(String(err));
  if (typeof m === 'function') {
    if (m.prototype !== undefined && err instanceof (m as new () => unknown)) return true;
    return m.prototype === undefined ? (m as (err: unknown) => boolean)(err) === true : false;
  }
  return Object.entries(m).every(([k, v]) => {
    const got = (err as Record<string, unknown>)[k];
    return v instanceof RegExp ? typeof got === 'string' && v.test(got) : same(got, v);
  });
}

function throws(fn: () => unknown, m?: Matcher | string, message?: string): void {
  try {
    fn();
  } catch (err) {
    if (m !== undefined && typeof m !== 'string' && !matches(err, m))
      fail(message ?? `threw ${String(err)}, which does not match the expectation`);
    return;
  }
  fail(message ?? (typeof m === 'string' ? m : 'Missing expected exception'));
}

const assert = Object.assign(ok, {
  ok,
  equal,
  notEqual,
  deepEqual,
  strictEqual: equal,
  deepStrictEqual: deepEqual,
  match,
  throws,
  fail,
  AssertionError,
});
export default assert;
export { ok, equal, notEqual, deepEqual, match, throws, fail, AssertionError };
