// bert-ts's WebAssembly backend against onnxruntime-web's WASM backend in the same headless Chromium, same weights
// (ONNX exported by bert-ts's own exporter, `bert export-onnx`'s exportOnnxFolder), same inputs, single-threaded:
// BERT-mini (../shared/models/bert-mini-imdb-hf) and a BERT-base-shaped random model, forward (last hidden state)
// at 1x128 and 8x128, engines interleaved within each rep, medians. Then a BERT-mini training step (8x128: forward,
// backward, AdamW) in the page on wasm, beside the same step in Node on the native backend.
// Usage: node --import tsx bench/browser-forward.ts [--reps 5] [--base-reps 3] [--no-base]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { serveStatic } from '../src/browser/static-server.js';
import { exportOnnxFolder } from '../src/export/folder.js';
import { BertForSequenceClassification, BertModel } from '../src/model/bert.js';
import { getKernels } from '../src/native/index.js';
import { AdamW } from '../src/train/optim.js';
import { BERT_BASE_CONFIG, median } from './bert-base.js';
import { timedTrainStep } from './browser-forward-page.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    'base-reps': { type: 'string', default: '3' },
    'no-base': { type: 'boolean' },
  },
});
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
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => process.stderr.write(`page error: ${String(e)}\n`));
  await page.goto(`${server.url}page/`);
  const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(
      async (base: string, name: string, a: unknown[]) => {
        const m = await import(`${base}page/page.js`);
        return m[name](...a);
      },
      server.url,
      fn,
      args,
    ) as Promise<T>;
  const info = await call<{ backend: string; isolated: boolean }>(
    'init',
    `${server.url}page/bert_kernels.wasm`,
    `${server.url}ort/`,
  );
  results['bert-ts backend'] = info.backend;
  results['crossOriginIsolated'] = String(info.isolated);
  results['chromium'] = await browser.version();
  for (const m of models) {
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
      const ms: Record<string, number[]> = { 'bert-ts': [], ort: [] };
      const first: Record<string, number> = {};
      for (const engine of ['bert-ts', 'ort']) {
        first[engine] = (await call<{ ms: number; first: number }>('forward', engine, m.name, batch, seq)).first; // warm-up
      }
      for (let r = 0; r < m.reps; r++) {
        for (const engine of r % 2 ? ['ort', 'bert-ts'] : ['bert-ts', 'ort'])
          ms[engine]!.push((await call<{ ms: number }>('forward', engine, m.name, batch, seq)).ms);
      }
      const what = `${m.name} forward ${batch}x${seq}`;
      results[`${what} bert-ts wasm ms`] = +median(ms['bert-ts']!).toFixed(1);
      results[`${what} onnxruntime-web wasm ms`] = +median(ms.ort!).toFixed(1);
      results[`${what} ratio (ort ms / bert-ts ms)`] = +(median(ms.ort!) / median(ms['bert-ts']!)).toFixed(2);
      results[`${what} |first output difference|`] = Math.abs(first['bert-ts']! - first.ort!).toExponential(1);
      load.push(loadavg()[0]!);
    }
  }
  // Training step, BERT-mini 8x128: the page (wasm) interleaved with Node (native).
  const node = await BertForSequenceClassification.fromPretrained(models[0]!.dir, {
    kernels: getKernels({ backend: 'native' }),
    warn: () => {},
  });
  const opt = new AdamW(node.parameters(), { name: 'adamw', weightDecay: 0.01 }, node.kernels);
  const steps: Record<string, number[]> = { wasm: [], native: [] };
  await call('trainStep', 'mini', 8, 128);
  timedTrainStep(node, opt, 8, 128);
  for (let r = 0; r < reps; r++) {
    steps.wasm!.push(await call<number>('trainStep', 'mini', 8, 128));
    steps.native!.push(timedTrainStep(node, opt, 8, 128));
  }
  results['mini train step 8x128 wasm in Chromium tokens/s'] = Math.round((8 * 128) / (median(steps.wasm!) / 1000));
  results[`mini train step 8x128 ${node.kernels.name} in Node tokens/s`] = Math.round(
    (8 * 128) / (median(steps.native!) / 1000),
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
