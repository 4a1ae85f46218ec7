// Builds the WebAssembly kernels (wasm/src + native/src/kernels.cc) into wasm/build/bert_kernels.wasm with
// emscripten's emcc, and their threaded variant wasm/build/bert_kernels_threads.wasm (atomics, a shared imported
// memory: the loader runs its worker pool on Web Workers / worker_threads, src/native/wasm-kernels.ts) (Debian: `apt-get install emscripten`; EMCC=/path/to/emcc picks another). Optional like the
// native addon: without emcc it says so in one line and exits 0 (BERT_BACKEND=wasm then fails with that reason),
// unless BERT_REQUIRE_WASM=1 (CI), where a missing toolchain or a failed build is an error.
// Beside them, the relaxed-SIMD micro-kernel (wasm/src/gemm_relaxed.c) as two tiny modules that import the kernels'
// memory, bert_gemm_relaxed.wasm and bert_gemm_relaxed_threads.wasm (shared memory), built with clang-19 and
// wasm-ld-19 (Debian: `apt-get install clang-19 lld-19`; CLANG / WASM_LD pick others): emscripten 3.1's clang has no
// relaxed-SIMD builtins. Also optional: without them the backend runs its SIMD128 micro-kernel everywhere.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  // The imports the loader supplies (the relaxed-SIMD micro-kernel).
  '--js-library',
  join(root, 'wasm', 'src', 'imports.js'),
];
// The single-threaded module has no JavaScript glue: its imports (memory growth notice, proc_exit) are stubbed by the
// loader. Its memory is imported (the loader creates it) so that the relaxed-SIMD module can share it.
const single = ['-sSTANDALONE_WASM=1', '-sIMPORTED_MEMORY=1'];
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

// The relaxed-SIMD micro-kernel. It must own nothing in the memory it imports (no data, no stack: its locals are v128
// values), and match the kernels' memory limits (16 MiB initial, 2 GiB maximum; shared for the threaded module).
const clang = process.env.CLANG || 'clang-19';
const wasmLd = process.env.WASM_LD || 'wasm-ld-19';
const relaxedNames = ['bert_gemm_relaxed.wasm', 'bert_gemm_relaxed_threads.wasm'];
function relaxedGiveUp(reason) {
  // A module left from an earlier build would no longer match these kernels.
  for (const name of relaxedNames) rmSync(join(outDir, name), { force: true });
  say(`relaxed-SIMD GEMM not built (${reason}); the wasm backend uses its SIMD128 micro-kernel`);
  if (required) process.exit(1);
}
/** Section ids of a wasm binary (11: data). */
function sectionIds(bytes) {
  const ids = [];
  for (let i = 8; i < bytes.length;) {
    ids.push(bytes[i++]);
    let size = 0;
    for (let shift = 0, b = 128; b & 128; shift += 7) size += ((b = bytes[i++]) & 127) * 2 ** shift;
    i += size;
  }
  return ids;
}
function buildRelaxed() {
  const clangVersion = spawnSync(clang, ['--version'], { encoding: 'utf8' });
  if (clangVersion.error || clangVersion.status !== 0) return `no ${clang} on PATH: apt-get install clang-19 lld-19`;
  const ld = spawnSync(wasmLd, ['--version'], { encoding: 'utf8' });
  if (ld.error || ld.status !== 0) return `no ${wasmLd} on PATH: apt-get install lld-19`;
  log.push(clangVersion.stdout);
  const tmp = mkdtempSync(join(outDir, 'tmp-'));
  try {
    for (const [name, shared] of [
      [relaxedNames[0], false],
      [relaxedNames[1], true],
    ]) {
      const obj = join(tmp, 'gemm_relaxed.o');
      const threads = shared ? ['-matomics', '-mbulk-memory'] : [];
      // clang only compiles: its link step would run emscripten's wasm-opt, which cannot parse relaxed opcodes.
      const cc = [
        '--target=wasm32',
        '-O3',
        '-msimd128',
        '-mrelaxed-simd',
        ...threads,
        '-c',
        join(root, 'wasm', 'src', 'gemm_relaxed.c'),
        '-o',
        obj,
      ];
      const lf = [
        '--no-entry',
        '--import-memory',
        ...(shared ? ['--shared-memory'] : []),
        `--initial-memory=${16 << 20}`,
        `--max-memory=${2 ** 31}`,
        '-z',
        'stack-size=0',
        '--strip-all',
        obj,
        '-o',
        join(tmp, name),
      ];
      for (const [tool, args] of [
        [clang, cc],
        [wasmLd, lf],
      ]) {
        const r = spawnSync(tool, args, { encoding: 'utf8', cwd: root });
        log.push(`$ ${tool} ${args.join(' ')}`, r.stdout, r.stderr);
        if (r.error || r.status !== 0) return `${tool} failed for ${name}; details in ${logPath}`;
      }
      const ids = sectionIds(readFileSync(join(tmp, name)));
      if (ids.includes(11) || ids.includes(8))
        return `${name} has a data section or a start function (it must not write the memory it shares)`;
      const out = join(outDir, name);
      renameSync(join(tmp, name), out);
      say(`relaxed-SIMD GEMM built: ${out} (${statSync(out).size} bytes, ${clangVersion.stdout.split('\n')[0]})`);
    }
    return null;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    writeFileSync(logPath, log.join('\n'));
  }
}
if (process.env.BERT_SKIP_WASM_RELAXED === '1') relaxedGiveUp('BERT_SKIP_WASM_RELAXED=1');
else {
  const relaxedFailed = buildRelaxed();
  if (relaxedFailed) relaxedGiveUp(relaxedFailed);
}
