// The WebAssembly backend in the browser: compiles bert_kernels.wasm from fetch (asynchronously: browsers refuse
// large synchronous compiles) and makes it the default backend of every model, Trainer and pipeline.
import { getKernels } from '../../native/index.js';
import { instantiateWasmKernels, useWasmKernels } from '../../native/wasm-kernels.js';
import type { Kernels } from '../../tensor/kernels.js';

interface BrowserWebAssembly {
  compile(bytes: Uint8Array | ArrayBuffer): Promise<object>;
  compileStreaming?(source: Promise<Response>): Promise<object>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: BrowserWebAssembly }).WebAssembly;

/** The bert_kernels.wasm built beside the bundle (dist/browser/bert_kernels.wasm). */
export const DEFAULT_WASM_URL = new URL('./bert_kernels.wasm', import.meta.url).href;

/**
 * Loads the WebAssembly kernels (from `source`: a URL, or the module's bytes) and sets BERT_BACKEND=wasm, so that
 * fromPretrained, finetune, the Trainer and pipelines compute with them. Returns the Kernels.
 */
export async function useWasmBackend(
  source: string | URL | ArrayBuffer | Uint8Array = DEFAULT_WASM_URL,
): Promise<Kernels> {
  let module: object;
  if (typeof source === 'string' || source instanceof URL) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`GET ${String(source)}: HTTP ${res.status} (build it with npm run build:wasm)`);
    module = await wasmApi.compile(await res.arrayBuffer());
  } else {
    module = await wasmApi.compile(source);
  }
  useWasmKernels(instantiateWasmKernels(module));
  process.env.BERT_BACKEND = 'wasm';
  return getKernels({ backend: 'wasm' });
}
