// docs/api.md is what scripts/gen-api-docs.ts makes of the current exports: a changed export without a regenerated
// reference fails here (run `npm run docs:api`).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

test('docs/api.md is up to date with src/index.ts', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-api-'));
  try {
    const out = join(dir, 'api.md');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-api-docs.ts', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fresh = readFileSync(out, 'utf8');
    assert.ok(fresh === readFileSync('docs/api.md', 'utf8'), 'docs/api.md is stale: run npm run docs:api');
    // Every export has its entry, the new surface included.
    for (const name of ['AutoTokenizer', 'Tokenizer', 'ResultTensor', 'pipeline', 'finetune', 'squadMetrics'])
      assert.match(fresh, new RegExp(`^### ${name}$`, 'm'), name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
