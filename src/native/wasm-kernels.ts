// The Kernels interface over the WebAssembly kernels (wasm/build/bert_kernels.wasm, built from wasm/src and
// native/src/kernels.cc by scripts/build-wasm.mjs): the native backend's fused kernels over a SIMD128 GEMM, on one
// thread, or on a pool of workers sharing the threaded module's memory (bert_kernels_threads.wasm: GEMMs split by
// rows or columns, attention by example and head, element-wise kernels by rows) where SharedArrayBuffer exists.
// Where the engine validates relaxed SIMD, the GEMM's micro-kernel comes from bert_gemm_relaxed(_threads).wasm
// (wasm/src/gemm_relaxed.c: f32x4.relaxed_madd, an FMA on x86 and ARM64), a tiny module sharing the kernels' memory;
// BERT_WASM_RELAXED=0 keeps the SIMD128 micro-kernel, =1 makes the relaxed one required.
// Parameters and activations stay in JavaScript Float32Arrays: each call copies its arguments into one scratch block
// of the module's memory (grown on demand, reused across calls) and its results back out.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jsKernels } from '../tensor/js-kernels.js';
import { markWeightsChanged } from '../tensor/kernels.js';
import type { AttentionSizes, Kernels, PackedLinear, PackedLinearKernels } from '../tensor/kernels.js';
import { jsPackedLinear } from '../tensor/quant-kernels.js';
import { actCode, dropoutNumbers } from './native-kernels.js';

type Fn = (...args: number[]) => number;

// The few WebAssembly globals used here (this project's TypeScript libs declare none).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WebAssemblyApi {
  Module: (new (bytes: Uint8Array) => object) & {
    imports(module: object): Array<{ module: string; name: string; kind: string }>;
    exports(module: object): Array<{ name: string; kind: string }>;
  };
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The exports of bert_kernels.wasm (wasm/src/exports.cc): pointers are byte offsets into `memory`. */
export interface WasmKernelExports {
  memory: { readonly buffer: ArrayBufferLike };
  bk_alloc: Fn;
  bk_free: Fn;
  bk_gemm: Fn;
  bk_linear_forward: Fn;
  bk_linear_backward: Fn;
  bk_pack_linear: Fn;
  bk_packed_linear_forward: Fn;
  bk_activation_forward: Fn;
  bk_activation_backward: Fn;
  bk_layer_norm_forward: Fn;
  bk_layer_norm_backward: Fn;
  bk_attention_forward: Fn;
  bk_attention_backward: Fn;
  bk_dropout: Fn;
  bk_softmax_cross_entropy: Fn;
  bk_adamw_step: Fn;
  bk_sum_squares: Fn;
  bk_scale: Fn;
  bk_use_relaxed_simd: Fn;
  bk_relaxed_simd: Fn;
  _initialize?: Fn;
  /** The threaded module only (wasm/src/pool.cc and emscripten's thread set-up). */
  __wasm_call_ctors?: Fn;
  _emscripten_thread_init?: Fn;
  emscripten_tls_init?: Fn;
  bk_set_threads?: Fn;
  bk_alloc_tls?: Fn;
  /** Threads the module computes with (the caller's included); set by instantiateWasmKernels. */
  threads?: number;
  /** Whether its GEMM runs the relaxed-SIMD micro-kernel; set by instantiateWasmKernels. */
  relaxedSimd?: boolean;
  /** The threaded module only: the pool's failure report (see WasmWorkerStart.status), read by poolFailure. */
  poolStatus?: Int32Array;
  bk_worker_failed?: Fn;
  bk_test_crash_worker?: Fn;
}

/** Where the module is looked for: BERT_WASM_KERNELS, else wasm/build beside this package. */
export function wasmKernelsPath(): string {
  return process.env.BERT_WASM_KERNELS ?? fileURLToPath(new URL('../../wasm/build/bert_kernels.wasm', import.meta.url));
}

/** The threaded module beside the single-threaded one (bert_kernels_threads.wasm, scripts/build-wasm.mjs). */
export function wasmThreadedKernelsPath(): string {
  return wasmKernelsPath().replace(/\.wasm$/, '_threads.wasm');
}

/**
 * The threads the wasm backend computes with in Node: BERT_WASM_THREADS (1 = single-threaded), else the machine's
 * available parallelism capped at 4 (onnxruntime-web's default for its threaded WebAssembly).
 */
export function wasmThreadCount(): number {
  const raw = process.env.BERT_WASM_THREADS;
  if (raw === undefined || raw === '') return Math.max(1, Math.min(availableParallelism(), 4));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`BERT_WASM_THREADS='${raw}' is not a thread count: use an integer from 1 to 64`);
  return n;
}

/** The relaxed-SIMD micro-kernel module beside the kernels (bert_gemm_relaxed.wasm, or its shared-memory twin). */
export function wasmRelaxedPath(threaded: boolean): string {
  return wasmKernelsPath().replace(/[^/\\]*\.wasm$/, `bert_gemm_relaxed${threaded ? '_threads' : ''}.wasm`);
}

