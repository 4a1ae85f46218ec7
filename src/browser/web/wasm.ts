// The WebAssembly backend in the browser: compiles bert_kernels.wasm from fetch (asynchronously: browsers refuse
// large synchronous compiles) and makes it the default backend of every model, Trainer and pipeline. On a cross-origin
// isolated page (SharedArrayBuffer) it compiles bert_kernels_threads.wasm instead and starts its Web Workers. Where
// the browser validates relaxed SIMD (Chromium 156 does by default) the GEMM's micro-kernel comes from
// bert_gemm_relaxed(_threads).wasm beside the kernels (f32x4.relaxed_madd: an FMA on x86 and ARM64).
import { createWasmKernels, getKernels } from '../../native/index.js';
import {
  instantiateWasmKernels,
  relaxedSimdSupported,
  useWasmKernels,
  WASM_WORKER_SOURCE,
  type WasmKernelExports,
  type WasmWorkerStart,
} from '../../native/wasm-kernels.js';
import type { Kernels } from '../../tensor/kernels.js';

interface BrowserWebAssembly {
  compile(bytes: Uint8Array | ArrayBuffer): Promise<object>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: BrowserWebAssembly }).WebAssembly;

interface WebWorker {
  postMessage(message: unknown): void;
  addEventListener(type: 'message' | 'error', listener: (event: { data?: unknown; message?: string }) => void): void;
}
const page = globalThis as unknown as {
  Worker?: new (url: string) => WebWorker;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
};

/** The bert_kernels.wasm built beside the bundle (dist/browser/bert_kernels.wasm). */
export const DEFAULT_WASM_URL = new URL('./bert_kernels.wasm', import.meta.url).href;

type WasmSource = string | URL | ArrayBuffer | Uint8Array;

export interface WasmBackendOptions {
  /**
   * Threads to compute with, the calling one included: default min(navigator.hardwareConcurrency, 4) on a
   * cross-origin isolated page (onnxruntime-web's default), else 1. 1 runs the single-threaded module; more than 1
   * needs SharedArrayBuffer (the page served with COOP/COEP headers, as `bert demo --browser` does).
   */
  threads?: number;
  /** The threaded module: default bert_kernels_threads.wasm beside `source` (when `source` is a URL). */
  threadedSource?: WasmSource;
  /**
   * The relaxed-SIMD micro-kernel: undefined (the default) uses it where the browser validates relaxed SIMD and the
   * module loads, else the SIMD128 one; false never; true requires it (an error says why it is unavailable).
   */
  relaxed?: boolean;
  /**
   * The relaxed module matching the thread count: default bert_gemm_relaxed.wasm (1 thread) or
   * bert_gemm_relaxed_threads.wasm beside `source` (when `source` is a URL).
   */
  relaxedSource?: WasmSource;
}

/** The default thread count of this page (see WasmBackendOptions.threads). */
export function defaultWasmThreads(): number {
  if (!page.crossOriginIsolated || typeof SharedArrayBuffer === 'undefined') return 1;
  return Math.max(1, Math.min(page.navigator?.hardwareConcurrency ?? 1, 4));
}

async function compile(source: WasmSource): Promise<object> {
  if (typeof source === 'string' || source instanceof URL) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`GET ${String(source)}: HTTP ${res.status} (build it with npm run build:wasm)`);
    return wasmApi.compile(await res.arrayBuffer());
  }
  return wasmApi.compile(source);
}

