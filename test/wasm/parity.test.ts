// The HF parity harness (scripts/parity.ts) through the WebAssembly kernels: every head's outputs, losses,
// gradients and AdamW steps against PyTorch's fixtures, with BERT_BACKEND=wasm.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadWasmKernels, wasmLoadError } from '../../src/native/index.js';
import { wasmThreadedKernelsPath } from '../../src/native/wasm-kernels.js';

const skip = loadWasmKernels() ? false : `SKIPPED: ${wasmLoadError()}`;
if (skip) process.stderr.write(`test/wasm/parity.test.ts: ${skip}\n`);

// One thread, and 2 on the threaded module (its workers on worker_threads) when it is built.
const threadCounts = existsSync(wasmThreadedKernelsPath()) ? [1, 2] : [1];
for (const threads of threadCounts)
  test(
    `parity harness passes on hf-tiny with BERT_BACKEND=wasm, BERT_WASM_THREADS=${threads}: every check`,
    { skip },
    () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/parity.ts', '../shared/fixtures/hf-tiny'], {
        encoding: 'utf8',
        env: { ...process.env, BERT_BACKEND: 'wasm', BERT_WASM_THREADS: String(threads) },
        timeout: 120_000,
      });
      const out = `${r.stdout}\n${r.stderr}`;
      assert.match(
        out,
        new RegExp(`kernels: wasm \\(simd128, ${threads} threads?\\)`),
        'the harness ran on the WebAssembly kernels',
      );
      const summary = out.match(/parity: (\d+) of (\d+) checks within tolerance/);
      assert.ok(summary, `no summary line in:\n${out}`);
      assert.equal(summary[1], summary[2], out);
      assert.ok(Number(summary[2]) > 800, out);
    },
  );

test('BERT_BACKEND=wasm without the module is a clear error', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/native/index.ts').then((m) => m.getKernels())"],
    { encoding: 'utf8', env: { ...process.env, BERT_BACKEND: 'wasm', BERT_WASM_KERNELS: '/nonexistent.wasm' } },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /wasm backend requested \(BERT_BACKEND=wasm\) but the WebAssembly kernels are not built/);
  assert.match(r.stderr, /npm run build:wasm/);
});
