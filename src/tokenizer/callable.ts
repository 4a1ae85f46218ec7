// Callable: a base class whose instances are functions, so that `tokenizer(text, options)` works as in
// transformers.js and HF (its `Callable`), the call going to the instance's `_call`.

export abstract class Callable<A extends unknown[], R> {
  constructor() {
    // An arrow function has no `prototype` property to collide with fields; the class's prototype chain is set on it.
    const call = (...args: A): R => (call as unknown as Callable<A, R>)._call(...args);
    return Object.setPrototypeOf(call, new.target.prototype) as Callable<A, R>;
  }

  /** What calling the instance does. */
  abstract _call(...args: A): R;
}
