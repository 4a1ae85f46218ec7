// Run by test/wasm/threads.test.ts in a child process (a hang there is a timeout, not a stuck test runner): a worker
// of the threaded module crashes in a task of a GEMM; prints JSON with what that call and the next one threw.
import { createWasmKernels } from '../../src/native/index.js';
import { openWasmKernels } from '../../src/native/wasm-kernels.js';

const ex = openWasmKernels(2);
const kernels = createWasmKernels(ex);
const n = 1024;
const a = new Float32Array(n * n).fill(1),
  c = new Float32Array(n * n);
const gemm = (): string | null => {
  try {
    kernels.gemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
};
// The worker comes up asynchronously: let it start, then check that the pool computes before breaking it.
await new Promise((resolve) => setTimeout(resolve, 1000));
const before = gemm();
const value = c[0]; // 1024: a row of ones times a column of ones
ex.bk_test_crash_worker!(); // the next task a worker takes traps (unreachable), as a crash in a kernel would
const during = gemm();
const after = gemm();
process.stdout.write(JSON.stringify({ before, value, during, after }));
