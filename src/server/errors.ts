// The one error of the server layer: what the client is answered, as an HTTP status and a JSON error code.

/**
 * A request the server answers with an error: `status` (413 body too large, 503 queue full or shutting down, 500
 * inference failed, ...), a stable `code` a client can branch on (`queue_full`, `shutting_down`, ...) and the message.
 * Bad input itself is the model layer's InputError (answered 400 invalid_input).
 */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
