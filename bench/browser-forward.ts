// bert-ts's WebAssembly backend against onnxruntime-web's WASM backend in the same headless Chromium, same weights
// (ONNX exported by bert-ts's own exporter, `bert export-onnx`'s exportOnnxFolder), same inputs, at equal threads:
// 1 thread, and --threads (default 2: bert-ts's threaded module on Web Workers, onnxruntime-web with numThreads), one
// page per thread count. BERT-mini (../shared/models/bert-mini-imdb-hf) and a BERT-base-shaped random model, forward
// (last hidden state) at 1x128 and 8x128, the four engine x thread combinations interleaved within each rep (order
// rotating), medians. Then a BERT-mini training step (8x128: forward, backward, AdamW) in the pages on wasm, beside
// the same step in Node on the native backend. Where Chromium runs bert-ts's relaxed-SIMD micro-kernel, bert-ts also
// runs with it off (the SIMD128 micro-kernel, 'bert-ts simd128' rows) in the same pages, interleaved the same way.
// Usage: node --import tsx bench/browser-forward.ts [--reps 5] [--base-reps 3] [--no-base] [--threads 2]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { serveStatic } from '../src/browser/static-server.js';
import { exportOnnxFolder } from '../src/export/folder.js';
import { BertForSequenceClassification, BertModel } from '../src/model/bert.js';
import { tryNativeKernels } from '../src/native/index.js';
import { AdamW } from '../src/train/optim.js';
import { BERT_BASE_CONFIG, median } from './bert-base.js';
import { timedTrainStep } from './browser-forward-page.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    'base-reps': { type: 'string', default: '3' },
    'no-base': { type: 'boolean' },
    threads: { type: 'string', default: '2' },
  },
});
const threadCounts = [1, Number(values.threads)];
const reps = Number(values.reps);
const root = new URL('../', import.meta.url).pathname;
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium))
  throw new Error(`bench/browser-forward: no chromium at ${chromium} (apt-get install chromium)`);
const dir = mkdtempSync(join(tmpdir(), 'bert-browser-bench-'));
const load = [loadavg()[0]!];

// Models: BERT-mini as trained, BERT-base shapes with seeded random weights; each exported to ONNX (base model).
const miniSrc = join(root, '..', 'shared', 'models', 'bert-mini-imdb-hf');
const models: Array<{ name: string; dir: string; reps: number }> = [];
mkdirSync(join(dir, 'models', 'mini'), { recursive: true });
for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(miniSrc, f), join(dir, 'models', 'mini', f));
models.push({ name: 'mini', dir: join(dir, 'models', 'mini'), reps });
if (!values['no-base']) {
  const base = new BertModel(BERT_BASE_CONFIG);
  await base.save(join(dir, 'models', 'base'));
  models.push({ name: 'base', dir: join(dir, 'models', 'base'), reps: Number(values['base-reps']) });
}
for (const m of models) exportOnnxFolder(m.dir, join(m.dir, 'export'), { head: 'base' });

