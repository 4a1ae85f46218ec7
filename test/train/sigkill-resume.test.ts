// A training child process killed with SIGKILL at an arbitrary moment resumes to the same weights as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { Trainer } from '../../src/train/trainer.js';
import { bertTrainerModel } from '../../src/train/bert-adapter.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { latestCheckpointDir } from '../../src/train/checkpoint.js';
import { encodedDataset } from '../../src/data/batching.js';
import { sigkillExamples, sigkillOptions } from './helpers/sigkill-shared.js';

const CHILD = 'test/train/helpers/sigkill-child.ts';

/** Runs the child; when killAfterStep is given, sends SIGKILL once that step's line appears (mid-write of the next). */
function runChild(out: string, resume: boolean, killAfterStep?: number): Promise<{ code: number | null; signal: string | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, out, resume ? 'resume' : 'fresh'], { stdio: ['ignore', 'pipe', 'pipe'] });
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

test('SIGKILL mid-run, then --resume: same final weights as an uninterrupted run', { timeout: 120_000 }, async () => {
  const full = await BertForSequenceClassification.fromPretrained('../shared/fixtures/hf-tiny/seq_cls3', { kernels: jsKernels, warn: () => {} });
  await new Trainer(bertTrainerModel(full), encodedDataset(sigkillExamples(), 'sequence', 0), {
    ...sigkillOptions, kernels: jsKernels, progress: new ProgressReporter({ stream: { write: () => true }, tty: false }),
  }).train();

  const out = mkdtempSync(join(tmpdir(), 'bert-ts-sigkill-'));
  const first = await runChild(out, false, 13); // 9 steps per epoch: killed during epoch 2
  assert.equal(first.signal, 'SIGKILL');
  const saved = latestCheckpointDir(out);
  assert.ok(saved, 'a complete checkpoint survives the kill');
  const second = await runChild(out, true);
  assert.equal(second.code, 0);
  assert.ok(second.lines.some((l) => l.includes('resumed from')));
  assert.ok(second.lines.at(-1)!.includes('"done"'));

  const resumed = await BertForSequenceClassification.fromPretrained('../shared/fixtures/hf-tiny/seq_cls3', { kernels: jsKernels, warn: () => {} });
  const { loadCheckpoint, modelFingerprint } = await import('../../src/train/checkpoint.js');
  const ck = loadCheckpoint(out, modelFingerprint(resumed.parameters()), {});
  assert.equal(ck.state.step, 18);
  for (const p of full.parameters()) {
    const got = ck.params.get(p.name)!;
    let maxErr = 0;
    for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - p.data[i]!));
    assert.equal(maxErr, 0, `${p.name} differs by ${maxErr}`);
  }
});
