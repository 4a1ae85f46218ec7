// Backend selection: getKernels() returns the native kernels when the addon loads, else the js kernels (warning once).
import type { Kernels } from '../tensor/kernels.js';
import { jsKernels } from '../tensor/js-kernels.js';
import { loadNativeAddon, nativeLoadError } from './addon.js';
import { createNativeKernels } from './native-kernels.js';

export { loadNativeAddon, nativeAddonPath, nativeLoadError } from './addon.js';
export type { NativeAddon } from './addon.js';
export { createNativeKernels } from './native-kernels.js';

/** 'auto' (the default) prefers native and falls back to js; 'native' fails loudly when the addon is missing. */
export type BackendChoice = 'auto' | 'js' | 'native';

export interface GetKernelsOptions {
  /** Overrides BERT_BACKEND. */
  backend?: BackendChoice;
}

let nativeKernels: Kernels | null = null;
let warned = false;

function parseBackend(value: string, source: string): BackendChoice {
  if (value === 'auto' || value === 'js' || value === 'native') return value;
  throw new Error(`${source}='${value}' is not a backend: use js, native or auto`);
}

/** The native Kernels, or null when the addon is unavailable (see nativeLoadError()). */
export function tryNativeKernels(): Kernels | null {
  if (nativeKernels) return nativeKernels;
  const addon = loadNativeAddon();
  if (addon) nativeKernels = createNativeKernels(addon);
  return nativeKernels;
}

/** The Kernels implementation for this process: `options.backend`, else BERT_BACKEND (js | native | auto), else auto. */
export function getKernels(options: GetKernelsOptions = {}): Kernels {
  const env = process.env.BERT_BACKEND;
  const choice = options.backend
    ? parseBackend(options.backend, 'backend option')
    : env
      ? parseBackend(env, 'BERT_BACKEND')
      : 'auto';
  if (choice === 'js') return jsKernels;
  const native = tryNativeKernels();
  if (native) return native;
  if (choice === 'native') {
    throw new Error(
      `native backend requested (${options.backend ? 'backend option' : 'BERT_BACKEND=native'}) but ${nativeLoadError()}`,
    );
  }
  if (!warned) {
    warned = true;
    process.stderr.write(
      `bert-ts: ${nativeLoadError()}; using the TypeScript kernels (much slower). Set BERT_BACKEND=js to silence this.\n`,
    );
  }
  return jsKernels;
}
