// Seeded, bounded mutation fuzzing of the safetensors and .bin readers (longer runs: scripts/fuzz-io.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ioFuzzTargets, runIoFuzz } from './helpers/fuzz-io.js';

test('mutated safetensors and .bin files only ever raise CheckpointFormatError, quickly', async () => {
  const targets = ioFuzzTargets();
  const before = process.memoryUsage().rss;
  const report = await runIoFuzz(targets, 20261126, 150);
  const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures.slice(0, 3), null, 1));
  assert.equal(report.cases, targets.length * 150);
  assert.ok(
    report.rejected > report.cases / 3,
    `most mutations should be rejected (${report.rejected} of ${report.cases})`,
  );
  assert.ok(grownMb < 512, `memory grew by ${grownMb.toFixed(0)} MB`);
});
