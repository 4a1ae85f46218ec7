// Loads the compiled addon (native/build/Release/bert_native.node) once and describes its raw functions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../tensor/kernels.js';
import type { NativeMpi } from './mpi.js';

/** A Kernels method's arguments. */
type Args<K extends keyof Kernels> = Kernels[K] extends (...args: infer A) => unknown ? A : never;
/** Arguments without the last one (the addon takes dropout as three numbers instead of a DropoutSpec). */
type WithoutLast<T extends unknown[]> = T extends [...infer Head, unknown] ? Head : never;

/**
 * The raw functions of the addon (argument order of native/src/addon.cc). Where they take what the Kernels contract
 * takes, their type is the contract's; otherwise activations are codes and dropout is (p, seed, firstExample).
 */
export interface NativeAddon {
  gemm: Kernels['gemm'];
  /** The library's own sgemm (oneDNN / CBLAS) with nothing of ours around it: the benchmark's reference. */
  sgemmReference: Kernels['gemm'];
  /** The portable built-in kernel, whatever library the addon was built with. */
  sgemmBuiltin: Kernels['gemm'];
  /** act: an activation code, or -1 for none. */
  linearForward(...args: [...WithoutLast<Required<Args<'linearForward'>>>, act: number]): void;
  linearBackward: Kernels['linearBackward'];
  activationForward(act: number, x: Float32Array, y: Float32Array, n: number): void;
  activationBackward(act: number, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  layerNormForward(...args: Required<Args<'layerNormForward'>>): void;
  layerNormBackward: Kernels['layerNormBackward'];
  attentionForward(
    ...args: [...WithoutLast<Args<'attentionForward'>>, p: number, seed: number, firstExample: number]
  ): void;
  attentionBackward(
    ...args: [...WithoutLast<Args<'attentionBackward'>>, p: number, seed: number, firstExample: number]
  ): void;
  embeddingForward: Kernels['embeddingForward'];
  embeddingBackward: Kernels['embeddingBackward'];
  dropout(
    x: Float32Array,
    y: Float32Array,
    n: number,
    exampleSize: number,
    p: number,
    seed: number,
    firstExample: number,
  ): void;
  add: Kernels['add'];
  softmaxCrossEntropy: Kernels['softmaxCrossEntropy'];
  adamwStep: Kernels['adamwStep'];
  sumSquares: Kernels['sumSquares'];
  scale: Kernels['scale'];
  /** An external holding a packed weight (kind 0 fp32: Float32Array; 1 q8: Int8Array + scales; 2 bf16: Uint16Array). */
  packLinear(
    kind: number,
    w: Float32Array | Int8Array | Uint16Array,
    scales: Float32Array | null,
    n: number,
    k: number,
  ): object;
  /** act: an activation code, or -1 for none. */
  packedLinearForward(
    packed: object,
    x: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    m: number,
    act: number,
  ): void;
  /** null per kind where it runs on this CPU, else why not; q8WeightMax 127 with VNNI, else 63. */
  packedSupport(): { fp32: string | null; q8: string | null; bf16: string | null; q8WeightMax: number };
  /** The activation quantization of q8 (scales[i] = max|x_i| / 127) and the float -> bf16 rounding, for the tests. */
  quantizeRows(x: Float32Array, q: Int8Array, scales: Float32Array, m: number, k: number): void;
  toBf16(x: Float32Array, y: Uint16Array, n: number): void;
  /** The GEMM library behind the addon ('oneDNN 2.6.3', 'OpenBLAS', 'Accelerate', 'builtin') and its thread count. */
  info(): { library: string; threads: number; isa: string };
  setNumThreads(n: number): void;
  /** MPI (native/src/mpi.cc), only when the addon was built with it. */
  mpi?: NativeMpi;
}

/** Where the addon is looked for: BERT_NATIVE_ADDON, else native/build/Release beside this package. */
export function nativeAddonPath(): string {
  return (
    process.env.BERT_NATIVE_ADDON ??
    fileURLToPath(new URL('../../native/build/Release/bert_native.node', import.meta.url))
  );
}

let loaded: { addon: NativeAddon | null; error: string | null } | null = null;

/** The addon, or null with the reason in nativeLoadError(); tried once per process. */
export function loadNativeAddon(): NativeAddon | null {
  if (!loaded) {
    const path = nativeAddonPath();
    if (!existsSync(path)) {
      loaded = {
        addon: null,
        error: `the native addon is not built (${path} does not exist; build it with \`npm rebuild bert-ts\` in a project that depends on bert-ts, or \`npm run build:native\` in a clone)`,
      };
    } else {
      // OpenMP threads that spin while waiting for their peer burn the time slice that peer needs whenever the
      // machine runs more threads than cores (measured here: a BERT-base 1x128 forward took 4.2 s spinning, 0.36 s
      // passive, on 2 busy cores). libgomp reads its policy once, when the addon pulls it in: default to passive
      // for that moment unless the user chose a policy, and leave the environment as it was.
      const setPolicy = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
      if (setPolicy) process.env.OMP_WAIT_POLICY = 'passive';
      try {
        loaded = { addon: createRequire(import.meta.url)(path) as NativeAddon, error: null };
      } catch (err) {
        loaded = { addon: null, error: `the native addon at ${path} failed to load: ${(err as Error).message}` };
      } finally {
        if (setPolicy) delete process.env.OMP_WAIT_POLICY;
      }
    }
  }
  return loaded.addon;
}

/** Why loadNativeAddon() returned null (null when it loaded). */
export function nativeLoadError(): string | null {
  loadNativeAddon();
  return loaded?.error ?? null;
}
