// What every `bert` command shares: flag parsing with "did you mean", and the one map from errors to exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../model/errors.js';

/** A command's default export: runs with its own argv (after the command name) and returns the exit code. */
export type CommandMain = (argv: string[]) => Promise<number> | number;

/** Wrong flags or arguments: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A library option's flag: maxLength → --max-length. */
export function flagOf(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** One line for an error: the message, or the stack too when BERT_DEBUG is set. */
export function errorLine(error: unknown): string {
  if (process.env['BERT_DEBUG'] && error instanceof Error && error.stack) return error.stack;
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/**
 * The one place errors become exit codes (README: 0 done, 1 runtime error, 2 usage error). A UsageError, or an
 * InputError about options (worded here with the command's flags), is a usage error: message, then the usage. Any
 * other error is a runtime error on one line.
 */
export function reportError(name: string, error: unknown, usage?: string): number {
  const prefix = name === '' ? 'bert' : `bert ${name}`;
  let usageMessage: string | undefined;
  if (error instanceof UsageError) usageMessage = error.message;
  else if (error instanceof InputError && error.options.length > 0) {
    // The library function a command calls is its name in camelCase (train-vocab → trainVocab): said once.
    const own = [name, name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), ''];
    const where = own.includes(error.where) ? '' : `${error.where}: `;
    usageMessage = `${where}${error.problemWith(flagOf)}`;
  }
  if (usageMessage !== undefined) {
    process.stderr.write(`${prefix}: ${usageMessage}\n${usage === undefined ? '' : `\n${usage}\n`}`);
    return 2;
  }
  process.stderr.write(`${prefix}: ${errorLine(error)}\n`);
  return 1;
}

/**
 * Runs a command body: `--help`/`-h` prints the usage (exit 0); the body's errors go through reportError. The body
 * may return an exit code (e.g. 130 after an interrupt); nothing means 0.
 */
export async function runCommand(
  name: string,
  usage: string,
  argv: string[],
  body: () => Promise<number | void> | number | void,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  try {
    return (await body()) ?? 0;
  } catch (error) {
    return reportError(name, error, usage);
  }
}

/** Option definitions of a command, as node:util parseArgs takes them. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
/** The typed values parseArgs returns for `O`. */
export type FlagValues<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>
>['values'];
export type ParsedValues = Record<string, string | boolean | undefined>;

/** Edit distance with adjacent transpositions (optimal string alignment): "lenght" is one edit from "length". */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The known name nearest to `name` when it is close enough to be a typo (or a prefix of exactly one name). */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(name, k);
    if (distance < bestDistance) [best, bestDistance] = [k, distance];
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) return best;
  const prefixed = known.filter((k) => k.startsWith(name));
  return name.length >= 2 && prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Refuses an unknown flag with the nearest known one, before node:util words it its own way. */
function checkFlagNames(argv: readonly string[], options: FlagOptions): void {
  const names = Object.keys(options);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') return;
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue;
    let name: string | undefined;
    if (arg.startsWith('--')) name = arg.slice(2).split('=')[0] ?? '';
    else {
      const short = arg.slice(1, 2);
      name = names.find((n) => options[n]?.short === short);
      if (name === undefined) throw new UsageError(`unknown option ${arg}`);
    }
    const option = options[name];
    if (option === undefined) {
      const near = nearestName(name, names);
      throw new UsageError(`unknown option --${name}${near === undefined ? '' : `; did you mean --${near}?`}`);
    }
    if (option.type === 'string' && !arg.includes('=') && arg.startsWith('--')) i++;
  }
}

/** node:util parseArgs in strict mode, positionals allowed, typed by `options`; its errors become UsageErrors. */
export function parseCommand<O extends FlagOptions>(
  argv: string[],
  options: O,
): { values: FlagValues<O>; positionals: string[] } {
  checkFlagNames(argv, options);
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * parseCommand without positionals: a stray argument is a usage error. `--help` prints `help` and gives undefined
 * (the command then exits 0); `usage`, when given, follows the message of a usage error.
 */
export function parseFlags<O extends FlagOptions>(
  argv: string[],
  options: O,
  help: string,
  usage?: string,
): FlagValues<O> | undefined {
  const { values, positionals } = parseCommand(argv, options);
  if ((values as Record<string, unknown>)['help']) {
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  if (positionals.length > 0) {
    const message = `unexpected argument ${JSON.stringify(positionals[0])} (every value follows its flag)`;
    throw new UsageError(usage === undefined ? message : `${message}\n${usage}`);
  }
  return values;
}

/** An integer flag >= min, or `fallback` when absent. */
export function intFlag(values: ParsedValues, name: string, fallback: number | undefined, min = 1): number | undefined {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A number flag that passes `check` (`what` says what it must be), or `fallback` when absent. */
export function numberFlag<F extends number | undefined>(
  value: string | undefined,
  name: string,
  fallback: F,
  check: (n: number) => boolean,
  what: string,
): number | F {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !check(n)) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
  return n;
}

/** Integers >= min, as a numberFlag check. */
export const integerAtLeast =
  (min: number) =>
  (n: number): boolean =>
    Number.isInteger(n) && n >= min;

/** Runs a command body that returns its exit code, its errors through reportError (`usageHint` after usage errors). */
export async function exitCodeOf(name: string, body: () => Promise<number>, usageHint?: string): Promise<number> {
  try {
    return await body();
  } catch (error) {
    return reportError(name, error, usageHint);
  }
}

/** Writes to stdout, waiting while its buffer is full. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

type Words<S extends string> = S extends `${infer Head} ${infer Tail}` ? Head | Words<Tail> : S;

/** String-valued flags, named in space-separated lists and typed for parseArgs: `stringFlags('model max-length')`. */
export function stringFlags<const S extends readonly string[]>(
  ...lists: S
): { [K in Words<S[number]>]: { type: 'string' } } {
  const names = lists.flatMap((list) => list.split(' ').filter((n) => n !== ''));
  return Object.fromEntries(names.map((n) => [n, { type: 'string' }])) as {
    [K in Words<S[number]>]: { type: 'string' };
  };
}
