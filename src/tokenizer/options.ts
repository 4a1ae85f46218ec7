// Option objects in both spellings: HF's / transformers.js's snake_case (`max_length`) and this library's camelCase
// (`maxLength`). An unknown key is refused with the known ones named, never ignored.

/** `max_length` -> `maxLength`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `maxLength` -> `max_length`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The options keyed by their camelCase names, each read from either spelling. `known` lists the camelCase names;
 * `fail(problem)` throws the caller's error for an unknown option, one given in both spellings, or a non-object.
 * Undefined values count as absent.
 */
export function readOptions(
  options: unknown,
  known: readonly string[],
  fail: (problem: string) => never,
): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) fail(`options must be an object, got ${typeof options}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const name = camelCase(key);
    if (!known.includes(name)) {
      const names = known.map((k) => (snakeCase(k) === k ? k : `${snakeCase(k)} / ${k}`));
      fail(`unknown option "${key}"; known: ${names.length > 0 ? names.join(', ') : 'none'}`);
    }
    if (value === undefined) continue;
    if (Object.hasOwn(out, name)) fail(`option "${name}" is given twice (as ${snakeCase(name)} and ${name})`);
    out[name] = value;
  }
  return out;
}
