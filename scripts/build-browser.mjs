// Builds the browser bundle: dist/browser/bert-ts.js (one ES module: src/browser/web/index.ts with esbuild), beside it
// bert_kernels.wasm (the same standalone module the Node wasm backend loads: it has no JavaScript glue, so one
// build serves Node and the web). Node built-ins resolve to browser shims in src/browser/web/shims (an in-memory file
// system, POSIX paths, Buffer/process globals); the Node build (npm run build) is untouched.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shims = join(root, 'src', 'browser', 'web', 'shims');
const outDir = join(root, 'dist', 'browser');
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
      return { path: join(shims, shimOf[name] ?? 'unavailable.ts') };
    });
  },
};

mkdirSync(outDir, { recursive: true });
const result = await build({
  entryPoints: [join(root, 'src', 'browser', 'web', 'index.ts')],
  outfile: join(outDir, 'bert-ts.js'),
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
if (existsSync(wasm)) copyFileSync(wasm, join(outDir, 'bert_kernels.wasm'));
else process.stdout.write(`bert-ts: ${wasm} is not built (npm run build:wasm); the bundle falls back to js kernels\n`);
const bytes = statSync(join(outDir, 'bert-ts.js')).size;
process.stdout.write(
  `bert-ts: browser bundle built: ${join(outDir, 'bert-ts.js')} (${Math.round(bytes / 1024)} KB, ${Object.keys(result.metafile.inputs).length} modules)\n`,
);
