// Run by test/wasm/threads.test.ts in a child process (a hang there is a timeout, not a stuck test runner): a worker
// of the threaded module crashes in a task of a GEMM; prints JSON with what that call and the next one threw.
import { openWasmKernels } from '../../src/native/wasm-kernels.js';
import { workerCrashScenario } from './threads-checks.js';

const ex = openWasmKernels(2);
// The worker comes up asynchronously: let it start, then check that the pool computes before breaking it.
await new Promise((resolve) => setTimeout(resolve, 1000));
process.stdout.write(JSON.stringify(workerCrashScenario(ex)));
