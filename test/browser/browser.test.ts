// bert-ts in headless Chromium (Debian's chromium, driven by puppeteer-core): the WebAssembly kernels against the
// TypeScript reference kernels, the parity harness on two hf-tiny heads through the wasm backend, and the demo page
// end to end (fine-tune a few steps, the loss goes down, a prediction and the attention map show, screenshot).
// Without chromium the tests skip, unless BERT_REQUIRE_BROWSER=1 (CI), where that is a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { demoMounts, serveStatic, type StaticServer } from '../../src/browser/static-server.js';
import { FakeHub } from '../io/helpers/fake-hub.js';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, '..', 'shared', 'fixtures', 'hf-tiny');
const wasmBuilt = existsSync(join(root, 'wasm', 'build', 'bert_kernels.wasm'));
// Chromium validates relaxed SIMD (since 114): with its module built the pages' GEMMs run the relaxed micro-kernel.
const kind = existsSync(join(root, 'wasm', 'build', 'bert_gemm_relaxed.wasm')) ? 'relaxed-simd' : 'simd128';

function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p)) ?? null;
}
const chromium = findChromium();
const required = process.env.BERT_REQUIRE_BROWSER === '1';
const noBrowser = chromium ? false : 'SKIPPED: no chromium (apt-get install chromium, or set CHROMIUM_PATH)';
if (noBrowser) {
  process.stderr.write(`test/browser/browser.test.ts: ${noBrowser}\n`);
  if (required) test('chromium is installed (BERT_REQUIRE_BROWSER=1)', () => assert.fail(String(noBrowser)));
}
const noWasm =
  noBrowser || (wasmBuilt ? false : 'SKIPPED: wasm/build/bert_kernels.wasm is not built (npm run build:wasm)');

let dir = '';
let server: StaticServer;
let browser: Browser;

function bundle(entry: string, outfile: string): void {
  const r = spawnSync(process.execPath, ['scripts/build-browser.mjs', '--entry', entry, '--outfile', outfile], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
}

/** Every file under `base`, relative to it. */
function walk(base: string, sub = ''): string[] {
  return readdirSync(join(base, sub)).flatMap((name) => {
    const rel = sub ? `${sub}/${name}` : name;
    return statSync(join(base, rel)).isDirectory() ? walk(base, rel) : [rel];
  });
}

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, errors };
}

/** Calls the harness's `fn` (kernelTests / threadTests) on the wasm module in a fresh page; closes the page. */
async function harnessCall<R>(
  fn: 'kernelTests' | 'threadTests' | 'workerCrash',
): Promise<{ result: R; errors: string[] }> {
  const { page, errors } = await newPage();
  await page.goto(`${server.url}harness/`);
  const result = (await page.evaluate(
    async (base: string, name: string) => {
      const h = await import(`${base}harness/harness.js`);
      return h[name](`${base}harness/bert_kernels.wasm`);
    },
    server.url,
    fn,
  )) as R;
  await page.close();
  return { result, errors };
}