// () -> v128 { f32x4.relaxed_madd(v128.const 0, v128.const 0, v128.const 0) }: validates where relaxed SIMD exists.
const ZERO_V128 = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
const RELAXED_PROBE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
  ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: () -> v128
  ...[0x03, 0x02, 0x01, 0x00], // function section: one function of type 0
  ...[0x0a, 0x3d, 0x01, 0x3b, 0x00, ...ZERO_V128, ...ZERO_V128, ...ZERO_V128, 0xfd, 0x85, 0x02, 0x0b], // its body
]);

/** Whether this engine validates relaxed SIMD (Chromium 156 does; Node 20 only with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  try {
    return wasmApi.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/**
 * BERT_WASM_RELAXED: 'auto' (unset: the relaxed micro-kernel where the engine validates it and its module is built),
 * 'off' (0: the SIMD128 micro-kernel), 'on' (1: the relaxed one or an error saying why not).
 */
export function wasmRelaxedMode(): 'auto' | 'off' | 'on' {
  const raw = process.env.BERT_WASM_RELAXED;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  if (raw === '0') return 'off';
  if (raw === '1') return 'on';
  throw new Error(
    `BERT_WASM_RELAXED='${raw}' is not understood: use 0 (SIMD128 only), 1 (require relaxed SIMD) or unset`,
  );
}

let loaded: { exports: WasmKernelExports | null; error: string | null } | null = null;

/** Starts one worker of the threaded module; the loader passes `start` as its workerData / first message. */
export interface WasmWorkerStart {
  module: object;
  memory: object;
  /** Where its stack ends (the stack grows down from here) and its size in bytes. */
  stackTop: number;
  stackSize: number;
  /** Its thread-local block (bk_alloc_tls). */
  tls: number;
  /** The relaxed-SIMD micro-kernel's module (bert_gemm_relaxed_threads.wasm) when the kernels use it, else null. */
  relaxed: object | null;
  /**
   * Where a worker that fails reports it, shared by the pool (POOL_STATUS_BYTES): int32 [0] 1 once a worker failed,
   * [1] the length of its message (-1 while it is written), its UTF-8 bytes from byte 8.
   */
  status: SharedArrayBuffer;
}

const POOL_STATUS_BYTES = 1024;

/** The first failure a worker of `ex`'s pool reported, or null (always null for the single-threaded module). */
export function poolFailure(ex: WasmKernelExports): string | null {
  const status = ex.poolStatus;
  if (!status || Atomics.load(status, 0) === 0) return null;
  const length = Math.max(0, Atomics.load(status, 1));
  // TextDecoder refuses views of shared memory: decode a copy.
  return new TextDecoder().decode(new Uint8Array(status.buffer, 8, length).slice());
}

/** How a threaded module gets its workers: `threads` in all (the caller included), `spawn` starting each of the others. */
export interface WasmThreading {
  threads: number;
  spawn(start: WasmWorkerStart): void;
}

// The threaded module's memory: emscripten's INITIAL_MEMORY (16 MiB) and MAXIMUM_MEMORY (2 GiB) of
// scripts/build-wasm.mjs, in 64 KiB pages (an imported memory must match the module's declared limits).
const INITIAL_PAGES = 256;
const MAXIMUM_PAGES = 32768;
const WORKER_STACK_BYTES = 1 << 20;

/**
 * The script a worker of the threaded module runs (Node: `bertWasmWorker(workerData, ready)`; a Web Worker: on its
 * first message): the module instantiated on the shared memory, its own stack and TLS, then bk_worker's loop, which
 * never returns (the worker ends with its page or process). Plain JavaScript (it is not compiled with this file); heap growth is the one
 * import a worker may call (growHeap below is the main thread's copy).
 */
