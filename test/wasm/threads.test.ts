// The threaded WebAssembly kernels (bert_kernels_threads.wasm on worker_threads): bit-identical to one thread, the
// kernel checks against js with 2 threads explicitly (the default count depends on the machine), BERT_WASM_THREADS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { createWasmKernels } from '../../src/native/index.js';
import {
  openWasmKernels,
  relaxedSimdSupported,
  wasmKernelsPath,
  wasmRelaxedMode,
  wasmRelaxedPath,
  wasmThreadCount,
  wasmThreadedKernelsPath,
} from '../../src/native/wasm-kernels.js';
import { KERNEL_CHECKS, lcgRandom } from '../native/helpers.js';
import {
  checkThreadedAttention,
  checkThreadedElementwise,
  checkThreadedGemms,
  checkThreadedTrainingStep,
  type WorkerCrashOutcome,
} from './threads-checks.js';

const skip = !existsSync(wasmKernelsPath())
  ? `SKIPPED: ${wasmKernelsPath()} is not built (npm run build:wasm)`
  : !existsSync(wasmThreadedKernelsPath())
    ? `SKIPPED: ${wasmThreadedKernelsPath()} is not built (npm run build:wasm)`
    : false;
if (skip) process.stderr.write(`test/wasm/threads.test.ts: ${skip}\n`);

const one = skip ? null : createWasmKernels(openWasmKernels(1));
const many = skip ? null : createWasmKernels(openWasmKernels(3)); // 3 threads on 2 cores: workers come late, too
const { randomArray } = lcgRandom(777);

// The micro-kernel in use: relaxed SIMD where this engine has it (test/wasm/relaxed.test.ts reruns this file with
// --experimental-wasm-relaxed-simd and BERT_WASM_RELAXED=1), else SIMD128.
const kind =
  wasmRelaxedMode() !== 'off' && relaxedSimdSupported() && existsSync(wasmRelaxedPath(false))
    ? 'relaxed-simd'
    : 'simd128';

test('the thread count and the micro-kernel are in the kernels name', { skip }, () => {
  assert.equal(one!.name, `wasm (${kind}, 1 thread)`);
  assert.equal(many!.name, `wasm (${kind}, 3 threads)`);
});

test('GEMMs, packed and plain linears: threaded bits = one thread', { skip }, () => {
  checkThreadedGemms(one!, many!, randomArray);
});

test('attention forward and backward, with and without dropout: threaded bits = one thread', { skip }, () => {
  checkThreadedAttention(one!, many!, randomArray);
});

test(
  'LayerNorm, activations, AdamW, scale and dropout split by rows / ranges: threaded bits = one thread',
  { skip },
  () => {
    checkThreadedElementwise(one!, many!, randomArray);
  },
);

test('a BERT training step (logits, every gradient): threaded bits = one thread', { skip }, () => {
  checkThreadedTrainingStep(one!, many!, randomArray);
});

for (const [title, check] of KERNEL_CHECKS) test(`${title} (3 threads)`, { skip }, () => check(many!, randomArray));

test(
  'a worker that crashes during a call: that call and every later one throw what happened, none hangs',
  { skip },
  () => {
    // This file's engine flags (relaxed SIMD, when test/wasm/relaxed.test.ts runs it) carry over to the child.
    const flags = process.execArgv.filter((a) => a.startsWith('--experimental-wasm'));
    const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', 'test/wasm/crash-child.ts'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, `the child hung (killed by ${r.signal}):\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as WorkerCrashOutcome;
    assert.equal(result.before, null, 'the pool computed before the crash');
    assert.equal(result.value, 1024, 'and computed right');
    const during = result.during ?? 'nothing thrown',
      after = result.after ?? 'nothing thrown';
    assert.match(during, /^gemm: a worker of the threaded WebAssembly kernels failed during this call \(.*unreachable/);
    assert.match(during, /results are incomplete and these kernels are unusable: load them again/);
    assert.match(after, /^gemm: a worker of the threaded WebAssembly kernels failed earlier \(.*unreachable/);
  },
);

test('BERT_BACKEND=wasm with a bad BERT_WASM_THREADS names the variable', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/native/index.ts').then((m) => m.getKernels())"],
    { encoding: 'utf8', env: { ...process.env, BERT_BACKEND: 'wasm', BERT_WASM_THREADS: 'many' } },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /but BERT_WASM_THREADS='many' is not a thread count: use an integer from 1 to 64/);
});

test('BERT_WASM_THREADS: the count, 1 = single-threaded, a bad value is a clear error', () => {
  const saved = process.env.BERT_WASM_THREADS;
  try {
    process.env.BERT_WASM_THREADS = '1';
    assert.equal(wasmThreadCount(), 1);
    process.env.BERT_WASM_THREADS = '6';
    assert.equal(wasmThreadCount(), 6);
    delete process.env.BERT_WASM_THREADS;
    assert.ok(wasmThreadCount() >= 1 && wasmThreadCount() <= 4);
    for (const bad of ['0', 'two', '1.5', '65']) {
      process.env.BERT_WASM_THREADS = bad;
      assert.throws(
        () => wasmThreadCount(),
        /BERT_WASM_THREADS='.*' is not a thread count: use an integer from 1 to 64/,
      );
    }
  } finally {
    if (saved === undefined) delete process.env.BERT_WASM_THREADS;
    else process.env.BERT_WASM_THREADS = saved;
  }
});

test('BERT_WASM_THREADS=2 without the threaded module is an error, not a silent single thread', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/native/index.ts').then((m) => m.getKernels())"],
    {
      encoding: 'utf8',
      env: { ...process.env, BERT_BACKEND: 'wasm', BERT_WASM_THREADS: '2', BERT_WASM_KERNELS: '/nonexistent.wasm' },
    },
  );
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    /wasm backend requested \(BERT_BACKEND=wasm\) but the (threaded )?WebAssembly kernels .*not built/,
  );
});
