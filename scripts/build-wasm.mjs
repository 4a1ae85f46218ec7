// Builds the WebAssembly kernels (wasm/src + native/src/kernels.cc) into wasm/build/bert_kernels.wasm with
// emscripten's emcc (Debian: `apt-get install emscripten`; EMCC=/path/to/emcc picks another). Optional like the
// native addon: without emcc it says so in one line and exits 0 (BERT_BACKEND=wasm then fails with that reason),
// unless BERT_REQUIRE_WASM=1 (CI), where a missing toolchain or a failed build is an error.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'wasm', 'build');
const out = join(outDir, 'bert_kernels.wasm');
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

const sources = ['wasm/src/gemm.cc', 'wasm/src/exports.cc', 'native/src/kernels.cc'].map((f) => join(root, f));
const flags = [
  '-O3',
  '-msimd128',
  // The native kernels' `#pragma omp simd` loops vectorise without an OpenMP runtime; `omp parallel` is ignored.
  '-fopenmp-simd',
  '-Wno-unknown-pragmas',
  '-Wno-pass-failed',
  '-std=c++17',
  '--no-entry',
  // A module with no JavaScript glue: its two imports (memory growth notice, proc_exit) are stubbed by the loader.
  '-sSTANDALONE_WASM=1',
  '-sALLOW_MEMORY_GROWTH=1',
  '-sINITIAL_MEMORY=16MB',
  // Pointers come back to JavaScript as signed int32: memory stays below 2 GiB.
  '-sMAXIMUM_MEMORY=2GB',
  '-sERROR_ON_UNDEFINED_SYMBOLS=1',
];
mkdirSync(outDir, { recursive: true });
const tmp = join(outDir, `bert_kernels.${process.pid}.tmp.wasm`); // emcc picks its output kind by the extension
const r = spawnSync(emcc, [...flags, ...sources, '-o', tmp], { encoding: 'utf8', cwd: root });
writeFileSync(
  logPath,
  [`$ ${emcc} ${flags.join(' ')} ${sources.join(' ')} -o ${tmp}`, version.stdout, r.stdout, r.stderr].join('\n'),
);
if (r.error || r.status !== 0) giveUp(`emcc failed; details in ${logPath}`);
renameSync(tmp, out);
say(
  `WebAssembly kernels built: ${out} (${Math.round(statSync(out).size / 1024)} KB, ${version.stdout.split('\n')[0]})`,
);
