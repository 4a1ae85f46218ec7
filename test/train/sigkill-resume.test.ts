// A training child process killed with SIGKILL at three random steps resumes to the same weights as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { Trainer } from '../../src/train/trainer.js';
import { bertTrainerModel } from '../../src/train/bert-adapter.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { latestTrainingStateDir, loadTrainingState, modelFingerprint } from '../../src/train/training-state.js';
import { sigkillOptions, sigkillSampler } from './helpers/sigkill-shared.js';
import { seeded } from '../helpers/seeded.js';

const CHILD = 'test/train/helpers/sigkill-child.ts';

/** Runs the child; when killAfterStep is given, sends SIGKILL once that step's line appears (mid-write of the next). */
function runChild(
  out: string,
  resume: boolean,
  killAfterStep?: number,
): Promise<{ code: number | null; signal: string | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, out, resume ? 'resume' : 'fresh'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buf = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        // Killing right after the step line lands in the middle of that step's checkpoint write.
        if (killAfterStep !== undefined && line.includes(`"step":${killAfterStep},`)) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`child failed (${code}): ${err}`));
      else resolve({ code, signal, lines });
    });
  });
}

/** Three distinct kill steps in 1..17 (of 18), drawn from a fixed seed; scripts/sigkill-loop.ts runs many more. */
function killSteps(seed: number): number[] {
  const rand = seeded(seed);
  const steps = new Set<number>();
  while (steps.size < 3) steps.add(1 + Math.floor(rand() * 17));
  return [...steps].sort((a, b) => a - b);
}

test(
  'SIGKILL at three random steps, --resume after each: same final weights as an uninterrupted run',
  { timeout: 180_000 },
  async (t) => {
    const full = await BertForSequenceClassification.fromPretrained('../shared/fixtures/hf-tiny/seq_cls3', {
      kernels: jsKernels,
      warn: () => {},
    });
    await new Trainer(bertTrainerModel(full), sigkillSampler(), {
      ...sigkillOptions,
      kernels: jsKernels,
      progress: new ProgressReporter({ stream: { write: () => true }, tty: false }),
    }).train();

    const out = mkdtempSync(join(tmpdir(), 'bert-ts-sigkill-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const kills = killSteps(20261126);
    for (const [i, step] of kills.entries()) {
      // Killed right after the step line: in the middle of that step's checkpoint write (9 steps per epoch).
      const run = await runChild(out, i > 0, step);
      assert.equal(run.signal, 'SIGKILL', `run ${i} was killed at step ${step}`);
      assert.ok(latestTrainingStateDir(out), `a complete checkpoint survives the kill at step ${step}`);
    }
    const last = await runChild(out, true);
    assert.equal(last.code, 0);
    assert.ok(
      last.lines.some((l) => l.includes('resumed from')),
      'the last run resumed',
    );
    assert.ok(last.lines.at(-1)!.includes('"done"'), 'the last run finished');

    const resumed = await BertForSequenceClassification.fromPretrained('../shared/fixtures/hf-tiny/seq_cls3', {
      kernels: jsKernels,
      warn: () => {},
    });
    const ck = loadTrainingState(out, modelFingerprint(resumed.parameters()), {});
    assert.equal(ck.state.step, 18);
    for (const p of full.parameters()) {
      const got = ck.params.get(p.name)!;
      let maxErr = 0;
      for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - p.data[i]!));
      assert.equal(maxErr, 0, `${p.name} differs by ${maxErr}`);
    }
  },
);
