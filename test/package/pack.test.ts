// bert-ts as npm ships it: the `npm pack` content, then the tarball installed offline into fresh ES module,
// CommonJS and TypeScript (5.x and 7) projects that run the README's examples and a transformers.js-style script.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { pipeline } from '../../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const requireHere = createRequire(import.meta.url);
/** A package's `tsc` bin, from its package.json (TypeScript 7 exports no ./bin path). */
function tscOf(name: string): string {
  const manifest = requireHere.resolve(`${name}/package.json`);
  const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { tsc: string } }).bin.tsc;
  return join(dirname(manifest), bin);
}
const TSC = {
  '5': tscOf('typescript'),
  // The TypeScript 7 dev dependency (an npm alias): the newest TypeScript, a native compiler behind a node launcher.
  '7': tscOf('typescript7'),
} as const;
const TEXT = 'This movie was absolutely fantastic!';
const MODEL_IN_PACKAGE = 'node_modules/bert-ts/assets/default-model';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for child npm and node: no npm_* variables from an enclosing `npm test`, no native build. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('npm_') || key === 'npm_config_cache' || key === 'npm_config_userconfig') env[key] = value;
  }
  // The native build from the package is exercised by hand (minutes of compiling); the install script still runs.
  env['BERT_SKIP_NATIVE'] = '1';
  env['BERT_BACKEND'] = 'js';
  return env;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr: error && !stderr ? String(error) : stderr });
      },
    );
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<Run> {
  const r = await run(command, args, cwd);
  assert.equal(r.code, 0, `${command} ${args.join(' ')} in ${cwd} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const npm = (args: string[], cwd: string) => ok('npm', args, cwd);
const node = (file: string, cwd: string) => ok(process.execPath, [file], cwd);
const tsc = (version: keyof typeof TSC, args: string[], cwd: string) =>
  ok(process.execPath, [TSC[version], ...args], cwd);

/** The code blocks of the README section "Use it in your project", by language, in order. */
function readmeBlocks(readme: string): { lang: string; code: string }[] {
  const start = readme.indexOf('## Use it in your project');
  assert.ok(start >= 0, 'README.md has no section "Use it in your project"');
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}

// transformers.js's README example, as far as bert-ts has its names today: a batch with the top 2 labels per text.
// (AutoTokenizer.from_pretrained and `top_k` come later; add them here when they exist.)
const TRANSFORMERS_STYLE_BODY = `
const classifier = await pipeline('sentiment-analysis', '${MODEL_IN_PACKAGE}');
const output = await classifier(['I love transformers!', 'I hate transformers!'], { topK: 2 });
console.log(JSON.stringify(output));
`;
const TRANSFORMERS_STYLE_ESM = `import { pipeline } from 'bert-ts';\n${TRANSFORMERS_STYLE_BODY}`;
const TRANSFORMERS_STYLE_CJS = `const { pipeline } = require('bert-ts');\n(async () => {${TRANSFORMERS_STYLE_BODY}})();\n`;

interface LabelScore {
  label: string;
  score: number;
}

function assertScoresClose(actual: unknown, expected: unknown, where: string): void {
  const a = actual as LabelScore[] | LabelScore[][];
  const e = expected as LabelScore[] | LabelScore[][];
  assert.equal(JSON.stringify(a.flat().map((x) => x.label)), JSON.stringify(e.flat().map((x) => x.label)), where);
  a.flat().forEach((x, i) => {
    const want = e.flat()[i]?.score ?? NaN;
    assert.ok(Math.abs(x.score - want) < 1e-5, `${where}: score ${x.score}, expected ${want}`);
  });
}

describe('the package as npm ships it', () => {
  let work = '';
  let tarball = '';
  let files: string[] = [];
  let expectedIds: number[] = [];
  let expectedSingle: unknown;
  let expectedBatch: unknown;

  before(async () => {
    for (const built of ['dist/index.js', 'dist/cjs/index.js', 'dist/cjs/index.d.ts'])
      assert.ok(existsSync(join(root, built)), `${built} is missing: run \`npm run build\` before this test`);
    work = mkdtempSync(join(tmpdir(), 'bert-ts-pack-'));
    // --ignore-scripts: `prepare` would rebuild dist/, which `npm test` has just built.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
    const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0];
    assert.ok(info, 'npm pack --json printed no package');
    tarball = join(work, info.filename);
    files = info.files.map((f) => f.path).sort();

    // References: HuggingFace tokenizers on the packaged tokenizer.json; the pipeline run from this checkout's src.
    const hf = Tokenizer.fromFile(join(root, 'assets/default-model/tokenizer.json'));
    expectedIds = (await hf.encode(TEXT)).getIds();
    const classifier = await pipeline('sentiment-analysis', join(root, 'assets/default-model'), { warn: () => {} });
    expectedSingle = await classifier(TEXT);
    expectedBatch = await classifier(['I love transformers!', 'I hate transformers!'], { topK: 2 });
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs what a user needs and nothing of the repository', () => {
    const has = (path: string) => files.includes(path);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      bin: Record<string, string>;
      main: string;
      types: string;
    };
    const entryPoints = [
      pkg.main,
      pkg.types,
      ...Object.values(pkg.bin),
      ...(JSON.stringify(pkg.exports).match(/\.\/[^"]+/g) ?? []),
    ];
    for (const entry of entryPoints)
      assert.ok(has(entry.replace(/^\.\//, '')), `package.json names ${entry}, not packed`);
    const required = [
      'README.md',
      'dist/cjs/package.json',
      'dist/pipelines/worker-entry.js',
      'dist/pipelines/predictor.js',
      'scripts/build-native.mjs',
      'native/binding.gyp',
      ...readdirSync(join(root, 'native/src')).map((f) => `native/src/${f}`),
      ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`),
      ...['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json'].map((f) => `assets/default-model/${f}`),
    ];
    for (const path of required) assert.ok(has(path), `${path} is not in the package`);
    // Every ES module has its CommonJS twin, with the same declarations, but for the ES-only entry points (the
    // `bert` command and the worker body, which both builds start as ES modules).
    const esmOnly = /^dist\/(cli\/|pipelines\/worker-entry\.)/;
    for (const path of files.filter((f) => /^dist\/(?!cjs\/).*\.(js|d\.ts)$/.test(f) && !esmOnly.test(f)))
      assert.ok(has(path.replace(/^dist\//, 'dist/cjs/')), `${path} has no CommonJS twin`);
    const unwanted = files.filter((f) =>
      /^(src|test|bench|node_modules)\/|^native\/build\/|\.map$|\.test\.|^tsconfig|^package-lock|^scripts\/(?!build-native\.mjs$)/.test(
        f,
      ),
    );
    assert.deepEqual(unwanted, [], 'files of the repository only');
  });

  it('installs offline into ES module, CommonJS and TypeScript projects and runs the README there', async () => {
    // One install (npm pack's 23 MB of model, extracted once): a project as `npm init` makes it (CommonJS), and
    // inside it an ES module project and two TypeScript ones, which resolve bert-ts from the same node_modules.
    // Scripts run from the app folder, where the README's `node_modules/bert-ts/assets/...` path points.
    const app = join(work, 'app');
    const dirs = { cjs: app, esm: join(app, 'esm'), ts5: join(app, 'ts5'), ts7: join(app, 'ts7') };
    for (const [name, dir] of Object.entries(dirs)) {
      mkdirSync(dir, { recursive: true });
      const type = name === 'cjs' ? {} : { type: 'module' };
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, version: '1.0.0', ...type }));
    }
    // bert-ts has no dependencies: nothing is fetched; the package's install script runs (and skips the build).
    const installed = await npm(
      ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball],
      app,
    );
    assert.match(installed.stdout + installed.stderr, /bert-ts: BERT_SKIP_NATIVE=1: skipping the native addon/);
    const runInApp = (file: string) => node(file, app);

    // The packed README: its links resolve inside the package; it sends no one to the repository's test data or
    // scripts, which are not packed.
    const readme = readFileSync(join(app, 'node_modules/bert-ts/README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
    assert.ok(links.length > 0);
    for (const link of links.filter((l) => !/^[a-z]+:/.test(l) && !l.startsWith('#'))) {
      const target = link.replace(/#.*$/, '');
      assert.ok(existsSync(join(app, 'node_modules/bert-ts', target)), `README links to ${link}, not packed`);
    }
    for (const path of readme.match(/\b(?:docs|assets|scripts|native)\/[\w./-]*\w/g) ?? [])
      assert.ok(existsSync(join(app, 'node_modules/bert-ts', path)), `README names ${path}, not packed`);
    assert.doesNotMatch(readme, /\.\.\/shared/);

    const blocks = readmeBlocks(readme);
    const esmExample = blocks.find((b) => b.lang === 'js' && b.code.includes("from 'bert-ts'"))?.code;
    const cjsExample = blocks.find((b) => b.lang === 'js' && b.code.includes("require('bert-ts')"))?.code;
    const tsExample = blocks.find((b) => b.lang === 'ts')?.code;
    assert.ok(esmExample && cjsExample && tsExample, 'the README section lacks its ES module, CommonJS or TS example');

    /** The README's ES and CommonJS examples print the token ids, then the classifier's output, as JSON lines. */
    const checkExample = (r: Run, where: string) => {
      const [ids, output] = r.stdout.trim().split('\n');
      assert.deepEqual(JSON.parse(ids ?? ''), expectedIds, `${where}: token ids against HF tokenizers`);
      assertScoresClose(JSON.parse(output ?? ''), expectedSingle, `${where}: sentiment-analysis`);
    };
    const checkTransformersStyle = (r: Run, where: string) =>
      assertScoresClose(JSON.parse(r.stdout), expectedBatch, `${where}: transformers.js-style batch`);
    const checkTsExample = (r: Run, where: string) => {
      const [ids, label, score] = r.stdout.trim().split(' ');
      assert.deepEqual(JSON.parse(ids ?? ''), expectedIds, where);
      const best = (expectedSingle as LabelScore[])[0];
      assert.deepEqual([label, score], [best?.label, best?.score.toFixed(2)], where);
    };

    writeFileSync(join(dirs.esm, 'readme.js'), esmExample);
    writeFileSync(join(dirs.esm, 'transformers-style.js'), TRANSFORMERS_STYLE_ESM);
    writeFileSync(join(dirs.cjs, 'readme.js'), cjsExample);
    writeFileSync(join(dirs.cjs, 'transformers-style.js'), TRANSFORMERS_STYLE_CJS);

    const typescript = async (version: '5' | '7') => {
      const dir = version === '5' ? dirs.ts5 : dirs.ts7;
      writeFileSync(join(dir, 'readme-esm.ts'), esmExample);
      writeFileSync(join(dir, 'readme.ts'), tsExample);
      writeFileSync(join(dir, 'transformers-style.ts'), TRANSFORMERS_STYLE_ESM);
      // This version's own defaults (`tsc --init`: strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes,
      // verbatimModuleSyntax, types: [] ...) over the ES module files...
      await tsc(version, ['--init'], dir);
      await tsc(version, ['-p', 'tsconfig.json', '--noEmit'], dir);
      // A .cts file is CommonJS: its import of bert-ts goes through the `require` condition and dist/cjs's types.
      const cts = cjsExample.replace(/const (\{[^}]*\}) = require\('bert-ts'\);/, "import $1 from 'bert-ts';");
      assert.notEqual(cts, cjsExample);
      writeFileSync(join(dir, 'readme-cjs.cts'), cts);
      // ...and a bare config without skipLibCheck, so bert-ts's own .d.ts files are checked too; its output runs.
      writeFileSync(
        join(dir, 'tsconfig.bare.json'),
        JSON.stringify({
          compilerOptions: { module: 'nodenext', strict: true, skipLibCheck: false, outDir: 'out' },
          files: ['readme-esm.ts', 'readme.ts', 'transformers-style.ts', 'readme-cjs.cts'],
        }),
      );
      await tsc(version, ['-p', 'tsconfig.bare.json'], dir);
      const where = `TypeScript ${version}`;
      checkTsExample(await runInApp(`ts${version}/out/readme.js`), `${where}, README's TS example`);
      checkExample(await runInApp(`ts${version}/out/readme-cjs.cjs`), `${where}, CommonJS (.cts)`);
    };

    // Every packed CommonJS module loads (a module that only parses as ESM would break a lazy require later).
    const cjsModules = files.filter((f) => f.startsWith('dist/cjs/') && f.endsWith('.js'));
    writeFileSync(
      join(app, 'require-all.js'),
      `for (const f of ${JSON.stringify(cjsModules)}) require('./node_modules/bert-ts/' + f);\nconsole.log('ok');\n`,
    );

    await Promise.all([
      runInApp('require-all.js').then((r) => assert.equal(r.stdout.trim(), 'ok')),
      runInApp('esm/readme.js').then((r) => checkExample(r, 'ES module project')),
      runInApp('esm/transformers-style.js').then((r) => checkTransformersStyle(r, 'ES module project')),
      runInApp('readme.js').then((r) => checkExample(r, 'CommonJS project')),
      runInApp('transformers-style.js').then((r) => checkTransformersStyle(r, 'CommonJS project')),
      typescript('5'),
      typescript('7'),
    ]);
  });
});
