// The one error type of the tokenizer: a message that says what was wrong, where, and what to do.

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}
