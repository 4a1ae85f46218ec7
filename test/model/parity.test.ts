// Parity with HuggingFace transformers: every head of ../shared/fixtures/hf-tiny, with the js kernels and the
// process's default backend (native when built), through the same harness as `npm run parity`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { runParity } from '../../scripts/parity.js';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

const FIXTURE = '../shared/fixtures/hf-tiny';

describe('parity with HF fixtures (hf-tiny)', () => {
  for (const kernels of [jsKernels, getKernels()]) {
    it(`every check is within tolerance with the ${kernels.name} kernels`, async () => {
      const r = await runParity(FIXTURE, { kernels });
      assert.ok(r.total > 800, `expected the full set of checks, got ${r.total}`);
      assert.deepEqual(r.failures, []);
      assert.equal(r.passed, r.total, r.lines.join('\n'));
      assert.match(r.lines.at(-1)!, /^parity: (\d+) of \1 checks within tolerance$/);
    });
  }

  it('npm run parity prints one line per head and exits 0; a bad folder exits non-zero', () => {
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/parity.ts', FIXTURE], {
      encoding: 'utf8',
      env: { ...process.env, BERT_BACKEND: 'js' },
    });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    for (const head of [
      'pretraining',
      'bert_model',
      'masked_lm',
      'qa',
      'multiple_choice',
      'pretraining_bin',
      'pretraining_fp16',
    ]) {
      assert.match(ok.stdout, new RegExp(`^${head} `, 'm'));
    }
    assert.match(ok.stdout, /\nparity: (\d+) of \1 checks within tolerance\n$/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/parity.ts', 'test'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /manifest\.json/);
  });
});