export const WASM_WORKER_SOURCE = `
function bertWasmWorker(d, ready) {
  let ex = null;
  let running = false;
  try {
    bertWasmWorkerRun(d, () => {
      ready();
      running = true;
    }, (e) => (ex = e));
  } catch (err) {
    // Reported in the shared status (the first failure only), then its task counted as finished: the call waiting
    // for it returns and throws this message instead of waiting forever. Before it started, the worker fails whole
    // (its 'error' event: a page's start-up awaits it).
    const status = new Int32Array(d.status);
    if (Atomics.compareExchange(status, 1, 0, -1) === 0) {
      const text = new TextEncoder().encode(String((err && err.message) || err)).subarray(0, d.status.byteLength - 8);
      new Uint8Array(d.status, 8).set(text);
      Atomics.store(status, 1, text.length);
      Atomics.store(status, 0, 1);
    }
    if (running && ex) ex.bk_worker_failed();
    if (!running) throw err;
  }
}
function bertWasmWorkerRun(d, ready, instantiated) {
  const MAX = ${MAXIMUM_PAGES} * 65536;
  const imports = {};
  const relaxed = d.relaxed && new WebAssembly.Instance(d.relaxed, { env: { memory: d.memory } }).exports;
  for (const imp of WebAssembly.Module.imports(d.module)) {
    let f = () => 0;
    if (imp.name === 'bk_micro_relaxed')
      f = relaxed
        ? relaxed.bk_micro_relaxed
        : () => {
            throw new Error('bk_micro_relaxed: the relaxed-SIMD module is not loaded in this worker');
          };
    else if (imp.name === 'emscripten_resize_heap')
      f = (bytes) => {
        bytes >>>= 0;
        const have = d.memory.buffer.byteLength;
        if (bytes > MAX) return 0;
        try {
          if (bytes > have) d.memory.grow(Math.ceil((Math.min(MAX, Math.max(bytes, have * 2)) - have) / 65536));
        } catch {}
        return d.memory.buffer.byteLength >= bytes ? 1 : 0;
      };
    else if (/^(abort|exit|__cxa_throw)$/.test(imp.name))
      f = () => {
        throw new Error('bert_kernels_threads.wasm: ' + imp.name + ' in a worker');
      };
    (imports[imp.module] ??= {})[imp.name] = imp.kind === 'memory' ? d.memory : f;
  }
  const ex = new WebAssembly.Instance(d.module, imports).exports;
  instantiated(ex);
  ex.emscripten_stack_set_limits(d.stackTop, d.stackTop - d.stackSize);
  ex.stackRestore(d.stackTop);
  ex.bk_thread_init(d.tls);
  ready();
  ex.bk_worker();
}
`;

/** emscripten_resize_heap on the main thread: grows the shared memory to at least `bytes` (doubling), 1 when it fits. */
function growHeap(memory: WasmMemory): (bytes: number) => number {
  const max = MAXIMUM_PAGES * 65536;
  return (bytes) => {
    const want = bytes >>> 0;
    const have = memory.buffer.byteLength;
    if (want > max) return 0;
    try {
      if (want > have) memory.grow(Math.ceil((Math.min(max, Math.max(want, have * 2)) - have) / 65536));
    } catch {
      // Out of address space: malloc returns 0 and the caller reports it.
    }
    return memory.buffer.byteLength >= want ? 1 : 0;
  };
}

/**
 * Imports for `module`: `given` by name, every other import a stub (proc_exit, abort, exit, throws and a missing
 * relaxed micro-kernel end the call).
 */
function stubImports(module: object, given: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of wasmApi.Module.imports(module)) {
    (imports[imp.module] ??= {})[imp.name] =
      given[imp.name] ??
      (() => {
        if (/^(proc_exit|abort|exit|__cxa_throw|bk_micro_relaxed)$/.test(imp.name))
          throw new Error(`bert_kernels.wasm: ${imp.name}`);
        return 0;
      });
  }
  return imports;
}

/** The relaxed module's micro-kernel on `memory` (it owns nothing in it: no data, no stack). */
function relaxedKernel(relaxed: object | null | undefined, memory: WasmMemory): Record<string, unknown> {
  if (!relaxed) return {};
  const ex = new wasmApi.Instance(relaxed, { env: { memory } }).exports as { bk_micro_relaxed?: unknown };
  if (typeof ex.bk_micro_relaxed !== 'function')
    throw new Error('the relaxed-SIMD module exports no bk_micro_relaxed (rebuild it with npm run build:wasm)');
  return { bk_micro_relaxed: ex.bk_micro_relaxed };
}

/** Whether `module` is the threaded build (its pool is started with bk_set_threads). */
export function isThreadedWasmModule(module: object): boolean {
  return wasmApi.Module.exports(module).some((exp) => exp.name === 'bk_set_threads');
}

/**
 * Instantiates a compiled bert_kernels.wasm (a `WebAssembly.Module`). The browser build compiles it asynchronously
 * from `fetch` (browsers refuse large synchronous compiles on the main thread) and hands it to useWasmKernels.
 * The threaded module (bert_kernels_threads.wasm) needs `threading`: it gets a shared memory and threads - 1
 * workers, each with a stack and TLS block of its own; the pool uses them as they come up (a call made before a
 * worker has started runs without it). `relaxed`, the compiled relaxed-SIMD micro-kernel of the same kind
 * (bert_gemm_relaxed.wasm, or bert_gemm_relaxed_threads.wasm for the threaded module), makes the GEMM use it.
 */
