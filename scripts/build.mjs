// Builds dist/ from src/: the ES modules and their .d.ts with tsc (tsconfig.build.json), then the CommonJS twin in
// dist/cjs (same sources, transpiled per file) so that `require('bert-ts')` works as well as `import`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const distDir = join(root, 'dist');
const cjsDir = join(distDir, 'cjs');
// The `typescript` package itself (5.x), not whichever package's `tsc` npm linked into node_modules/.bin last
// (the TypeScript 7 dev dependency used by test/package declares a `tsc` bin too).
const require = createRequire(import.meta.url);
function typescriptInstalled() {
  try {
    require.resolve('typescript');
    return true;
  } catch {
    return false;
  }
}
// `npm install /path/to/clone` links the folder and runs its `prepare` without its dev dependencies (a git URL or
// a tarball does not need this): install them there first, without scripts (so no recursion into this build).
if (!typescriptInstalled()) {
  if (process.env.npm_lifecycle_event !== 'prepare') {
    process.stderr.write(`bert-ts: building dist/ needs the dev dependencies: run \`npm ci\` in ${root} first\n`);
    process.exit(1);
  }
  process.stdout.write(
    `bert-ts: dist/ needs building and ${root} has no TypeScript: installing its dev dependencies\n`,
  );
  const npmCli = process.env.npm_execpath;
  const npm = npmCli ? [process.execPath, [npmCli]] : ['npm', []];
  const installed = spawnSync(
    npm[0],
    [...npm[1], 'install', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (installed.status !== 0 || !typescriptInstalled()) {
    process.stderr.write(`bert-ts: could not install the dev dependencies in ${root}; run \`npm ci\` there first\n`);
    process.exit(1);
  }
}
const ts = require('typescript');
const tscPath = require.resolve('typescript/bin/tsc');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

// Clean first, so that a module removed from src/ is not shipped from an old build.
rmSync(distDir, { recursive: true, force: true });

const esm = spawnSync(process.execPath, [tscPath, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (esm.status !== 0) process.exit(esm.status ?? 1);

// CommonJS has no `import.meta`. Each module reads it as `__bertImportMeta`, whose `url` is the URL of the module's
// ES twin in dist/ (dist/cjs/x/y.js -> dist/x/y.js): files found relative to a module (assets/, the native addon,
// worker entry points) then resolve exactly as in the ES build, from one source; workers run the ES entry modules.
function replaceImportMeta(context) {
  const visit = (node) =>
    ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword
      ? ts.factory.createIdentifier('__bertImportMeta')
      : ts.visitEachChild(node, visit, context);
  return (sourceFile) => ts.visitNode(sourceFile, visit);
}

const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, ts.sys);
const compilerOptions = {
  ...parsed.options,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  declaration: false,
  sourceMap: false,
  noEmit: false,
};
// Entry points that only ever run as ES modules: the `bert` command (its bin is dist/cli/main.js) and the worker body
// (workers start the ES twin, from either build); as CommonJS they would not even parse (top-level await).
const esmOnly = (rel) => rel.startsWith('cli/') || rel === 'pipelines/worker-entry.js';
let count = 0;
for (const file of walk(srcDir)) {
  if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
  const rel = relative(srcDir, file).split('\\').join('/').replace(/\.ts$/, '.js');
  // src/browser/web is the browser bundle's source (npm run build:browser), outside the Node build as in tsconfig.build.json.
  if (esmOnly(rel) || rel.startsWith('browser/web/')) continue;
  const source = readFileSync(file, 'utf8');
  const out = ts.transpileModule(source, {
    compilerOptions,
    fileName: file,
    transformers: { before: [replaceImportMeta] },
  });
  let code = out.outputText;
  if (source.includes('import.meta')) {
    const twin = relative(dirname(join(cjsDir, rel)), join(distDir, rel))
      .split('\\')
      .join('/');
    const shim =
      `const __bertImportMeta = { url: require('node:url').pathToFileURL(require('node:path').join(__dirname, ` +
      `${JSON.stringify(twin)})).href, resolve: (s) => require('node:url').pathToFileURL(require.resolve(s)).href };\n`;
    code = code.replace(/^(#![^\n]*\n)?("use strict";\n)?/, (head) => head + shim);
  }
  mkdirSync(dirname(join(cjsDir, rel)), { recursive: true });
  writeFileSync(join(cjsDir, rel), code);
  count++;
}
// The declarations are the same for both formats; beside the CommonJS files (under a "type": "commonjs" scope)
// TypeScript reads them as CommonJS declarations, which a `require` of bert-ts needs under node16/nodenext.
for (const file of walk(distDir)) {
  if (!file.endsWith('.d.ts') || file.startsWith(cjsDir)) continue;
  if (
    esmOnly(
      relative(distDir, file)
        .split('\\')
        .join('/')
        .replace(/\.d\.ts$/, '.js'),
    )
  )
    continue;
  const target = join(cjsDir, relative(distDir, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
writeFileSync(join(cjsDir, 'package.json'), '{ "type": "commonjs" }\n');
process.stdout.write(`bert-ts: built dist/ (ES modules) and dist/cjs/ (${count} CommonJS modules)\n`);
