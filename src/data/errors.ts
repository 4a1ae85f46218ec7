// The data layer's one error class: a dataset, corpus, shard or vocabulary file that cannot be used as it is.

/**
 * Bad input data: `where` names the file (with a line or byte offset where there is one), `problem` says what is
 * wrong and, where it can, how to fix it. The message is `${where}: ${problem}`.
 */
export class DataError extends Error {
  constructor(
    readonly where: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${where}: ${problem}`, options);
    this.name = 'DataError';
  }
}