export function instantiateWasmKernels(
  module: object,
  threading?: WasmThreading,
  relaxed?: object | null,
): WasmKernelExports {
  // Both modules import their memory (the relaxed module shares it); one from before that is a stale build.
  if (!wasmApi.Module.imports(module).some((imp) => imp.kind === 'memory'))
    throw new Error(
      'this bert_kernels.wasm defines its own memory: it is out of date, rebuild it (npm run build:wasm)',
    );
  if (!isThreadedWasmModule(module)) {
    const memory = new wasmApi.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: false });
    const imports = stubImports(module, { memory, ...relaxedKernel(relaxed, memory) });
    const exports = {
      ...(new wasmApi.Instance(module, imports).exports as unknown as WasmKernelExports),
      memory,
    };
    exports._initialize?.();
    return finish(exports, 1, relaxed ?? null);
  }
  if (!threading) throw new Error('bert_kernels_threads.wasm needs workers (use bert_kernels.wasm single-threaded)');
  const memory = new wasmApi.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true });
  let exports: WasmKernelExports | null = null;
  const isWindow = typeof (globalThis as { document?: unknown }).document !== 'undefined';
  const imports = stubImports(module, {
    memory,
    ...relaxedKernel(relaxed, memory),
    emscripten_resize_heap: growHeap(memory),
    emscripten_get_now: () => performance.now(),
    // What emscripten's glue does for the main thread: its thread block and its thread-local storage.
    __emscripten_init_main_thread_js: (threadBlock: number) => {
      exports!._emscripten_thread_init!(threadBlock, isWindow ? 1 : 0, 1, isWindow ? 0 : 1);
      exports!.emscripten_tls_init!();
    },
  });
  // Instance exports are frozen: the memory (imported here, not exported) and the thread count go on a copy.
  const status = new SharedArrayBuffer(POOL_STATUS_BYTES);
  exports = {
    ...(new wasmApi.Instance(module, imports).exports as WasmKernelExports),
    memory,
    poolStatus: new Int32Array(status),
  };
  exports.__wasm_call_ctors!();
  for (let id = 1; id < threading.threads; id++) {
    const stack = exports.bk_alloc(WORKER_STACK_BYTES);
    const tls = exports.bk_alloc_tls!();
    if (!stack) throw new RangeError('bert_kernels_threads.wasm: no memory for a worker stack');
    threading.spawn({
      module,
      memory,
      stackTop: stack + WORKER_STACK_BYTES,
      stackSize: WORKER_STACK_BYTES,
      tls,
      relaxed: relaxed ?? null,
      status,
    });
  }
  exports.bk_set_threads!(threading.threads, isWindow ? 0 : 1);
  return finish(exports, threading.threads, relaxed ?? null);
}

/** The exports with their thread count, the relaxed micro-kernel switched on when it was supplied. */
function finish(exports: WasmKernelExports, threads: number, relaxed: object | null): WasmKernelExports {
  exports.bk_use_relaxed_simd(relaxed ? 1 : 0);
  return { ...exports, threads, relaxedSimd: exports.bk_relaxed_simd() === 1 };
}

/**
 * Node's workers: worker_threads running WASM_WORKER_SOURCE, unref'd (they never keep the process alive). A worker
 * that fails has reported it in the pool's status (the next call throws it): its 'error' event must not end the
 * process too.
 */
const nodeWorkers = (threads: number): WasmThreading => ({
  threads,
  spawn(start) {
    new Worker(`${WASM_WORKER_SOURCE}\nbertWasmWorker(require('node:worker_threads').workerData, () => {});`, {
      eval: true,
      workerData: start,
    })
      .on('error', () => {})
      .unref();
  },
});

/** Makes `exports` the module loadWasmKernels() returns (the browser's way in: no file to read). */
export function useWasmKernels(exports: WasmKernelExports): void {
  loaded = { exports, error: null };
}

/**
 * Reads, compiles and instantiates the module for `threads` threads (the threaded module when threads > 1 and it is
 * built, else the single-threaded one). Throws what failed.
 */
export function openWasmKernels(threads: number = wasmThreadCount()): WasmKernelExports {
  const path = wasmKernelsPath();
  if (!existsSync(path))
    throw new Error(
      `the WebAssembly kernels are not built (${path} does not exist; build them with \`npm run build:wasm\` in a clone, which needs emscripten's emcc)`,
    );
  const threadedPath = wasmThreadedKernelsPath();
  if (threads > 1) {
    const missing =
      typeof SharedArrayBuffer === 'undefined'
        ? 'this runtime has no SharedArrayBuffer'
        : existsSync(threadedPath)
          ? null
          : `${threadedPath} is not built (npm run build:wasm)`;
    if (!missing) return compileAndInstantiate(threadedPath, nodeWorkers(threads), relaxedModule(true));
    // Threads asked for by name must come; the default falls back to one thread.
    if (process.env.BERT_WASM_THREADS)
      throw new Error(`the threaded WebAssembly kernels (BERT_WASM_THREADS=${threads}) are unavailable: ${missing}`);
  }
  return compileAndInstantiate(path, undefined, relaxedModule(false));
}

/**
 * The compiled relaxed-SIMD micro-kernel for the single-threaded or threaded kernels, or null where it is not used
 * (BERT_WASM_RELAXED=0, an engine without relaxed SIMD, the module not built); BERT_WASM_RELAXED=1 turns the last two
 * into errors.
 */
