// The Node globals the library touches on a page's path, injected by esbuild into the browser bundle (free uses of
// `process` and `Buffer` resolve here): environment variables the page may set (BERT_BACKEND is set by
// useWasmBackend), stderr/stdout lines to the console, a monotonic clock.
import { Buffer } from './buffer.js';

const t0 = performance.now();
function hrtime(previous?: [number, number]): [number, number] {
  const ns = Math.round((performance.now() - t0) * 1e6);
  const now: [number, number] = [Math.floor(ns / 1e9), ns % 1e9];
  if (!previous) return now;
  const d = (now[0] - previous[0]) * 1e9 + (now[1] - previous[1]);
  return [Math.floor(d / 1e9), d % 1e9];
}
hrtime.bigint = (): bigint => BigInt(Math.round((performance.now() - t0) * 1e6));

function consoleStream(log: (line: string) => void): { write(s: string): boolean; isTTY: boolean } {
  let pending = '';
  return {
    isTTY: false,
    write(s: string): boolean {
      pending += s;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
      return true;
    },
  };
}

export const process = {
  env: {} as Record<string, string | undefined>,
  argv: [] as string[],
  execArgv: [] as string[],
  pid: 1,
  platform: 'browser',
  version: '',
  versions: {} as Record<string, string>,
  exitCode: undefined as number | undefined,
  stdout: consoleStream((line) => console.log(line)),
  stderr: consoleStream((line) => console.warn(line)),
  hrtime,
  cwd: (): string => '/',
  memoryUsage: () => ({ rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 }),
  on: (): unknown => process,
  once: (): unknown => process,
  off: (): unknown => process,
  emitWarning: (msg: string): void => console.warn(msg),
  nextTick: (fn: (...args: unknown[]) => void, ...args: unknown[]): void => queueMicrotask(() => fn(...args)),
  exit: (code?: number): never => {
    throw new Error(`process.exit(${code ?? 0}) called in the browser build of bert-ts`);
  },
};

export { Buffer };