before(async () => {
  if (noBrowser) return;
  dir = mkdtempSync(join(tmpdir(), 'bert-browser-test-'));
  // The library bundle and the test harness, built from the current sources (the wasm module is copied beside).
  bundle('src/browser/web/index.ts', join(dir, 'dist', 'bert-ts.js'));
  bundle('test/browser/harness.ts', join(dir, 'harness', 'harness.js'));
  server = await serveStatic({
    mounts: {
      ...demoMounts(),
      '/dist/browser/': join(dir, 'dist'),
      '/harness/': join(dir, 'harness'),
      '/fixtures/hf-tiny/': fixtures,
    },
  });
  browser = await puppeteer.launch({
    executablePath: chromium!,
    headless: true,
    // Containers run as root without user namespaces: no sandbox; one renderer, no GPU.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(
  'wasm kernels in Chromium against the TypeScript reference kernels (test/wasm/kernels.test.ts)',
  { skip: noWasm },
  async () => {
    const { result: r, errors } = await harnessCall<{
      backend: string;
      outcomes: { name: string; status: string; error?: string }[];
    }>('kernelTests');
    assert.match(r.backend, new RegExp(`^wasm \\(${kind}, \\d+ threads?\\)$`));
    const failed = r.outcomes.filter((o) => o.status !== 'pass');
    assert.deepEqual(failed, [], JSON.stringify(failed, null, 1));
    assert.ok(r.outcomes.length >= 10, `only ${r.outcomes.length} kernel tests ran`);
    assert.deepEqual(errors, []);
  },
);

test(
  'threaded wasm kernels in Chromium (2 threads on Web Workers): bit-identical to one thread, a training step too',
  { skip: noWasm },
  async () => {
    const { result: r, errors } = await harnessCall<{ names: string[]; isolated: boolean; failure: string | null }>(
      'threadTests',
    );
    assert.equal(r.isolated, true, 'the static server serves pages cross-origin isolated');
    assert.deepEqual(r.names, [`wasm (${kind}, 1 thread)`, `wasm (${kind}, 2 threads)`]);
    assert.equal(r.failure, null, r.failure ?? '');
    assert.deepEqual(errors, []);
  },
);

test(
  'a Web Worker of the threaded kernels that crashes during a call: that call and the next throw, the page never hangs',
  { skip: noWasm },
  async () => {
    const { result: r } = await harnessCall<{ before: string | null; value: number; during: string; after: string }>(
      'workerCrash',
    );
    assert.equal(r.before, null);
    assert.equal(r.value, 1024);
    assert.match(
      r.during,
      /^gemm: a worker of the threaded WebAssembly kernels failed during this call \(.*unreachable/,
    );
    assert.match(r.after, /^gemm: a worker of the threaded WebAssembly kernels failed earlier \(.*unreachable/);
  },
);

test(
  'parity in Chromium through the wasm backend: hf-tiny seq_cls3 and masked_lm heads',
  { skip: noWasm },
  async () => {
    const heads = ['seq_cls3', 'masked_lm'];
    const files = ['reference.safetensors', ...heads.flatMap((h) => walk(join(fixtures, h)).map((f) => `${h}/${f}`))];
    const { page, errors } = await newPage();
    await page.goto(`${server.url}harness/`);
    const r = (await page.evaluate(
      async (base: string, list: string[], which: string[]) => {
        const h = await import(`${base}harness/harness.js`);
        return h.parity(`${base}harness/bert_kernels.wasm`, `${base}fixtures/hf-tiny/`, list, which);
      },
      server.url,
      files,
      heads,
    )) as { backend: string; passed: number; total: number; lines: string[]; failures: string[] };
    const report = [...r.lines, ...r.failures].join('\n');
    assert.match(r.backend, new RegExp(`^wasm \\(${kind},`));
    assert.equal(r.lines.length, 3, report); // the two heads and the summary line
    assert.equal(r.passed, r.total, report);
    assert.ok(r.total > 100, report);
    process.stderr.write(`test/browser: ${r.lines.join('; ')}\n`);
    assert.deepEqual(errors, []);
    await page.close();
  },
);

test(
  'the demo page: fine-tunes a few steps, the loss goes down, a prediction and attention show',
  { skip: noBrowser },
  async () => {
    const { page, errors } = await newPage();
    await page.setViewport({ width: 900, height: 1400 });
    const query = 'trainSamples=16&evalSamples=16&epochs=5&batchSize=8&maxLength=48&lr=5e-4&autostart=1';
    await page.goto(`${server.url}examples/browser/index.html?${query}`);
    await page.waitForFunction('window.bertDemo && (window.bertDemo.attentionShown || window.bertDemo.error)', {
      timeout: 240_000,
    });
    // A string, not a function: tsx's keep-names helper (__name) does not exist in the page.
    const state = (await page.evaluate(`({
    ...window.bertDemo,
    predictionText: document.getElementById('prediction').textContent,
    evaluationText: document.getElementById('evaluation').textContent,
  })`)) as {
      error?: string;
      backend: string;
      losses: number[];
      trained: boolean;
      summary: { steps: number; eval: { accuracy: number; examples: number } };
      prediction: { label: string; score: number };
      predictionText: string;
      evaluationText: string;
    };
    assert.equal(state.error, undefined, state.error);
    // The page is cross-origin isolated: the threaded module on min(cores, 4) threads.
    if (wasmBuilt) assert.match(state.backend, new RegExp(`^wasm \\(${kind}, \\d+ threads?\\)$`));
    else assert.equal(state.backend, 'js (TypeScript kernels)');
    assert.equal(state.summary.steps, 10);
    assert.equal(state.losses.length, 10);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(state.losses.slice(0, 2));
    const last = mean(state.losses.slice(-2));
    assert.ok(last < first, `loss did not go down: ${state.losses.map((l) => l.toFixed(4)).join(' ')}`);
    assert.equal(state.summary.eval.examples, 16);
    assert.match(state.evaluationText, /accuracy on 16 held-out texts: \d+\.\d%/);
    assert.match(state.prediction.label, /^(POSITIVE|NEGATIVE)$/);
    assert.match(state.predictionText, /^(POSITIVE|NEGATIVE) \(\d+\.\d%\)$/);
    // The screenshot, decoded by the browser: the page is not blank and the attention heatmap is drawn in colour.
    const png = await page.screenshot({ fullPage: true, encoding: 'base64' });
    writeFileSync(join(tmpdir(), 'bert-browser-demo.png'), Buffer.from(png, 'base64'));
    const pixels = (await page.evaluate(async (b64: string) => {
      const g = globalThis as unknown as {
        document: {
          createElement(t: 'canvas'): {
            width: number;
            height: number;
            getContext(k: '2d'): {
              drawImage(i: unknown, x: number, y: number): void;
              getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
            };
          };
        };
        createImageBitmap(b: Blob): Promise<{ width: number; height: number }>;
      };
      const bitmap = await g.createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
      const canvas = g.document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bitmap, 0, 0);
      const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      let inked = 0;
      let blue = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, gr, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
        if (r < 200 || gr < 200 || b < 200) inked++;
        if (b > r + 40 && b > gr + 20) blue++;
      }
      return {
        inked: inked / (data.length / 4),
        blue: blue / (data.length / 4),
        width: bitmap.width,
        height: bitmap.height,
      };
    }, png)) as { inked: number; blue: number; width: number; height: number };
    assert.ok(pixels.width >= 900 && pixels.height >= 1000, JSON.stringify(pixels));
    assert.ok(pixels.inked > 0.02, `screenshot looks blank: ${JSON.stringify(pixels)}`);
    assert.ok(pixels.blue > 0.005, `no heatmap / progress colour in the screenshot: ${JSON.stringify(pixels)}`);
    assert.ok(await page.$('#attention svg'), 'the attention heatmap is an <svg> in #attention');
    assert.ok(await page.$('#curve svg'), 'the loss curve is an <svg> in #curve');
    assert.deepEqual(errors, []);
    process.stderr.write(`test/browser: demo page screenshot in ${join(tmpdir(), 'bert-browser-demo.png')}
`);
    await page.close();
  },
);

test(
  "the demo page on a user's CSV: its string labels, split 80/20, fine-tuned and used to classify",
  { skip: noBrowser },
  async () => {
    // 40 IMDb reviews as a CSV with the labels "neg" / "pos" (a user's file, chosen through the page's file input).
    const reviews = gunzipSync(readFileSync(join(root, 'assets', 'imdb-sample', 'train.jsonl.gz')))
      .toString('utf8')
      .trim()
      .split('\n')
      .slice(0, 40)
      .map((l) => JSON.parse(l) as { text: string; label: number });
    const csv = join(dir, 'reviews.csv');
    const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
    writeFileSync(
      csv,
      ['text,label', ...reviews.map((r) => `${quote(r.text.slice(0, 300))},${r.label ? 'pos' : 'neg'}`)].join('\n'),
    );
    const { page, errors } = await newPage();
    await page.goto(`${server.url}examples/browser/index.html?trainSamples=16&evalSamples=8&epochs=1&maxLength=32`);
    await page.waitForFunction('document.getElementById("train").disabled === false', { timeout: 60_000 });
    const input = await page.$('#csv');
    assert.ok(input);
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(csv);
    await page.waitForFunction('window.bertDemo.csvReady === true || window.bertDemo.error', { timeout: 30_000 });
    await page.click('#train');
    await page.waitForFunction('window.bertDemo.trained || window.bertDemo.error', { timeout: 200_000 });
    await page.click('#classify');
    await page.waitForFunction('window.bertDemo.prediction || window.bertDemo.error', { timeout: 60_000 });
    const state = (await page.evaluate(`({
    error: window.bertDemo.error,
    steps: window.bertDemo.summary && window.bertDemo.summary.steps,
    examples: window.bertDemo.summary && window.bertDemo.summary.eval.examples,
    label: window.bertDemo.prediction && window.bertDemo.prediction.label,
  })`)) as { error?: string; steps: number; examples: number; label: string };
    assert.equal(state.error, undefined, state.error);
    assert.equal(state.steps, 2, '16 of the 32 training rows, batch 8, one epoch');
    assert.equal(state.examples, 8, 'the 8 held-out rows (20% of 40)');
    assert.match(state.label, /^(neg|pos)$/, "the prediction uses the CSV's own labels");
    assert.deepEqual(errors, []);
    await page.close();
  },
);

test(
  'a hub id in the page: pipeline downloads config, tokenizer and LFS weights from a hub with CORS, as in Node',
  { skip: noWasm },
  async () => {
    // The default model as a hub repo: weights in LFS (redirected to a CDN on another origin), the rest plain files.
    const hub = new FakeHub();
    hub.cors = true;
    const modelDir = join(root, 'assets', 'default-model');
    const commit = 'c'.repeat(40);
    const files = Object.fromEntries(
      readdirSync(modelDir).map((f) => [
        f,
        { content: readFileSync(join(modelDir, f)), lfs: f.endsWith('.safetensors') },
      ]),
    );
    hub.repos.set('bert-ts/default-model', { refs: { main: commit }, commits: { [commit]: files } });
    await hub.start();
    try {
      const { page, errors } = await newPage();
      await page.goto(`${server.url}harness/`);
      const text = 'this movie was a [MASK] waste of time.';
      const got = (await page.evaluate(
        async (base: string, endpoint: string, input: string) => {
          const bert = await import(`${base}dist/browser/bert-ts.js`);
          await bert.useWasmBackend();
          bert.env.HF_ENDPOINT = endpoint;
          const fill = await bert.pipeline('fill-mask', 'bert-ts/default-model');
          return (await fill(input, { topK: 5 })) as { token_str: string; score: number }[];
        },
        server.url,
        hub.url,
        text,
      )) as { token_str: string; score: number }[];
      const { pipeline } = await import('../../src/pipelines/index.js');
      const fill = await pipeline('fill-mask', modelDir, { warn: () => {} }); // the pooler and NSP head go unused
      const want = (await fill(text, { topK: 5 })) as { token_str: string; score: number }[];
      assert.deepEqual(
        got.map((p) => p.token_str),
        want.map((p) => p.token_str),
      );
      got.forEach((p, i) => assert.ok(Math.abs(p.score - want[i]!.score) < 1e-4, `${p.score} vs ${want[i]!.score}`));
      // The weights came through the CDN origin; each file was fetched once, by GET.
      const paths = hub.log.map((r) => `${r.method} ${r.path}`);
      assert.ok(paths.includes('GET /bert-ts/default-model/resolve/main/model.safetensors'), paths.join('\n'));
      assert.ok(
        paths.some((p) => p.startsWith('GET /cdn/')),
        paths.join('\n'),
      );
      assert.ok(!paths.some((p) => p.startsWith('HEAD ')), paths.join('\n'));
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await hub.stop();
    }
  },
);