function relaxedModule(threaded: boolean): object | null {
  const mode = wasmRelaxedMode();
  if (mode === 'off') return null;
  const path = wasmRelaxedPath(threaded);
  const missing = !relaxedSimdSupported()
    ? `this engine does not validate relaxed SIMD (Node ${process.versions.node} needs --experimental-wasm-relaxed-simd)`
    : existsSync(path)
      ? null
      : `${path} is not built (npm run build:wasm, which needs clang-19 and lld-19)`;
  if (missing) {
    if (mode === 'on') throw new Error(`BERT_WASM_RELAXED=1, but the relaxed-SIMD GEMM is unavailable: ${missing}`);
    return null;
  }
  try {
    return new wasmApi.Module(readFileSync(path));
  } catch (err) {
    throw new Error(`the relaxed-SIMD GEMM at ${path} failed to compile: ${(err as Error).message}`);
  }
}

function compileAndInstantiate(path: string, threading?: WasmThreading, relaxed?: object | null): WasmKernelExports {
  try {
    // Synchronous compile (Node allows it at any size): getKernels() is synchronous.
    return instantiateWasmKernels(new wasmApi.Module(readFileSync(path)), threading, relaxed);
  } catch (err) {
    throw new Error(`the WebAssembly kernels at ${path} failed to load: ${(err as Error).message}`);
  }
}

/** The instantiated module, or null with the reason in wasmLoadError(); tried once per process. */
export function loadWasmKernels(): WasmKernelExports | null {
  if (!loaded) {
    try {
      loaded = { exports: openWasmKernels(), error: null };
    } catch (err) {
      loaded = { exports: null, error: (err as Error).message };
    }
  }
  return loaded.exports;
}

/** Why loadWasmKernels() returned null (null when it loaded). */
export function wasmLoadError(): string | null {
  loadWasmKernels();
  return loaded?.error ?? null;
}

type Typed = Float32Array | Int32Array;
/** One argument of a call: its position in the contract's argument list (for errors), the array (null: none), the
 * elements the shapes need, and whether it is only read (in), updated (out), or written whole and never read (new:
 * not copied in). */
type Arg = [index: number, array: Typed | null, length: number, mode: 'in' | 'out' | 'new'];

/** Elements a [rows, cols] matrix with leading dimension ld spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0;
}

function checkLd(kernel: string, index: number, name: string, ld: number, min: number): void {
  if (!(ld >= Math.max(1, min))) throw new RangeError(`${kernel}: argument ${index} (${name}) must be >= ${min}`);
}

/** A byte range of one JavaScript buffer, copied into the module as one block (arguments that overlap share it). */
interface Region {
  buffer: ArrayBufferLike;
  start: number;
  end: number;
  copyIn: boolean;
  copyOut: boolean;
  at: number;
}

/**
 * Copies arguments into the module's scratch block, runs `body` on their pointers, copies results back out.
 * Arguments that overlap in one JavaScript buffer (y = x in place; q, k, v as column blocks of one fused QKV
 * array) are copied as one block, so the kernels see the aliasing the native addon sees.
 */
class Marshal {
  private base = 0;
  private capacity = 0;
  constructor(private readonly ex: WasmKernelExports) {}

