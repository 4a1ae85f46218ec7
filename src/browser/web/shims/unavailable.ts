// The Node modules a page never reaches (processes, threads, the native addon's require, streams, os): importing
// them is harmless, calling them says that the browser build has no such thing.
function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser build of bert-ts`);
}

export const createRequire = (): ((id: string) => unknown) => (id: string) => unavailable(`require('${id}')`);
export const fork = (): never => unavailable('child_process.fork');
export const spawn = (): never => unavailable('child_process.spawn');
export const spawnSync = (): never => unavailable('child_process.spawnSync');
export const execFileSync = (): never => unavailable('child_process.execFileSync');
export class Worker {
  constructor() {
    unavailable('worker_threads.Worker');
  }
}
export const parentPort = null;
export const workerData = null;
export const isMainThread = true;
export const createGunzip = (): never => unavailable('zlib.createGunzip (decompress with DecompressionStream first)');
export const gunzipSync = (): never => unavailable('zlib.gunzipSync (decompress with DecompressionStream first)');
export const inflateRawSync = (): never => unavailable('zlib.inflateRawSync');
export const deflateRawSync = (): never => unavailable('zlib.deflateRawSync');
export const crc32 = (): never => unavailable('zlib.crc32');
export const homedir = (): string => '/';
export const tmpdir = (): string => '/tmp';
export const cpus = (): unknown[] => [{}];
export const availableParallelism = (): number => 1;
export const hostname = (): string => 'browser';
export const platform = (): string => 'browser';
export const EOL = '\n';
export class Readable {}
export default {};
