// Loads the compiled addon (native/build/Release/bert_native.node) once and describes its raw functions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeMpi } from './mpi.js';

type GemmFn = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

/** The raw functions of the addon (argument order of native/src/addon.cc; dropout passed as p, seed). */
export interface NativeAddon {
  gemm: GemmFn;
  /** The library's own sgemm (oneDNN / CBLAS) with nothing of ours around it: the benchmark's reference. */
  sgemmReference: GemmFn;
  /** The portable built-in kernel, whatever library the addon was built with. */
  sgemmBuiltin: GemmFn;
  /** act: an activation code, or -1 for none. */
  linearForward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    m: number,
    n: number,
    k: number,
    act: number,
  ): void;
  linearBackward(
    dy: Float32Array,
    x: Float32Array,
    w: Float32Array,
    dx: Float32Array | null,
    dw: Float32Array,
    db: Float32Array | null,
    m: number,
    n: number,
    k: number,
  ): void;
  activationForward(act: number, x: Float32Array, y: Float32Array, n: number): void;
  activationBackward(act: number, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  layerNormForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
    residual: Float32Array | null,
  ): void;
  layerNormBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    rows: number,
    cols: number,
  ): void;
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    ld: number,
    maskBias: Float32Array,
    probs: Float32Array | null,
    ctx: Float32Array,
    ldCtx: number,
    batch: number,
    seqLen: number,
    heads: number,
    headDim: number,
    scale: number,
    p: number,
    seed: number,
  ): void;
  attentionBackward(
    dctx: Float32Array,
    ldCtx: number,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    ld: number,
    probs: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    batch: number,
    seqLen: number,
    heads: number,
    headDim: number,
    scale: number,
    p: number,
    seed: number,
  ): void;
  embeddingForward(
    ids: Int32Array,
    table: Float32Array,
    out: Float32Array,
    n: number,
    dim: number,
    accumulate: boolean,
  ): void;
  embeddingBackward(ids: Int32Array, dout: Float32Array, dtable: Float32Array, n: number, dim: number): void;
  dropout(x: Float32Array, y: Float32Array, n: number, p: number, seed: number): void;
  add(dst: Float32Array, src: Float32Array, n: number): void;
  softmaxCrossEntropy(
    logits: Float32Array,
    labels: Int32Array,
    n: number,
    c: number,
    ignoreIndex: number,
    dlogits: Float32Array | null,
    gradScale: number,
  ): { lossSum: number; count: number };
  adamwStep(
    params: Float32Array,
    grads: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    bc1: number,
    bc2: number,
  ): void;
  sumSquares(x: Float32Array, n: number): number;
  scale(x: Float32Array, n: number, s: number): void;
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
        error: `the native addon is not built (${path} does not exist; run \`npm run build:native\`)`,
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
