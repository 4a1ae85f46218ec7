// What every `bert` command shares: usage errors (exit 2), one-line runtime errors (exit 1), flag parsing.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command's default export: runs with its own argv (after the command name) and returns the exit code. */
export type CommandMain = (argv: string[]) => Promise<number> | number;

/** Wrong flags or arguments: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One line for an error: the message, or the stack too when BERT_DEBUG is set. */
export function errorLine(error: unknown): string {
  if (process.env['BERT_DEBUG'] && error instanceof Error && error.stack) return error.stack;
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/**
 * Runs a command body: `--help`/`-h` prints the usage (exit 0), a UsageError prints message and usage (2), any
 * other error prints `bert NAME: message` on one line (1).
 */
export async function runCommand(
  name: string,
  usage: string,
  argv: string[],
  body: () => Promise<void> | void,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  try {
    await body();
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`bert ${name}: ${error.message}\n\n${usage}\n`);
      return 2;
    }
    process.stderr.write(`bert ${name}: ${errorLine(error)}\n`);
    return 1;
  }
}

export type ParsedValues = Record<string, string | boolean | undefined>;

/** node:util parseArgs in strict mode; its errors become UsageErrors. */
export function parseCommand(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: ParsedValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as ParsedValues, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
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

/** Option definitions of a command, as node:util parseArgs takes them. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;
/** The typed values parseArgs returns for `O` (strict, no positionals). */
export type FlagValues<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true }>
>['values'];

/**
 * node:util parseArgs in strict mode without positionals, typed by `options`; its errors become UsageErrors (with
 * `usage` after the message when given). `--help` prints `help` and gives undefined: the command then exits 0.
 */
export function parseFlags<O extends FlagOptions>(
  argv: string[],
  options: O,
  help: string,
  usage?: string,
): FlagValues<O> | undefined {
  let values: FlagValues<O>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true }));
  } catch (error) {
    throw new UsageError(usage === undefined ? (error as Error).message : `${(error as Error).message}\n${usage}`);
  }
  if ((values as Record<string, unknown>)['help']) {
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  return values;
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

/**
 * Runs a command body that returns its exit code: a UsageError is exit 2, any other error exit 1, each reported as
 * `bert NAME: message` (then `usageHint` for usage errors).
 */
export async function exitCodeOf(name: string, body: () => Promise<number>, usageHint = ''): Promise<number> {
  try {
    return await body();
  } catch (error) {
    process.stderr.write(`bert ${name}: ${(error as Error).message}\n${error instanceof UsageError ? usageHint : ''}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** Writes to stdout, waiting while its buffer is full. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}
