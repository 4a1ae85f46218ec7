// The relaxed-SIMD GEMM micro-kernel (bert_gemm_relaxed*.wasm): the modules own nothing in the memory they share,
// the feature probe agrees with the engine, and - in a child Node with --experimental-wasm-relaxed-simd (Node 20
// validates relaxed SIMD only behind it) and BERT_WASM_RELAXED=1 - every wasm kernel check, the threaded checks and
// the HF parity harness (1 and 2 threads) pass through it, within the native tests' tolerances.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  relaxedSimdSupported,
  wasmKernelsPath,
  wasmRelaxedPath,
  wasmThreadedKernelsPath,
} from '../../src/native/wasm-kernels.js';

const paths = [wasmKernelsPath(), wasmThreadedKernelsPath(), wasmRelaxedPath(false), wasmRelaxedPath(true)];
const missing = paths.find((p) => !existsSync(p));
// CI builds with BERT_REQUIRE_WASM=1, where a missing clang-19 / lld-19 fails the build instead of skipping here.
const skip = missing
  ? `SKIPPED: ${missing} is not built (npm run build:wasm; clang-19 and lld-19 for the relaxed GEMM)`
  : false;
if (skip) process.stderr.write(`test/wasm/relaxed.test.ts: ${skip}\n`);

// Newer engines have relaxed SIMD on by default (and may not know the flag).
const relaxedFlag = relaxedSimdSupported() ? [] : ['--experimental-wasm-relaxed-simd'];
const wasmApi = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;

