// `bert embed` and `bert rerank` on sentence-transformers folders, compared with sentence-transformers' outputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const DIR = fileURLToPath(new URL('../fixtures/sentence-transformers/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  texts: string[];
  models: Record<string, { embeddings: number[][] }>;
  cross_encoders: { query: string; documents: string[]; models: Record<string, { scores: number[] }> };
};

function bert(args: string[]): { status: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines, stderr: r.stderr };
}

test('bert embed uses the folder modules.json (pooling, Dense, Normalize)', () => {
  const r = bert(['embed', '--model', join(DIR, 'cls_dense_tanh'), ...expected.texts.slice(0, 3)]);
  assert.equal(r.status, 0, r.stderr);
  r.lines.forEach((line, i) => {
    const e = line['embedding'] as number[];
    const ref = expected.models['cls_dense_tanh']!.embeddings[i]!;
    assert.equal(e.length, ref.length);
    e.forEach((v, k) => assert.ok(Math.abs(v - ref[k]!) <= 1e-4, `text ${i} dim ${k}`));
  });
});

test('bert rerank prints the documents best first with the cross-encoder scores', () => {
  const { query, documents, models } = expected.cross_encoders;
  const scores = models['cross_encoder']!.scores;
  const r = bert(['rerank', '--model', join(DIR, 'cross_encoder'), '--query', query, '--top-k', '3', ...documents]);
  assert.equal(r.status, 0, r.stderr);
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  assert.equal(r.lines.length, 3);
  r.lines.forEach((line, n) => {
    assert.equal(line['rank'], n + 1);
    assert.equal(line['corpus_id'], order[n]![1]);
    assert.equal(line['text'], documents[order[n]![1]]);
    assert.ok(Math.abs((line['score'] as number) - order[n]![0]) <= 1e-4);
  });
  const missing = bert(['rerank', '--model', join(DIR, 'cross_encoder'), 'a document']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--query TEXT is required/);
});
