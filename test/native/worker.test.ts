// The addon in worker threads (the async inference path runs the model there): it loads in several threads at
// once and computes the same results as on the main thread, while the main event loop stays free.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { loadNativeAddon, nativeAddonPath, nativeLoadError } from '../../src/native/index.js';

const addon = loadNativeAddon();
const skip = addon ? false : `SKIPPED: native addon not built (${nativeLoadError()})`;
if (skip) process.stderr.write(`test/native/worker.test.ts: ${skip}\n`);

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.path);
const { m, n, k } = workerData;
const a = new Float32Array(m * k).map((_, i) => Math.sin(i)), b = new Float32Array(k * n).map((_, i) => Math.cos(i));
const c = new Float32Array(m * n);
for (let r = 0; r < workerData.reps; r++) addon.gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
parentPort.postMessage(c);
`;

function runWorker(m: number, n: number, k: number, reps: number): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: nativeAddonPath(), m, n, k, reps } });
    w.once('message', (c: Float32Array) => {
      resolve(c);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

test('native kernels run in worker threads, concurrently, without blocking the main event loop', { skip }, async () => {
  const m = 256,
    n = 384,
    k = 512;
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const [c1, c2] = await Promise.all([runWorker(m, n, k, 40), runWorker(m, n, k, 40)]);
  clearInterval(timer);
  const a = new Float32Array(m * k).map((_, i) => Math.sin(i)),
    b = new Float32Array(k * n).map((_, i) => Math.cos(i));
  const c = new Float32Array(m * n);
  addon!.gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
  for (const [i, got] of [c1, c2].entries()) {
    let worst = 0;
    for (let j = 0; j < c.length; j++) worst = Math.max(worst, Math.abs(got[j]! - c[j]!) / (1 + Math.abs(c[j]!)));
    assert.ok(worst <= 1e-5, `worker ${i}: rel diff ${worst}`);
  }
  assert.ok(ticks > 0, 'the main thread kept running timers while the workers computed');
});
