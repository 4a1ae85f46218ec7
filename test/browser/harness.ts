// What the browser tests run inside Chromium (bundled by scripts/build-browser.mjs --entry): the wasm kernel tests
// of test/wasm/kernels.test.ts against the TypeScript reference kernels, the threaded kernels against one thread,
// and the parity harness (scripts/parity.ts)
// on hf-tiny fixture heads served over HTTP, both through the WebAssembly backend loaded from fetch.
import { loadWasmBackend, loadWasmExports, useWasmBackend } from '../../src/browser/web/wasm.js';
import { mountFile } from '../../src/browser/web/files.js';
import { runParity } from '../../scripts/parity.js';
import { runCollected, type TestOutcome } from './shims/node-test.js';
import { lcgRandom } from '../native/helpers.js';
import {
  checkThreadedAttention,
  checkThreadedElementwise,
  checkThreadedGemms,
  checkThreadedTrainingStep,
  workerCrashScenario,
  type WorkerCrashOutcome,
} from '../wasm/threads-checks.js';

/** Loads bert_kernels.wasm from `wasmUrl`, then runs the wasm kernel tests. */
export async function kernelTests(wasmUrl: string): Promise<{ backend: string; outcomes: TestOutcome[] }> {
  const kernels = await useWasmBackend(wasmUrl);
  await import('../wasm/kernels.test.js');
  return { backend: kernels.name, outcomes: await runCollected() };
}

/**
 * The threaded module on 2 Web Workers' worth of threads against the single-threaded module, bit for bit
 * (test/wasm/threads-checks.ts): the kernels' names, whether the page is cross-origin isolated, the first failure.
 */
export async function threadTests(
  wasmUrl: string,
): Promise<{ names: string[]; isolated: boolean; failure: string | null }> {
  const one = await loadWasmBackend(wasmUrl, { threads: 1 });
  const many = await loadWasmBackend(wasmUrl, { threads: 2 });
  const { randomArray } = lcgRandom(777);
  const names = [one.name, many.name];
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  try {
    checkThreadedGemms(one, many, randomArray);
    checkThreadedAttention(one, many, randomArray);
    checkThreadedElementwise(one, many, randomArray);
    checkThreadedTrainingStep(one, many, randomArray);
    return { names, isolated, failure: null };
  } catch (err) {
    return { names, isolated, failure: String((err as Error).stack ?? err) };
  }
}

/** A Web Worker of the threaded module crashes in a GEMM's task: test/wasm/threads-checks.ts workerCrashScenario. */
export async function workerCrash(wasmUrl: string): Promise<WorkerCrashOutcome> {
  return workerCrashScenario(await loadWasmExports(wasmUrl, { threads: 2 }));
}

async function fetchInto(url: string, path: string): Promise<void> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  mountFile(path, new Uint8Array(await res.arrayBuffer()));
}

/**
 * Fetches the fixture files (paths relative to `fixtureUrl`) into /fixtures, keeps only `heads` in the manifest,
 * and runs the parity harness on the WebAssembly kernels.
 */
export async function parity(
  wasmUrl: string,
  fixtureUrl: string,
  files: string[],
  heads: string[],
): Promise<{ backend: string; passed: number; total: number; lines: string[]; failures: string[] }> {
  const kernels = await useWasmBackend(wasmUrl);
  await Promise.all(files.map((f) => fetchInto(new URL(f, fixtureUrl).href, `/fixtures/${f}`)));
  const manifestRes = await fetch(new URL('manifest.json', fixtureUrl));
  const manifest = (await manifestRes.json()) as { heads: Record<string, unknown>; variants?: object };
  manifest.heads = Object.fromEntries(Object.entries(manifest.heads).filter(([h]) => heads.includes(h)));
  manifest.variants = {}; // the other encodings of the pre-training checkpoint: not these heads
  mountFile('/fixtures/manifest.json', JSON.stringify(manifest));
  const r = await runParity('/fixtures', { kernels });
  return { backend: kernels.name, passed: r.passed, total: r.total, lines: r.lines, failures: r.failures };
}
