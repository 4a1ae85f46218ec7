// The README's main job: `bert demo` fine-tunes on the embedded IMDb sample, evaluates and classifies, offline.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test(
  'bert demo (1 epoch) writes a HF folder, reports test accuracy and classifies the notebook sentence',
  { timeout: 300_000 },
  () => {
    const out = mkdtempSync(join(tmpdir(), 'bert-ts-demo-test-'));
    try {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--epochs', '1', '--output', out],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, `bert demo exited ${r.status}: ${r.stderr.slice(-2000)}`);
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0] ?? '', /accuracy on the 500 test reviews: \d+\.\d%/, `summary line: ${lines[0]}`);
      assert.equal(lines.at(-3), 'classifier("This movie was absolutely fantastic!")', 'the classified sentence');
      const result = JSON.parse(lines.at(-2)!) as { label: string; score: number }[];
      assert.ok(lines.at(-1)?.startsWith(`next: bert predict --model ${out} `), `the next command: ${lines.at(-1)}`);
      assert.equal(result.length, 1, 'one label');
      assert.ok(
        ['NEGATIVE', 'POSITIVE'].includes(result[0]!.label),
        `label ${result[0]!.label} comes from the demo's id2label`,
      );
      assert.ok(result[0]!.score > 0.5 && result[0]!.score <= 1, `softmax score of the top label: ${result[0]!.score}`);
      for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'eval_results.json'])
        assert.ok(existsSync(join(out, f)), `${f} written`);
      assert.ok(!existsSync(join(out, 'checkpoints')), 'the training state is removed: only the model stays');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
