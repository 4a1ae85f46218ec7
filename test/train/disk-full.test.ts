// Fault injection: the disk fills up while a checkpoint is written; the previous checkpoint stays published and whole.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  TRAINING_STATE_VERSION,
  loadTrainingState,
  modelFingerprint,
  saveTrainingState,
  type TrainingState,
} from '../../src/train/training-state.js';

// A real full disk: a 1,200 KiB tmpfs (needs root, as CI runs; skipped with a message elsewhere).
const mountPoint = mkdtempSync(join(tmpdir(), 'bert-ts-full-disk-'));
const mounted =
  process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1200k', 'tmpfs', mountPoint]).status === 0;
const skip = mounted ? false : 'SKIPPED: cannot mount a small tmpfs here (needs root)';
if (skip) process.stderr.write(`test/train/disk-full.test.ts: ${skip}\n`);
after(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

const n = 64 * 1024; // 256 KiB of weights: a checkpoint (weights + two moments) is ~768 KiB, two do not fit
const params = [{ name: 'w', shape: [n], data: new Float32Array(n) }];
const fingerprint = modelFingerprint(params);

function state(step: number): TrainingState {
  return {
    version: TRAINING_STATE_VERSION,
    step,
    position: { epoch: 0, offset: step },
    trainForwards: step,
    optimizerT: step,
    bestMetric: null,
    bestStep: null,
    evalsWithoutImprovement: 0,
    modelFingerprint: fingerprint,
    settings: { lr: 1e-3 },
    history: { steps: [], evals: [] },
  };
}

test('a checkpoint write that hits ENOSPC fails loudly and leaves the previous checkpoint loadable', { skip }, () => {
  const moments = { m: new Float32Array(n).fill(0.25), v: new Float32Array(n).fill(0.5) };
  params[0]!.data.fill(1);
  saveTrainingState(mountPoint, params, moments, state(1));
  params[0]!.data.fill(2);
  assert.throws(
    () => saveTrainingState(mountPoint, params, moments, state(2)),
    /ENOSPC|no space/i,
    'the second save must fail: the disk is full',
  );
  const loaded = loadTrainingState(mountPoint, fingerprint, { lr: 1e-3 });
  assert.equal(loaded.state.step, 1, 'latest.json still names step 1');
  assert.ok(
    loaded.params.get('w')!.every((x) => x === 1),
    'step-1 weights intact',
  );
  assert.ok(loaded.m.every((x) => x === 0.25) && loaded.v.every((x) => x === 0.5), 'step-1 optimizer moments intact');
  const leftovers = readdirSync(join(mountPoint, 'checkpoints')).filter((f) => f.includes('.tmp'));
  assert.deepEqual(leftovers, [], 'no temp files left in checkpoints/');
});
