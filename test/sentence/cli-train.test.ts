// `bert train-embeddings` and `bert train-reranker`: flags to the library, the summary line, usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp.js';

const FIX = fileURLToPath(new URL('../fixtures/sentence-transformers/', import.meta.url));
const DATA = fileURLToPath(new URL('../fixtures/sentence-train/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function bert(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bert train-embeddings trains with a Matryoshka-wrapped cached MNRL and prints the summary', () => {
  const out = join(tempDir('cli-st'), 'model');
  const r = bert([
    'train-embeddings',
    ...['--model', join(FIX, 'mean_legacy'), '--train', join(DATA, 'pairs.jsonl'), '--output', out],
    ...['--eval', join(DATA, 'pairs.jsonl'), '--loss', 'cached-mnrl', '--mini-batch-size', '2'],
    ...['--matryoshka-dims', '32,16', '--batch-size', '4', '--epochs', '2', '--max-length', '12'],
  ]);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(summary['loss'], 'cached-mnrl (matryoshka 32,16)');
  assert.equal(summary['steps'], 4);
  assert.equal(summary['metric'], 'cosine_ndcg@10');
  for (const f of ['modules.json', '1_Pooling/config.json', 'model.safetensors', 'eval_results.json'])
    assert.ok(existsSync(join(out, f)), f);
});

test('bert train-reranker trains a cross-encoder; bad flags are usage errors naming the flag', () => {
  const out = join(tempDir('cli-ce'), 'model');
  const ok = bert([
    'train-reranker',
    ...['--model', join(FIX, 'cross_encoder'), '--train', join(DATA, 'reranker.jsonl'), '--output', out],
    ...['--eval', join(DATA, 'reranker.jsonl'), '--batch-size', '4', '--no-summary'],
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, '');
  assert.ok(existsSync(join(out, 'config_sentence_transformers.json')));
  const missing = bert(['train-reranker', '--model', out]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--train is required/);
  const badLr = bert(['train-embeddings', '--model', out, '--train', 'x', '--output', out, '--lr', 'fast']);
  assert.equal(badLr.status, 2);
  assert.match(badLr.stderr, /--lr/);
});
