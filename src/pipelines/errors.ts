// Errors of the pipelines' inputs (as opposed to failures of the model), which a server answers with 400.

/** The input cannot be processed as given (no [MASK], a question too long for the window, a bad shape). */
export class PipelineInputError extends Error {
  override readonly name = 'PipelineInputError';
  /** Duck-typed flag that survives a worker boundary, where only the message and this flag travel. */
  readonly invalidInput = true;
}

/** True for errors caused by the input: PipelineInputError and the tokenizer's TokenizerError. */
export function isInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as { invalidInput?: boolean }).invalidInput === true || error.name === 'TokenizerError';
}
