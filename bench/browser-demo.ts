// The browser demo page (examples/browser) with its own defaults (800 IMDb sample reviews, 3 epochs, max 128 tokens,
// batch 8, then 200 held-out reviews evaluated) in headless Chromium, as `bert demo --browser` serves it: prints the
// kernels the page used, the seconds from opening the page to the end of fine-tuning, the steps, the accuracy and the
// prediction.
// Usage: node --import tsx bench/browser-demo.ts [--query 'threads=1&epochs=1'] (needs npm run build:browser)
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { demoMounts, serveStatic } from '../src/browser/static-server.js';

const { values } = parseArgs({ options: { query: { type: 'string', default: '' } } });
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && existsSync(p));
if (!chromium) throw new Error('bench/browser-demo: no chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const server = await serveStatic({ mounts: demoMounts() });
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  protocolTimeout: 1_800_000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const started = performance.now();
  await page.goto(`${server.url}examples/browser/index.html?autostart=1${values.query ? `&${values.query}` : ''}`);
  await page.waitForFunction('window.bertDemo && (window.bertDemo.trained || window.bertDemo.error)', {
    timeout: 1_800_000,
    polling: 500,
  });
  const trainedAt = performance.now();
  await page.waitForFunction('window.bertDemo.attentionShown || window.bertDemo.error', { timeout: 600_000 });
  // A string, not a function: tsx's keep-names helper does not exist in the page.
  const state = (await page.evaluate(
    '({ error: window.bertDemo.error, backend: window.bertDemo.backend, summary: window.bertDemo.summary, prediction: window.bertDemo.prediction, losses: window.bertDemo.losses.length })',
  )) as {
    error?: string;
    backend: string;
    summary: { steps: number; eval: { accuracy: number; examples: number } };
    prediction: { label: string; score: number };
    losses: number;
  };
  if (state.error) throw new Error(`the page failed: ${state.error}`);
  const result = {
    bench: 'browser-demo',
    chromium: await browser.version(),
    query: values.query,
    backend: state.backend,
    steps: state.summary.steps,
    trainSeconds: (trainedAt - started) / 1000,
    evalExamples: state.summary.eval.examples,
    accuracy: state.summary.eval.accuracy,
    prediction: state.prediction,
    pageErrors: errors,
  };
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await server.close();
}