/** The compiled relaxed-SIMD module for `threads`, or null where the SIMD128 micro-kernel is used (see options). */
async function relaxedModule(source: WasmSource, options: WasmBackendOptions, threads: number): Promise<object | null> {
  if (options.relaxed === false) return null;
  const required = options.relaxed === true;
  const fail = (why: string): null => {
    if (required) throw new Error(`useWasmBackend: relaxed: true, but the relaxed-SIMD GEMM is unavailable: ${why}`);
    return null;
  };
  if (!relaxedSimdSupported()) return fail('this browser does not validate relaxed SIMD');
  const relaxed =
    options.relaxedSource ??
    (typeof source === 'string' || source instanceof URL
      ? String(source).replace(/[^/]*\.wasm(?=$|[?#])/, `bert_gemm_relaxed${threads > 1 ? '_threads' : ''}.wasm`)
      : null);
  if (relaxed === null) return fail('module bytes as the source need options.relaxedSource');
  try {
    return await compile(relaxed);
  } catch (err) {
    // Not built (its toolchain is optional): the SIMD128 micro-kernel, unless required.
    return fail((err as Error).message);
  }
}

/** Starts the threaded module's Web Workers (from a blob: URL, allowed under COEP) and waits until each is running. */
async function instantiateThreaded(
  module: object,
  threads: number,
  relaxed: object | null,
): Promise<WasmKernelExports> {
  const Worker = page.Worker;
  if (!Worker) throw new Error('threads need Web Workers, which this context has not');
  const script = `${WASM_WORKER_SOURCE}\nonmessage = (e) => bertWasmWorker(e.data, () => postMessage('ready'));`;
  const url = URL.createObjectURL(new Blob([script], { type: 'text/javascript' }));
  const started: Array<Promise<void>> = [];
  const exports = instantiateWasmKernels(
    module,
    {
      threads,
      spawn(start: WasmWorkerStart) {
        const worker = new Worker(url);
        started.push(
          new Promise((resolve, reject) => {
            worker.addEventListener('message', () => resolve());
            worker.addEventListener('error', (e) => reject(new Error(`a bert-ts wasm worker failed: ${e.message}`)));
          }),
        );
        worker.postMessage(start);
      },
    },
    relaxed,
  );
  await Promise.all(started);
  URL.revokeObjectURL(url);
  return exports;
}

/**
 * Loads the WebAssembly kernels (from `source`: a URL, or the module's bytes) with `options.threads` threads and
 * returns them as Kernels, without changing the default backend (useWasmBackend does).
 */
export async function loadWasmBackend(
  source: WasmSource = DEFAULT_WASM_URL,
  options: WasmBackendOptions = {},
): Promise<Kernels> {
  return createWasmKernels(await instantiate(source, options));
}

/**
 * The instantiated module itself (its exports over its memory), loaded as loadWasmBackend loads it: for tests and tools
 * that call the module directly (createWasmKernels makes Kernels of it).
 */
export async function loadWasmExports(
  source: WasmSource = DEFAULT_WASM_URL,
  options: WasmBackendOptions = {},
): Promise<WasmKernelExports> {
  return instantiate(source, options);
}

async function instantiate(source: WasmSource, options: WasmBackendOptions): Promise<WasmKernelExports> {
  const threads = options.threads ?? defaultWasmThreads();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64))
    throw new RangeError(`useWasmBackend: threads must be an integer from 1 to 64, got ${threads}`);
  if (threads === 1)
    return instantiateWasmKernels(await compile(source), undefined, await relaxedModule(source, options, 1));
  if (typeof SharedArrayBuffer === 'undefined' || page.crossOriginIsolated === false)
    throw new Error(
      `useWasmBackend: ${threads} threads need SharedArrayBuffer: serve the page cross-origin isolated ` +
        '(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), or use threads: 1',
    );
  const threaded =
    options.threadedSource ??
    (typeof source === 'string' || source instanceof URL
      ? String(source).replace(/\.wasm(?=$|[?#])/, '_threads.wasm')
      : null);
  if (threaded === null) throw new Error('useWasmBackend: threads > 1 with module bytes need options.threadedSource');
  return instantiateThreaded(await compile(threaded), threads, await relaxedModule(source, options, threads));
}

/**
 * Loads the WebAssembly kernels (see loadWasmBackend) and sets BERT_BACKEND=wasm, so that fromPretrained, finetune,
 * the Trainer and pipelines compute with them. Returns the Kernels.
 */
export async function useWasmBackend(
  source: WasmSource = DEFAULT_WASM_URL,
  options: WasmBackendOptions = {},
): Promise<Kernels> {
  useWasmKernels(await instantiate(source, options));
  process.env.BERT_BACKEND = 'wasm';
  return getKernels({ backend: 'wasm' });
}
