// The embedding / retrieval / reranking evaluators against sentence-transformers' own evaluators run on the same
// fixture models (test/fixtures/sentence-train/evaluators.json, scripts/fixtures/sentence_evaluator_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import {
  crossEncoderScorer,
  evaluateEmbeddingSimilarity,
  evaluateReranking,
  evaluateRetrieval,
  retrievalMetrics,
  type RerankingSample,
  type RetrievalEvalData,
  type SimilarityEvalData,
} from '../../src/train/evaluators/index.js';

const FIX = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/sentence-train/evaluators.json', import.meta.url), 'utf8'),
) as {
  similarity: SimilarityEvalData;
  retrieval: RetrievalEvalData;
  reranking: RerankingSample[];
  expected: Record<string, Record<string, Record<string, number>>>;
};

function assertMetrics(actual: Record<string, number>, expected: Record<string, number>, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: metric names`);
  for (const [k, v] of Object.entries(expected))
    assert.ok(Math.abs(actual[k]! - v) <= 1e-6, `${what} ${k}: ${actual[k]} vs sentence-transformers ${v}`);
}

for (const name of ['mean_legacy', 'cls_dense_tanh']) {
  test(`${name}: similarity and retrieval metrics equal sentence-transformers' evaluators`, async () => {
    const model = await SentenceTransformer.fromPretrained(FIX + name, { warn: () => {} });
    const expected = fixture.expected[name]!;
    assertMetrics(evaluateEmbeddingSimilarity(model, fixture.similarity), expected['similarity']!, name);
    assertMetrics(evaluateRetrieval(model, fixture.retrieval), expected['retrieval']!, name);
  });
}

test("cross-encoder reranking metrics equal sentence-transformers' CrossEncoderRerankingEvaluator", async () => {
  const ce = await CrossEncoder.fromPretrained(FIX + 'cross_encoder', { warn: () => {} });
  const metrics = evaluateReranking(crossEncoderScorer(ce), fixture.reranking);
  assertMetrics(metrics, fixture.expected['cross_encoder']!['reranking']!, 'cross_encoder');
});

test('retrieval metrics of a hand-ranked case (two relevant documents, hits at ranks 2 and 4)', () => {
  const m = retrievalMetrics([['x', 'a', 'y', 'b']], [new Set(['a', 'b'])], {
    accuracyAtK: [1, 3],
    precisionRecallAtK: [3],
    mrrAtK: [10],
    ndcgAtK: [10],
    mapAtK: [100],
  });
  const idcg = 1 + 1 / Math.log2(3);
  assert.deepEqual(m, {
    'cosine_accuracy@1': 0,
    'cosine_accuracy@3': 1,
    'cosine_precision@3': 1 / 3,
    'cosine_recall@3': 0.5,
    'cosine_mrr@10': 0.5,
    'cosine_ndcg@10': (1 / Math.log2(3) + 1 / Math.log2(5)) / idcg,
    'cosine_map@100': (1 / 2 + 2 / 4) / 2,
  });
});

test('evaluators refuse empty or misaligned data', async () => {
  const model = await SentenceTransformer.fromPretrained(FIX + 'mean_legacy', { warn: () => {} });
  assert.throws(
    () => evaluateEmbeddingSimilarity(model, { sentences1: ['a', 'b'], sentences2: ['a'], scores: [1, 0] }),
    /at least 2 pairs with one score each/,
  );
  assert.throws(
    () => evaluateRetrieval(model, { queries: { q: 'a' }, corpus: { d: 'b' }, relevantDocs: {} }),
    /query "q" has no relevant documents/,
  );
  assert.throws(() => evaluateReranking(() => [], []), /no samples/);
});
