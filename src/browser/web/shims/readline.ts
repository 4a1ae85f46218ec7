// node:readline for the browser bundle: the lines of an in-memory file stream (fs.createReadStream's shim).
export function createInterface(options: { input: { bytes?: Uint8Array } }): {
  close(): void;
  [Symbol.asyncIterator](): AsyncGenerator<string>;
} {
  const bytes = options.input.bytes;
  if (!bytes) throw new Error('readline.createInterface in the browser build reads only in-memory files');
  return {
    close: () => {},
    async *[Symbol.asyncIterator]() {
      const lines = new TextDecoder().decode(bytes).split(/\r?\n/);
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      yield* lines;
    },
  };
}

export default { createInterface };
