// Builds the browser bundle: dist/browser/bert-ts.js (one ES module: src/browser/web/index.ts with esbuild), beside it
// bert_kernels.wasm, bert_kernels_threads.wasm and the relaxed-SIMD GEMM modules bert_gemm_relaxed*.wasm (the modules
// the Node wasm backend loads: they have no JavaScript glue, so one build serves Node and the web). Node built-ins resolve to browser shims in src/browser/web/shims (an in-memory file
// system, POSIX paths, Buffer/process globals); the Node build (npm run build) is untouched.
// The browser tests bundle their harness the same way: `--entry FILE --outfile FILE` (node:test and node:assert map
// to test/browser/shims, so test files written for node's runner run in the page).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shims = join(root, 'src', 'browser', 'web', 'shims');
const { values: cli } = parseArgs({ options: { entry: { type: 'string' }, outfile: { type: 'string' } } });
const entry = cli.entry ? resolve(cli.entry) : join(root, 'src', 'browser', 'web', 'index.ts');
const outfile = cli.outfile ? resolve(cli.outfile) : join(root, 'dist', 'browser', 'bert-ts.js');
const outDir = dirname(outfile);
const testShims = join(root, 'test', 'browser', 'shims');
const shimOf = {
  fs: 'fs.ts',
  'fs/promises': 'fs-promises.ts',
  path: 'path.ts',
  url: 'url.ts',
  crypto: 'crypto.ts',
  buffer: 'buffer.ts',
  readline: 'readline.ts',
};

/** node:X (and bare X for the built-ins) -> its shim; every other built-in -> shims/unavailable.ts. */
const nodeShims = {
  name: 'node-shims',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      const name = args.path.slice('node:'.length);
      if (name === 'test') return { path: join(testShims, 'node-test.ts') };
      if (name === 'assert' || name === 'assert/strict') return { path: join(testShims, 'node-assert.ts') };
      return { path: join(shims, shimOf[name] ?? 'unavailable.ts') };
    });
  },
};

mkdirSync(outDir, { recursive: true });
const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  inject: [join(shims, 'globals.ts')],
  plugins: [nodeShims],
  metafile: true,
  logLevel: 'warning',
});
const wasm = join(root, 'wasm', 'build', 'bert_kernels.wasm');
// The optional modules (without the threaded one the page runs on one thread, without the relaxed-SIMD micro-kernel on
// the SIMD128 one): copied when built, a stale copy removed when not.
for (const name of ['bert_kernels_threads.wasm', 'bert_gemm_relaxed.wasm', 'bert_gemm_relaxed_threads.wasm']) {
  const path = join(root, 'wasm', 'build', name);
  if (existsSync(path)) copyFileSync(path, join(outDir, name));
  else rmSync(join(outDir, name), { force: true });
}
if (existsSync(wasm)) copyFileSync(wasm, join(outDir, 'bert_kernels.wasm'));
else process.stdout.write(`bert-ts: ${wasm} is not built (npm run build:wasm); the bundle falls back to js kernels\n`);
const bytes = statSync(outfile).size;
process.stdout.write(
  `bert-ts: browser bundle built: ${outfile} (${Math.round(bytes / 1024)} KB, ${Object.keys(result.metafile.inputs).length} modules)\n`,
);
