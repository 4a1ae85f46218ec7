// Backend selection: BERT_BACKEND / option, the loud failure for native-when-missing, the single fallback warning.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { getKernels, loadNativeAddon, tryWasmKernels } from '../../src/native/index.js';
import { wasmLoadError } from '../../src/native/wasm-kernels.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

function runChild(
  env: Record<string, string>,
  body: string,
): { status: number | null; stdout: string; stderr: string } {
  const script = `import { getKernels } from './src/native/index.ts';\n${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('backend option js returns the js kernels; native returns the addon (when built)', () => {
  assert.equal(getKernels({ backend: 'js' }), jsKernels);
  if (loadNativeAddon()) assert.match(getKernels({ backend: 'native' }).name, /^native \(/);
  assert.throws(() => getKernels({ backend: 'gpu' as 'js' }), /backend option='gpu' is not a backend/);
});

test('BERT_BACKEND=native without the addon is a clear error', () => {
  const r = runChild({ BERT_BACKEND: 'native', BERT_NATIVE_ADDON: '/nonexistent/bert_native.node' }, 'getKernels();');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /native backend requested \(BERT_BACKEND=native\) but the native addon is not built/);
});

test('auto without the addon nor the wasm module falls back to js and warns exactly once', () => {
  const r = runChild(
    {
      BERT_BACKEND: '',
      BERT_NATIVE_ADDON: '/nonexistent/bert_native.node',
      BERT_WASM_KERNELS: '/nonexistent/bert_kernels.wasm',
    },
    'console.log(getKernels().name, getKernels().name, getKernels({ backend: "auto" }).name);',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'js js js');
  assert.equal(r.stderr.match(/using the TypeScript kernels/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /bert_kernels\.wasm/, 'the warning says why the WebAssembly kernels are not used either');
});

test(
  'auto without the addon uses the WebAssembly kernels where they are built, with one warning',
  { skip: tryWasmKernels() ? false : `SKIPPED: ${wasmLoadError()}` },
  () => {
    const r = runChild(
      { BERT_BACKEND: '', BERT_NATIVE_ADDON: '/nonexistent/bert_native.node' },
      'const k = getKernels(); console.log(k.name, getKernels() === k, getKernels({ backend: "auto" }) === k);',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^wasm \((relaxed-simd|simd128), \d+ threads?\) true true$/);
    assert.equal(r.stderr.match(/using the WebAssembly kernels/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /native addon is not built/);
  },
);

test('BERT_BACKEND with an unknown value is an error naming the choices', () => {
  const r = runChild({ BERT_BACKEND: 'cuda' }, 'getKernels();');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /BERT_BACKEND='cuda' is not a backend: use js, native, wasm or auto/);
});