function node(args: string[], env: Record<string, string>, timeout = 300_000): { status: number | null; out: string } {
  // Without NODE_TEST_CONTEXT (set by this runner) a child `--test` reports as a top-level run.
  const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
  const r = spawnSync(process.execPath, [...relaxedFlag, '--import', 'tsx', ...args], {
    encoding: 'utf8',
    env: { ...parentEnv, BERT_BACKEND: 'wasm', ...env },
    timeout,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/**
 * The sections of a wasm binary (ids) and its imports / exports as `kind:name` (read from the bytes: compiling the
 * module needs relaxed SIMD). Imports are only ever memories here (kind 2: limits flags, min, max when flagged).
 */
function readModule(bytes: Uint8Array): { ids: number[]; imports: string[]; exports: string[] } {
  let i = 8;
  const u32 = (): number => {
    let v = 0;
    for (let shift = 0, b = 128; b & 128; shift += 7) v += ((b = bytes[i++]!) & 127) * 2 ** shift;
    return v;
  };
  const name = (): string => {
    const len = u32();
    i += len;
    return Buffer.from(bytes.subarray(i - len, i)).toString('utf8');
  };
  const ids: number[] = [],
    imports: string[] = [],
    exports: string[] = [];
  while (i < bytes.length) {
    const id = bytes[i++]!;
    const size = u32(),
      end = i + size;
    ids.push(id);
    if (id === 2)
      for (let n = u32(); n > 0; n--) {
        const where = `${name()}.${name()}`;
        const kind = bytes[i++]!;
        assert.equal(kind, 2, `import ${where} is not a memory`);
        const flags = bytes[i++]!;
        u32();
        if (flags & 1) u32();
        imports.push(`memory:${where}`);
      }
    if (id === 7)
      for (let n = u32(); n > 0; n--) {
        const what = name();
        const kind = bytes[i++]!;
        u32();
        exports.push(`${['func', 'table', 'memory', 'global'][kind]}:${what}`);
      }
    i = end;
  }
  return { ids, imports, exports };
}

test('the relaxed modules import only the memory, export only the micro-kernel, and have no data', { skip }, () => {
  for (const threaded of [false, true]) {
    const { ids, imports, exports } = readModule(readFileSync(wasmRelaxedPath(threaded)));
    // No data (11), data count (12) or start function (8): instantiating it writes nothing into the shared memory.
    for (const id of [8, 11, 12]) assert.ok(!ids.includes(id), `${wasmRelaxedPath(threaded)}: section ${id}`);
    assert.deepEqual(imports, ['memory:env.memory']);
    assert.deepEqual(exports, ['func:bk_micro_relaxed']);
  }
});

test('the feature probe agrees with the engine on the real module', { skip }, () => {
  assert.equal(relaxedSimdSupported(), wasmApi.validate(readFileSync(wasmRelaxedPath(false))));
  const r = node(
    ['-e', "import('./src/native/wasm-kernels.ts').then((m) => console.log('probe', m.relaxedSimdSupported()))"],
    {},
  );
  assert.match(r.out, /probe true/, r.out);
});

test('BERT_WASM_RELAXED: 0 and 1 pick the micro-kernel; FMA changes bits, not accuracy', { skip }, () => {
  const r = node(['test/wasm/relaxed-child.ts'], {});
  assert.equal(r.status, 0, r.out);
  const result = JSON.parse(r.out.trim().split('\n')[0]!) as {
    names: string[];
    bitsDiffer: boolean;
    maxDiff: number[];
  };
  assert.deepEqual(result.names, ['wasm (simd128, 1 thread)', 'wasm (relaxed-simd, 1 thread)']);
  // Both within the GEMM tests' tolerance of the js reference (2e-5 relative; sums of 515 products of [-1, 1)).
  for (const d of result.maxDiff) assert.ok(Number.isFinite(d) && d < 2e-5 * 20, `max |wasm - js| = ${d}`);
  // With FMA (x86 FMA3, ARM64) relaxed_madd rounds once, mul + add twice: the bits must differ somewhere.
  const fma = existsSync('/proc/cpuinfo') && /\bfma\b|\basimd\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  if (fma) assert.ok(result.bitsDiffer, 'the relaxed micro-kernel ran (FMA rounds differently)');
});

test('BERT_WASM_RELAXED=1 where the engine lacks relaxed SIMD, or a bad value, is a clear error', { skip }, () => {
  const load = "import('./src/native/index.ts').then((m) => console.log(m.getKernels().name))";
  if (!relaxedSimdSupported()) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', load], {
      encoding: 'utf8',
      env: { ...process.env, BERT_BACKEND: 'wasm', BERT_WASM_RELAXED: '1' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /BERT_WASM_RELAXED=1, but the relaxed-SIMD GEMM is unavailable: this engine does not/);
    assert.match(r.stderr, /--experimental-wasm-relaxed-simd/);
  }
  const bad = node(['-e', load], { BERT_WASM_RELAXED: 'yes' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.out, /BERT_WASM_RELAXED='yes' is not understood: use 0 \(SIMD128 only\), 1/);
});

test('every wasm kernel check and the threaded checks through the relaxed micro-kernel', { skip }, () => {
  const r = node(['--test', '--test-reporter=tap', 'test/wasm/kernels.test.ts', 'test/wasm/threads.test.ts'], {
    BERT_WASM_RELAXED: '1',
  });
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /# fail 0/);
  assert.match(r.out, /# skipped 0/);
  assert.doesNotMatch(r.out, /SKIPPED/);
});

for (const threads of [1, 2])
  test(
    `parity harness on hf-tiny through the relaxed micro-kernel, ${threads} thread(s): every check`,
    { skip },
    () => {
      const r = node(['scripts/parity.ts', '../shared/fixtures/hf-tiny'], {
        BERT_WASM_RELAXED: '1',
        BERT_WASM_THREADS: String(threads),
      });
      assert.match(r.out, new RegExp(`kernels: wasm \\(relaxed-simd, ${threads} threads?\\)`), r.out);
      const summary = r.out.match(/parity: (\d+) of (\d+) checks within tolerance/);
      assert.ok(summary, `no summary line in:\n${r.out}`);
      assert.equal(summary[1], summary[2], r.out);
      assert.ok(Number(summary[2]) > 800, r.out);
    },
  );
