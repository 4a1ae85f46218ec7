// The one error for bad input to a model, a pipeline or the server (as opposed to a failure of the library).

/**
 * An input that cannot be processed as given: a token id outside the vocabulary, a sequence longer than the model
 * takes, a text with no [MASK] for fill-mask, an option out of range. The message starts with where the input was
 * refused and says what is wrong; `where` and `problem` hold the two parts, `option` the option name when an option
 * was refused (so a command line can name its own flag for it). A server answers it with 400.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly where: string;
  readonly problem: string;
  /** The option (API spelling, e.g. "maxLength") whose value was refused, if the input was an option. */
  readonly option: string | undefined;
  /** Survives a worker boundary, where only the message and this flag travel. */
  readonly invalidInput = true;
  constructor(where: string, problem: string, options: { option?: string; cause?: unknown } = {}) {
    super(where === '' ? problem : `${where}: ${problem}`, { cause: options.cause });
    this.where = where;
    this.problem = problem;
    this.option = options.option;
  }
}

/** True for errors caused by the input: InputError (also after a worker boundary) and the tokenizer's TokenizerError. */
export function isInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as { invalidInput?: boolean }).invalidInput === true || error.name === 'TokenizerError';
}
