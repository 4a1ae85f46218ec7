// Typed errors of the file-format layer, so callers (and the fuzz tests) can tell bad input from bugs.

/**
 * A file is not a valid checkpoint / model file of the expected format: bad header, truncated data,
 * unsupported dtype, broken zip, refused pickle content. The message always starts with the file name
 * and says what is wrong; `file` and `problem` hold the two parts separately.
 */
export class CheckpointFormatError extends Error {
  readonly file: string;
  readonly problem: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'CheckpointFormatError';
    this.file = file;
    this.problem = problem;
  }
}

/**
 * A pickle asked for something outside the tensor-rebuilding allowlist (a foreign global such as
 * `posix.system`, an object-construction opcode, a persistent id that is not a torch storage).
 * Nothing from the pickle has been executed when this is thrown.
 */
export class UnsafePickleError extends CheckpointFormatError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = 'UnsafePickleError';
  }
}

/** A download from the hub (or the cache that holds it) failed: HTTP status, checksum, offline miss. */
export class HubError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
  }
}
