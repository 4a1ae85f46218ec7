// Builds the WebAssembly kernels (wasm/src + native/src/kernels.cc) into wasm/build/bert_kernels.wasm with
// emscripten's emcc, and their threaded variant wasm/build/bert_kernels_threads.wasm (atomics, a shared imported
// memory: the loader runs its worker pool on Web Workers / worker_threads, src/native/wasm-kernels.ts) (Debian: `apt-get install emscripten`; EMCC=/path/to/emcc picks another). Optional like the
// native addon: without emcc it says so in one line and exits 0 (BERT_BACKEND=wasm then fails with that reason),
// unless BERT_REQUIRE_WASM=1 (CI), where a missing toolchain or a failed build is an error.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'wasm', 'build');
const logPath = join(outDir, 'build-wasm.log');
const required = process.env.BERT_REQUIRE_WASM === '1';

function say(line) {
  process.stdout.write(`bert-ts: ${line}\n`);
}

function giveUp(reason) {
  say(`WebAssembly kernels not built (${reason}); BERT_BACKEND=wasm is unavailable, every other backend works`);
  process.exit(required ? 1 : 0);
}

if (process.env.BERT_SKIP_WASM === '1') giveUp('BERT_SKIP_WASM=1');
const emcc = process.env.EMCC || 'emcc';
const version = spawnSync(emcc, ['--version'], { encoding: 'utf8' });
if (version.error || version.status !== 0) giveUp(`no ${emcc} on PATH: apt-get install emscripten, or set EMCC`);

const sources = ['wasm/src/gemm.cc', 'wasm/src/pool.cc', 'wasm/src/exports.cc', 'native/src/kernels.cc'].map((f) =>
  join(root, f),
);
const flags = [
  '-O3',
  '-msimd128',
  // The native kernels' `#pragma omp simd` loops vectorise without an OpenMP runtime; `omp parallel` is ignored.
  '-fopenmp-simd',
  '-Wno-unknown-pragmas',
  '-Wno-pass-failed',
  '-std=c++17',
  '--no-entry',
  '-sALLOW_MEMORY_GROWTH=1',
  '-sINITIAL_MEMORY=16MB',
  // Pointers come back to JavaScript as signed int32: memory stays below 2 GiB.
  '-sMAXIMUM_MEMORY=2GB',
  '-sERROR_ON_UNDEFINED_SYMBOLS=1',
];
// The single-threaded module has no JavaScript glue: its two imports (memory growth notice, proc_exit) are stubbed
// by the loader.
const single = ['-sSTANDALONE_WASM=1'];
// emscripten 3.1 refuses STANDALONE_WASM with -pthread: the threaded module is linked bare (the wasm its JavaScript
// glue would load, no glue written); the loader provides the few imports used (the shared memory, heap growth,
// main-thread set-up) and stubs the rest.
const threaded = ['-pthread', '-Wno-pthreads-mem-growth', '--oformat=bare', '-Wno-experimental'];

mkdirSync(outDir, { recursive: true });
const log = [version.stdout];
/** Links `sources` with `extra` flags into wasm/build/`name`; the reason when it fails. */
function link(name, extra) {
  const tmp = mkdtempSync(join(outDir, 'tmp-'));
  try {
    const args = [...flags, ...extra, ...sources, '-o', join(tmp, 'out.wasm')];
    const r = spawnSync(emcc, args, { encoding: 'utf8', cwd: root });
    log.push(`$ ${emcc} ${args.join(' ')}`, r.stdout, r.stderr);
    if (r.error || r.status !== 0) return `emcc failed for ${name}; details in ${logPath}`;
    const out = join(outDir, name);
    renameSync(join(tmp, 'out.wasm'), out);
    say(
      `WebAssembly kernels built: ${out} (${Math.round(statSync(out).size / 1024)} KB, ${version.stdout.split('\n')[0]})`,
    );
    return null;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    writeFileSync(logPath, log.join('\n'));
  }
}
const failed = link('bert_kernels.wasm', single);
if (failed) giveUp(failed);
// Without the threaded module the backend runs single-threaded (wasmThreadsError says why).
const threadedFailed = link('bert_kernels_threads.wasm', threaded);
if (threadedFailed) {
  say(`threaded WebAssembly kernels not built (${threadedFailed}); the wasm backend runs on one thread`);
  if (required) process.exit(1);
}
