// The model layer's errors: ConfigError (a config no BERT can be built from) and InputError, the one error for bad
// input to a model, a pipeline, the server or a library function (as opposed to a failure).

/**
 * A config (a config.json, or an object given in code) that no BERT can be built from: a wrong type, a value out of
 * range, an unsupported setting. The message starts with where the config came from (the file path) and names the key.
 */
export class ConfigError extends Error {
  readonly source: string;
  readonly problem: string;
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'ConfigError';
    this.source = source;
    this.problem = problem;
  }
}

/** Names an option in a message: the API name by default; a command line passes one that gives its flag. */
export type OptionNamer = (option: string) => string;

/**
 * An input that cannot be processed as given: a token id outside the vocabulary, a sequence longer than the model
 * takes, a text with no [MASK] for fill-mask, an option out of range. The message starts with where the input was
 * refused and says what is wrong; `where` and `problem` hold the two parts. When options were refused, `options`
 * lists them and `problemWith` words the problem with other names for them (a command line's flags), so that a
 * library message names no flag and a command's message names no API field.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly where: string;
  readonly problem: string;
  /** The options (API spelling, e.g. "maxLength") the problem is about; empty when it is about data. */
  readonly options: readonly string[];
  /** Survives a worker boundary, where only the message and this flag travel. */
  readonly invalidInput = true;
  private readonly template: ((name: OptionNamer) => string) | undefined;

  /** `problem` as a function words it with the option names it is given (see {@link problemWith}). */
  constructor(where: string, problem: string | ((name: OptionNamer) => string), options: { cause?: unknown } = {}) {
    const used: string[] = [];
    const text =
      typeof problem === 'string'
        ? problem
        : problem((option) => {
            if (!used.includes(option)) used.push(option);
            return option;
          });
    super(where === '' ? text : `${where}: ${text}`, { cause: options.cause });
    this.where = where;
    this.problem = text;
    this.options = used;
    this.template = typeof problem === 'string' ? undefined : problem;
  }

  /** The problem with each option named by `name` (e.g. "maxLength" → "--max-length"). */
  problemWith(name: OptionNamer): string {
    return this.template ? this.template(name) : this.problem;
  }
}

/** True for errors caused by the input: InputError (also after a worker boundary) and the tokenizer's TokenizerError. */
export function isInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as { invalidInput?: boolean }).invalidInput === true || error.name === 'TokenizerError';
}
