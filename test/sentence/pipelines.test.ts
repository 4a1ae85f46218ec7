// The pipelines over sentence-transformers folders: feature-extraction applies the folder's modules, and
// text-classification scores {text, text_pair} inputs as the cross-encoder does (fixtures from sentence-transformers).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pipeline } from '../../src/pipelines/index.js';

const DIR = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  texts: string[];
  models: Record<string, { embeddings: number[][]; embeddings_normalized: number[][] }>;
  cross_encoders: { query: string; documents: string[]; models: Record<string, { scores: number[] }> };
};

function maxDiff(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i]!.length, `row ${i} dimensions`);
    row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - b[i]![k]!))));
  });
  return worst;
}

test('feature-extraction on a sentence-transformers folder gives its sentence embeddings', async () => {
  for (const name of ['multi_legacy', 'cls_dense_tanh']) {
    const extract = await pipeline('feature-extraction', join(DIR, name), { warn: () => {} });
    const out = (await extract(expected.texts, { returnTensor: false })) as number[][];
    assert.ok(maxDiff(out, expected.models[name]!.embeddings) <= 1e-4, name);
    const normalized = (await extract(expected.texts, { normalize: true, returnTensor: false })) as number[][];
    assert.ok(maxDiff(normalized, expected.models[name]!.embeddings_normalized) <= 1e-4, `${name} normalized`);
    // Asking for token vectors still gives them.
    const tokens = (await extract('a man', { pooling: 'none', returnTensor: false })) as number[][];
    assert.ok(Array.isArray(tokens[0]) && tokens[0].length === 32);
  }
});

test('text-classification takes {text, text_pair} and scores like the cross-encoder', async () => {
  const { query, documents, models } = expected.cross_encoders;
  const classify = await pipeline('text-classification', join(DIR, 'cross_encoder'), { warn: () => {} });
  const out = await classify(documents.map((d) => ({ text: query, text_pair: d })));
  (out as { score: number }[]).forEach((r, i) =>
    assert.ok(Math.abs(r.score - models['cross_encoder']!.scores[i]!) <= 1e-4, `pair ${i}`),
  );
});
