// Backend selection: getKernels() returns the native kernels when the addon loads, else the js kernels (warning once);
// the WebAssembly kernels only when asked for (BERT_BACKEND=wasm).
import type { Kernels } from '../tensor/kernels.js';
import { jsKernels } from '../tensor/js-kernels.js';
import { loadNativeAddon, nativeLoadError } from './addon.js';
import { createNativeKernels } from './native-kernels.js';
import { createWasmKernels, loadWasmKernels, wasmLoadError } from './wasm-kernels.js';

export { loadNativeAddon, nativeAddonPath, nativeLoadError } from './addon.js';
export type { NativeAddon } from './addon.js';
export { createNativeKernels } from './native-kernels.js';
export { createWasmKernels, loadWasmKernels, wasmKernelsPath, wasmLoadError } from './wasm-kernels.js';

/**
 * 'auto' (the default) prefers native and falls back to js; 'native' fails loudly when the addon is missing, 'wasm'
 * (the WebAssembly kernels, scripts/build-wasm.mjs) when its module is.
 */
export type BackendChoice = 'auto' | 'js' | 'native' | 'wasm';

export interface GetKernelsOptions {
  /** Overrides BERT_BACKEND. */
  backend?: BackendChoice;
}

let nativeKernels: Kernels | null = null;
let wasmKernels: Kernels | null = null;
let warned = false;

function parseBackend(value: string, source: string): BackendChoice {
  if (value === 'auto' || value === 'js' || value === 'native' || value === 'wasm') return value;
  throw new Error(`${source}='${value}' is not a backend: use js, native, wasm or auto`);
}

/** The native Kernels, or null when the addon is unavailable (see nativeLoadError()). */
export function tryNativeKernels(): Kernels | null {
  if (nativeKernels) return nativeKernels;
  const addon = loadNativeAddon();
  if (addon) nativeKernels = createNativeKernels(addon);
  return nativeKernels;
}

/** The WebAssembly Kernels, or null when the module is unavailable (see wasmLoadError()). */
export function tryWasmKernels(): Kernels | null {
  if (wasmKernels) return wasmKernels;
  const exports = loadWasmKernels();
  if (exports) wasmKernels = createWasmKernels(exports);
  return wasmKernels;
}

/**
 * The Kernels implementation for this process: `options.backend`, else BERT_BACKEND (js | native | wasm | auto), else
 * auto: native, else WebAssembly, else the TypeScript kernels (one warning on stderr when not native).
 */
export function getKernels(options: GetKernelsOptions = {}): Kernels {
  const env = process.env.BERT_BACKEND;
  const choice = options.backend
    ? parseBackend(options.backend, 'backend option')
    : env
      ? parseBackend(env, 'BERT_BACKEND')
      : 'auto';
  if (choice === 'js') return jsKernels;
  if (choice === 'wasm') {
    const wasm = tryWasmKernels();
    if (wasm) return wasm;
    throw new Error(
      `wasm backend requested (${options.backend ? 'backend option' : 'BERT_BACKEND=wasm'}) but ${wasmLoadError()}`,
    );
  }
  const native = tryNativeKernels();
  if (native) return native;
  if (choice === 'native') {
    throw new Error(
      `native backend requested (${options.backend ? 'backend option' : 'BERT_BACKEND=native'}) but ${nativeLoadError()}`,
    );
  }
  // auto without the addon: the WebAssembly kernels where they are built (10-20x the TypeScript ones), else js.
  const wasm = tryWasmKernels();
  if (!warned) {
    warned = true;
    process.stderr.write(
      wasm
        ? `bert-ts: ${nativeLoadError()}; using the WebAssembly kernels, ${wasm.name} (slower than native). Set BERT_BACKEND=wasm to silence this.\n`
        : `bert-ts: ${nativeLoadError()}, and ${wasmLoadError()}; using the TypeScript kernels (much slower). Set BERT_BACKEND=js to silence this.\n`,
    );
  }
  return wasm ?? jsKernels;
}
