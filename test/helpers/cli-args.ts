// Command-line arguments written as flag/value pairs, so tests state a long command in a few readable lines.

/** `cliArgs({ model: dir, epochs: 3 })` is `['--model', dir, '--epochs', '3']`, in the order given. */
export function cliArgs(flags: Record<string, string | number>): string[] {
  return Object.entries(flags).flatMap(([flag, value]) => [`--${flag}`, String(value)]);
}