// The page module, bundled like the library (wasm kernels copied beside it).
const built = spawnSync(
  process.execPath,
  ['scripts/build-browser.mjs', '--entry', 'bench/browser-forward-page.ts', '--outfile', join(dir, 'page', 'page.js')],
  { cwd: root, encoding: 'utf8' },
);
if (built.status !== 0) throw new Error(`bundling the bench page failed:\n${built.stdout}\n${built.stderr}`);
const server = await serveStatic({
  mounts: {
    '/page/': join(dir, 'page'),
    '/ort/': join(root, 'node_modules', 'onnxruntime-web', 'dist'),
    '/models/': join(dir, 'models'),
  },
});
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  protocolTimeout: 900_000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const results: Record<string, number | string> = {};
type Call = <T>(fn: string, ...args: unknown[]) => Promise<T>;
try {
  // One page per thread count, each with bert-ts and onnxruntime-web on that many threads.
  const pages = new Map<number, Call>();
  let relaxedToo = false;
  for (const threads of threadCounts) {
    const page = await browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`page error: ${String(e)}\n`));
    await page.goto(`${server.url}page/`);
    const call: Call = <T>(fn: string, ...args: unknown[]) =>
      page.evaluate(
        async (base: string, name: string, a: unknown[]) => {
          const m = await import(`${base}page/page.js`);
          return m[name](...a);
        },
        server.url,
        fn,
        args,
      ) as Promise<T>;
    const info = await call<{ backend: string; simd128Backend: string | null; isolated: boolean }>(
      'init',
      `${server.url}page/bert_kernels.wasm`,
      `${server.url}ort/`,
      threads,
    );
    results[`bert-ts backend, ${threads} thread(s)`] = info.backend;
    if (info.simd128Backend) results[`bert-ts simd128 backend, ${threads} thread(s)`] = info.simd128Backend;
    relaxedToo = info.simd128Backend !== null;
    results['crossOriginIsolated'] = String(info.isolated);
    pages.set(threads, call);
  }
  results['chromium'] = await browser.version();
  const engines = relaxedToo ? (['bert-ts', 'bert-ts-simd128', 'ort'] as const) : (['bert-ts', 'ort'] as const);
  const runs = threadCounts.flatMap((threads) => engines.map((engine) => ({ engine, threads })));
  for (const m of models) {
    for (const call of pages.values())
      await call(
        'load',
        m.name,
        `${server.url}models/${m.name}/`,
        `${server.url}models/${m.name}/export/onnx/model.onnx`,
      );
    for (const [batch, seq] of [
      [1, 128],
      [8, 128],
    ] as Array<[number, number]>) {
      const ms = runs.map(() => [] as number[]);
      const first: number[] = [];
      for (const [i, { engine, threads }] of runs.entries())
        // warm-up
        first[i] = (await pages.get(threads)!<{ first: number }>('forward', engine, m.name, batch, seq)).first;
      for (let r = 0; r < m.reps; r++) {
        for (let j = 0; j < runs.length; j++) {
          const i = (j + r) % runs.length;
          const { engine, threads } = runs[i]!;
          ms[i]!.push((await pages.get(threads)!<{ ms: number }>('forward', engine, m.name, batch, seq)).ms);
        }
      }
      const what = `${m.name} forward ${batch}x${seq}`;
      const med = (engine: string, threads: number): number =>
        median(ms[runs.findIndex((x) => x.engine === engine && x.threads === threads)]!);
      for (const threads of threadCounts) {
        const t = `${threads} thread${threads > 1 ? 's' : ''}`;
        results[`${what} bert-ts wasm ${t} ms`] = +med('bert-ts', threads).toFixed(1);
        results[`${what} onnxruntime-web wasm ${t} ms`] = +med('ort', threads).toFixed(1);
        if (relaxedToo) {
          results[`${what} bert-ts wasm simd128 ${t} ms`] = +med('bert-ts-simd128', threads).toFixed(1);
          results[`${what} ${t} relaxed speed-up (simd128 ms / relaxed ms)`] = +(
            med('bert-ts-simd128', threads) / med('bert-ts', threads)
          ).toFixed(2);
        }
        results[`${what} ${t} ratio (ort ms / bert-ts ms)`] = +(med('ort', threads) / med('bert-ts', threads)).toFixed(
          2,
        );
      }
      const [one, many] = threadCounts as [number, number];
      results[`${what} bert-ts speed-up ${many} threads / 1`] = +(med('bert-ts', one) / med('bert-ts', many)).toFixed(
        2,
      );
      results[`${what} onnxruntime-web speed-up ${many} threads / 1`] = +(med('ort', one) / med('ort', many)).toFixed(
        2,
      );
      results[`${what} |first output difference|`] = Math.max(
        ...first.map((f) => Math.abs(f - first[0]!)),
      ).toExponential(1);
      load.push(loadavg()[0]!);
    }
  }
  // Training step, BERT-mini 8x128: the pages (wasm, each thread count) interleaved with Node (native, when its
  // addon is built: without it the Node row is left out).
  const nativeKernels = tryNativeKernels();
  const node = nativeKernels
    ? await BertForSequenceClassification.fromPretrained(models[0]!.dir, { kernels: nativeKernels, warn: () => {} })
    : null;
  const opt = node ? new AdamW(node.parameters(), { name: 'adamw', weightDecay: 0.01 }, node.kernels) : null;
  const steps = new Map<number, number[]>(threadCounts.map((t) => [t, []]));
  const native: number[] = [];
  for (const call of pages.values()) await call('trainStep', 'mini', 8, 128);
  if (node && opt) timedTrainStep(node, opt, 8, 128);
  for (let r = 0; r < reps; r++) {
    for (const [threads, call] of pages) steps.get(threads)!.push(await call<number>('trainStep', 'mini', 8, 128));
    if (node && opt) native.push(timedTrainStep(node, opt, 8, 128));
  }
  for (const [threads, ms] of steps)
    results[`mini train step 8x128 wasm ${threads} thread(s) in Chromium tokens/s`] = Math.round(
      (8 * 128) / (median(ms) / 1000),
    );
  if (node)
    results[`mini train step 8x128 ${node.kernels.name} in Node tokens/s`] = Math.round(
      (8 * 128) / (median(native) / 1000),
    );
  load.push(loadavg()[0]!);
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
results['load average (1 min) during the run'] = `${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`;
process.stdout.write(`${JSON.stringify(results)}\n`);
for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(66)} ${v}\n`);