  call(kernel: string, args: Arg[], body: (...ptrs: number[]) => number): number {
    const earlier = poolFailure(this.ex);
    if (earlier !== null)
      throw new Error(
        `${kernel}: a worker of the threaded WebAssembly kernels failed earlier (${earlier}); these kernels are ` +
          'unusable: load them again (a new process, or loadWasmBackend in a page)',
      );
    const regions: Region[] = [];
    const owner: Array<Region | null> = [];
    for (const [index, array, length, mode] of args) {
      if (array === null) {
        owner.push(null);
        continue;
      }
      if (!(array instanceof Float32Array || array instanceof Int32Array))
        throw new TypeError(`${kernel}: argument ${index} must be a Float32Array (labels and ids: Int32Array)`);
      if (array.length < length)
        throw new RangeError(
          `${kernel}: argument ${index} is too short: ${array.length} elements, the shapes need ${length}`,
        );
      const start = array.byteOffset,
        end = start + length * 4;
      let region = regions.find((r) => r.buffer === array.buffer && start <= r.end && r.start <= end);
      if (region) {
        region.start = Math.min(region.start, start);
        region.end = Math.max(region.end, end);
        region.copyIn ||= mode !== 'new';
        region.copyOut ||= mode !== 'in';
        // The grown region may now reach another one of the same buffer: merge them.
        for (let i = regions.length - 1; i >= 0; i--) {
          const other = regions[i]!;
          if (
            other === region ||
            other.buffer !== region.buffer ||
            other.start > region.end ||
            region.start > other.end
          )
            continue;
          region.start = Math.min(region.start, other.start);
          region.end = Math.max(region.end, other.end);
          region.copyIn ||= other.copyIn;
          region.copyOut ||= other.copyOut;
          regions.splice(i, 1);
          for (let j = 0; j < owner.length; j++) if (owner[j] === other) owner[j] = region;
        }
      } else {
        region = { buffer: array.buffer, start, end, copyIn: mode !== 'new', copyOut: mode !== 'in', at: 0 };
        regions.push(region);
      }
      owner.push(region);
    }
    let bytes = 0;
    for (const r of regions) bytes += (r.end - r.start + 15) & ~15;
    if (bytes > this.capacity) {
      if (this.base) this.ex.bk_free(this.base);
      this.capacity = Math.max(bytes, this.capacity * 2, 1 << 20);
      this.base = this.ex.bk_alloc(this.capacity);
      if (!this.base) {
        this.capacity = 0;
        throw new RangeError(`${kernel}: the WebAssembly memory cannot hold ${bytes} bytes of arguments`);
      }
    }
    let at = this.base;
    for (const r of regions) {
      r.at = at;
      if (r.copyIn)
        new Uint8Array(this.ex.memory.buffer, at, r.end - r.start).set(
          new Uint8Array(r.buffer, r.start, r.end - r.start),
        );
      at += (r.end - r.start + 15) & ~15;
    }
    const ptrs = args.map(([, array], i) => {
      const r = owner[i];
      return r && array ? r.at + array.byteOffset - r.start : 0;
    });
    const result = body(...ptrs);
    const failure = poolFailure(this.ex);
    if (failure !== null)
      throw new Error(
        `${kernel}: a worker of the threaded WebAssembly kernels failed during this call (${failure}); its results ` +
          'are incomplete and these kernels are unusable: load them again (a new process, or loadWasmBackend in a page)',
      );
    // The kernels may grow the memory (their own scratch): views are made after the call.
    for (const r of regions) {
      if (r.copyOut)
        new Uint8Array(r.buffer, r.start, r.end - r.start).set(
          new Uint8Array(this.ex.memory.buffer, r.at, r.end - r.start),
        );
    }
    return result;
  }
}

interface WasmPacked extends PackedLinear {
  /** Where the packed panels live in the module's memory (freed when this object is collected). */
  readonly ptr: number;
}

/**
 * Packed linear layers: fp32 weights are packed once into the module's memory in the GEMM's panel layout (neither
 * copied nor repacked per call); q8 and bf16 run on the reference kernels (jsPackedLinear).
 */
function wasmPackedLinear(ex: WasmKernelExports, mem: Marshal): PackedLinearKernels {
  const registry = new FinalizationRegistry<number>((ptr) => ex.bk_free(ptr));
  return {
    unsupported: (dtype) => jsPackedLinear.unsupported(dtype),
    q8WeightMax: jsPackedLinear.q8WeightMax,
    pack(weights, n, k) {
      if (weights.dtype !== 'fp32') return jsPackedLinear.pack(weights, n, k);
      const ptr = mem.call('pack', [[0, weights.data, n * k, 'in']], (pw) => ex.bk_pack_linear(pw!, n, k));
      if (!ptr) throw new RangeError(`pack: the WebAssembly memory cannot hold a [${n}, ${k}] weight`);
      const packed: WasmPacked = { dtype: 'fp32', n, k, ptr };
      registry.register(packed, ptr);
      return packed;
    },
    forward(x, packed, bias, y, m, activation) {
      const ptr = (packed as Partial<WasmPacked>).ptr;
      if (ptr === undefined) return jsPackedLinear.forward(x, packed, bias, y, m, activation);
      const { n, k } = packed;
      const act = activation ? actCode(activation) : -1;
      mem.call(
        'packedLinear.forward',
        [
          [0, x, m * k, 'in'],
          [2, bias, n, 'in'],
          [3, y, m * n, 'new'],
        ],
        (px, pb, py) => ex.bk_packed_linear_forward(px!, ptr, pb!, py!, m, n, k, act),
      );
    },
  };
}

function checkDropoutP(kernel: string, index: number, p: number): void {
  if (!(p >= 0 && p < 1)) throw new RangeError(`${kernel}: argument ${index} (dropout p) must be in [0, 1), got ${p}`);
}

/**
 * The attention kernels' AttentionSizes (starting at argument `at`) checked with their lds: H * D, the rows, the
 * probabilities' size and the trailing numbers the module takes (sizes, scale, the dropout's p, seed, first example).
 */
function attentionArgs(
  kernel: string,
  at: number,
  args: AttentionSizes,
  lds: Array<[index: number, name: string, ld: number]>,
): { hd: number; rows: number; probsSize: number; sizes: number[] } {
  const [batch, seqLen, heads, headDim, scale, dropout] = args;
  const hd = heads * headDim;
  for (const [index, name, ld] of lds) checkLd(kernel, index, name, ld, hd);
  if (dropout) checkDropoutP(kernel, at + 5, dropout.p);
  const sizes = [batch, seqLen, heads, headDim, scale, ...dropoutNumbers(dropout)];
  return { hd, rows: batch * seqLen, probsSize: batch * heads * seqLen * seqLen, sizes };
}

/**
 * Kernels backed by the module. Delegated to the TypeScript kernels, explicitly: add, and embedding forward /
 * backward (a gather / scatter over a table of vocab x dim floats, which copying into the module would cost more
 * than the kernel itself).
 */
export function createWasmKernels(ex: WasmKernelExports): Kernels {
  const mem = new Marshal(ex);
  const scratch2 = new Float32Array(4); // room for two doubles (softmaxCrossEntropy's results)
  return {
    name: `wasm (${ex.relaxedSimd ? 'relaxed-simd' : 'simd128'}, ${ex.threads ?? 1} thread${(ex.threads ?? 1) > 1 ? 's' : ''})`,
    gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      const [aRows, aCols] = transA ? [k, m] : [m, k];
      const [bRows, bCols] = transB ? [n, k] : [k, n];
      checkLd('gemm', 7, 'lda', lda, aCols);
      checkLd('gemm', 9, 'ldb', ldb, bCols);
      checkLd('gemm', 12, 'ldc', ldc, n);
      mem.call(
        'gemm',
        [
          [6, a, span(aRows, aCols, lda), 'in'],
          [8, b, span(bRows, bCols, ldb), 'in'],
          [11, c, span(m, n, ldc), beta === 0 && ldc === n ? 'new' : 'out'],
        ],
        (pa, pb, pc) => ex.bk_gemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, pa!, lda, pb!, ldb, beta, pc!, ldc),
      );
    },
    linearForward(x, w, bias, y, m, n, k, activation) {
      const act = activation ? actCode(activation) : -1;
      mem.call(
        'linearForward',
        [
          [0, x, m * k, 'in'],
          [1, w, n * k, 'in'],
          [2, bias, n, 'in'],
          [3, y, m * n, 'new'],
        ],
        (px, pw, pb, py) => ex.bk_linear_forward(px!, pw!, pb!, py!, m, n, k, act),
      );
    },
    linearBackward(dy, x, w, dx, dw, db, m, n, k) {
      mem.call(
        'linearBackward',
        [
          [0, dy, m * n, 'in'],
          [1, x, m * k, 'in'],
          [2, w, dx ? n * k : 0, 'in'], // read for dx only
          [3, dx, m * k, 'new'],
          [4, dw, n * k, 'out'],
          [5, db, n, 'out'],
        ],
        (pdy, px, pw, pdx, pdw, pdb) => ex.bk_linear_backward(pdy!, px!, pw!, pdx!, pdw!, pdb!, m, n, k),
      );
    },
    activationForward(act, x, y, n) {
      const code = actCode(act);
      mem.call(
        'activationForward',
        [
          [1, x, n, 'in'],
          [2, y, n, 'new'],
        ],
        (px, py) => ex.bk_activation_forward(code, px!, py!, n),
      );
    },
    activationBackward(act, x, dy, dx, n) {
      const code = actCode(act);
      mem.call(
        'activationBackward',
        [
          [1, x, n, 'in'],
          [2, dy, n, 'in'],
          [3, dx, n, 'new'],
        ],
        (px, pdy, pdx) => ex.bk_activation_backward(code, px!, pdy!, pdx!, n),
      );
    },
    layerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps, residual) {
      mem.call(
        'layerNormForward',
        [
          [0, x, rows * cols, residual ? 'out' : 'in'],
          [9, residual ?? null, rows * cols, 'in'],
          [1, gamma, cols, 'in'],
          [2, beta, cols, 'in'],
          [3, y, rows * cols, 'new'],
          [4, mean, rows, 'new'],
          [5, rstd, rows, 'new'],
        ],
        (px, pr, pg, pb, py, pm, ps) => ex.bk_layer_norm_forward(px!, pr!, pg!, pb!, py!, pm!, ps!, rows, cols, eps),
      );
    },
    layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols) {
      mem.call(
        'layerNormBackward',
        [
          [0, dy, rows * cols, 'in'],
          [1, x, rows * cols, 'in'],
          [2, gamma, cols, 'in'],
          [3, mean, rows, 'in'],
          [4, rstd, rows, 'in'],
          [5, dx, rows * cols, 'new'],
          [6, dgamma, cols, 'out'],
          [7, dbeta, cols, 'out'],
        ],
        (...p) => ex.bk_layer_norm_backward(...(p as number[]), rows, cols),
      );
    },
    attentionForward(q, k, v, ld, maskBias, probs, ctx, ldCtx, ...args) {
      const { hd, rows, probsSize, sizes } = attentionArgs('attentionForward', 8, args, [
        [3, 'ld', ld],
        [7, 'ldCtx', ldCtx],
      ]);
      mem.call(
        'attentionForward',
        [
          [0, q, span(rows, hd, ld), 'in'],
          [1, k, span(rows, hd, ld), 'in'],
          [2, v, span(rows, hd, ld), 'in'],
          [4, maskBias, rows, 'in'],
          [5, probs, probsSize, 'new'],
          [6, ctx, span(rows, hd, ldCtx), ldCtx === hd ? 'new' : 'out'],
        ],
        (pq, pk, pv, pm, pp, pc) => ex.bk_attention_forward(pq!, pk!, pv!, ld, pm!, pp!, pc!, ldCtx, ...sizes),
      );
    },
    attentionBackward(dctx, ldCtx, q, k, v, ld, probs, dq, dk, dv, ...args) {
      const { hd, rows, probsSize, sizes } = attentionArgs('attentionBackward', 10, args, [
        [1, 'ldCtx', ldCtx],
        [5, 'ld', ld],
      ]);
      const whole = ld === hd ? 'new' : 'out'; // dq, dk, dv: columns beyond H*D are left alone
      mem.call(
        'attentionBackward',
        [
          [0, dctx, span(rows, hd, ldCtx), 'in'],
          [2, q, span(rows, hd, ld), 'in'],
          [3, k, span(rows, hd, ld), 'in'],
          [4, v, span(rows, hd, ld), 'in'],
          [6, probs, probsSize, 'in'],
          [7, dq, span(rows, hd, ld), whole],
          [8, dk, span(rows, hd, ld), whole],
          [9, dv, span(rows, hd, ld), whole],
        ],
        (pdc, pq, pk, pv, pp, pdq, pdk, pdv) =>
          ex.bk_attention_backward(pdc!, ldCtx, pq!, pk!, pv!, ld, pp!, pdq!, pdk!, pdv!, ...sizes),
      );
    },
    add: jsKernels.add,
    embeddingForward: jsKernels.embeddingForward,
    embeddingBackward: jsKernels.embeddingBackward,
    dropoutForward(x, y, n, exampleSize, dropout) {
      dropoutCall('dropoutForward', x, y, n, exampleSize, dropout);
    },
    dropoutBackward(dy, dx, n, exampleSize, dropout) {
      dropoutCall('dropoutBackward', dy, dx, n, exampleSize, dropout);
    },
    softmaxCrossEntropy(logits, labels, n, c, ignoreIndex, dlogits, gradScale) {
      // A label outside [0, c) gets the reference kernel's error (the module would read out of bounds).
      for (let i = 0; i < n; i++) {
        const label = labels[i];
        if (label !== ignoreIndex && !(label !== undefined && label >= 0 && label < c))
          return jsKernels.softmaxCrossEntropy(logits, labels, n, c, ignoreIndex, dlogits, gradScale);
      }
      mem.call(
        'softmaxCrossEntropy',
        [
          [0, logits, n * c, 'in'],
          [1, labels, n, 'in'],
          [5, dlogits, n * c, 'new'],
          [7, scratch2, 4, 'new'],
        ],
        (pl, plb, pd, pout) => ex.bk_softmax_cross_entropy(pl!, plb!, n, c, ignoreIndex, pd!, gradScale, pout!),
      );
      const result = new Float64Array(scratch2.buffer, 0, 2);
      return { lossSum: result[0]!, count: result[1]! };
    },
    adamwStep(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2) {
      mem.call(
        'adamwStep',
        [
          [0, params, n, 'out'],
          [1, grads, n, 'in'],
          [2, m, n, 'out'],
          [3, v, n, 'out'],
        ],
        (pp, pg, pm, pv) => ex.bk_adamw_step(pp!, pg!, pm!, pv!, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2),
      );
      markWeightsChanged(params); // packed copies of these parameters are stale now
    },
    sumSquares(x, n) {
      return mem.call('sumSquares', [[0, x, n, 'in']], (px) => ex.bk_sum_squares(px!, n));
    },
    scale(x, n, s) {
      mem.call('scale', [[0, x, n, 'out']], (px) => ex.bk_scale(px!, n, s));
    },
    packedLinear: wasmPackedLinear(ex, mem),
  };

  function dropoutCall(
    kernel: string,
    x: Float32Array,
    y: Float32Array,
    n: number,
    exampleSize: number,
    dropout: Parameters<Kernels['dropoutForward']>[4],
  ): void {
    if (!(exampleSize >= 1)) throw new RangeError(`${kernel}: exampleSize must be >= 1, got ${exampleSize}`);
    checkDropoutP(kernel, 4, dropout.p);
    const [p, seed, first] = dropoutNumbers(dropout);
    mem.call(
      kernel,
      [
        [0, x, n, 'in'],
        [1, y, n, 'new'],
      ],
      (px, py) => ex.bk_dropout(px!, py!, n, exampleSize, p, seed, first),
    );
  }
}
