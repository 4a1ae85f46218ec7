// POST /embed and POST /rerank of a model server on the sentence-transformers fixtures: the answers equal the
// library's encode() / rank() (and sentence-transformers' own outputs), requests are batched together, parameters
// are validated, and a model that cannot serve a route is refused with a message saying what it can serve.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import { createModelServer, type ModelServer } from '../../src/server/model-server.js';
import { request } from './helpers.js';

const DIR = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  texts: string[];
  models: Record<string, { embeddings: number[][]; embeddings_normalized: number[][] }>;
  cross_encoders: { query: string; documents: string[]; models: Record<string, { scores: number[] }> };
};
const { texts } = expected;

/** Largest |a - b| over two lists of vectors of equal shape. */
function maxDiff(a: readonly (readonly number[])[], b: readonly ArrayLike<number>[]): number {
  assert.equal(a.length, b.length, 'rows');
  let worst = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i]!.length, `row ${i} dimensions`);
    row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - b[i]![k]!))));
  });
  return worst;
}

async function serve(
  model: string,
  options: Partial<Parameters<typeof createModelServer>[0]> = {},
): Promise<{ server: ModelServer; port: number }> {
  const server = await createModelServer({ model, ...options });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

const post = (port: number, path: string, body: unknown) => request(port, 'POST', path, JSON.stringify(body));

test('POST /embed answers as SentenceTransformer.encode, with its options, batching concurrent requests', async () => {
  const folder = join(DIR, 'cls_dense_tanh'); // cls pooling, Dense tanh, Normalize, prompts with a default one
  const { server, port } = await serve(folder, { maxWaitMs: 200, maxBatch: 64 });
  try {
    assert.equal(server.task, 'sentence-embedding'); // chosen from the folder (modules.json with a Pooling module)
    const model = await SentenceTransformer.fromPretrained(folder, { warn: () => {} });
    const cases: [Record<string, unknown> | undefined, Parameters<typeof model.encode>[1]][] = [
      [undefined, {}],
      [
        { normalize: true, prompt_name: 'passage' },
        { normalize: true, promptName: 'passage' },
      ],
      [
        { prompt: 'custom: ', truncateDim: 8 },
        { prompt: 'custom: ', truncateDim: 8 },
      ],
      [
        { truncate_dim: 5, normalize: true },
        { truncateDim: 5, normalize: true },
      ],
    ];
    for (const [parameters, options] of cases) {
      const reply = await post(port, '/embed', { inputs: texts, ...(parameters ? { parameters } : {}) });
      assert.equal(reply.status, 200, reply.body);
      const got = reply.json() as number[][];
      assert.ok(maxDiff(got, model.encode(texts, options)) <= 1e-5, JSON.stringify(parameters));
    }
    // sentence-transformers' own embeddings of the texts (its default prompt "query: " applied).
    const plain = (await post(port, '/embed', { inputs: texts })).json() as number[][];
    assert.ok(maxDiff(plain, expected.models['cls_dense_tanh']!.embeddings) <= 1e-4);
    // One text gives one vector, not a list of them.
    const one = (await post(port, '/embed', { inputs: texts[0] })).json() as number[];
    assert.ok(maxDiff([one], model.encode([texts[0]!])) <= 1e-5);

    // Concurrent single-text requests share model calls (the batcher of /predict, one per route).
    const before = await request(port, 'GET', '/metrics');
    const count = (body: string, name: string): number =>
      Number(new RegExp(`^${name}\\{route="/embed"\\} (\\S+)$`, 'm').exec(body)?.[1]);
    const replies = await Promise.all(texts.map((t) => post(port, '/embed', { inputs: t })));
    const after = await request(port, 'GET', '/metrics');
    const batches = count(after.body, 'bert_batch_size_count') - count(before.body, 'bert_batch_size_count');
    assert.ok(batches < texts.length, `${texts.length} requests ran in ${batches} model calls`);
    assert.equal(count(after.body, 'bert_texts_total') - count(before.body, 'bert_texts_total'), texts.length);
    const each = replies.map((r) => r.json() as number[]);
    assert.ok(maxDiff(each, model.encode(texts)) <= 1e-5);
    assert.match(after.body, /^bert_requests_total\{route="\/embed",code="200"\} \d+$/m);
    assert.match(after.body, /^bert_request_duration_seconds_count\{route="\/embed"\} \d+$/m);

    // Bad parameters and inputs are 400s that say what is wrong; other routes are 404s naming the served one.
    const error = async (path: string, body: unknown): Promise<[number, string, string]> => {
      const r = await post(port, path, body);
      const e = (r.json() as { error: { code: string; message: string } }).error;
      return [r.status, e.code, e.message];
    };
    const [s1, c1, m1] = await error('/embed', { inputs: 'x', parameters: { prompt_name: 'nope' } });
    assert.deepEqual([s1, c1], [400, 'invalid_input']);
    assert.match(m1, /promptName "nope" is not one of this model's prompts \(document, passage, query\)/);
    const [s2, c2, m2] = await error('/embed', { inputs: 'x', parameters: { truncate_dim: 0 } });
    assert.deepEqual([s2, c2], [400, 'invalid_parameters']);
    assert.match(m2, /"truncate_dim" must be a positive integer/);
    const [s3, , m3] = await error('/embed', { inputs: 'x', parameters: { top_k: 1 } });
    assert.equal(s3, 400);
    assert.match(m3, /known: normalize, prompt_name, prompt, truncate_dim/);
    assert.equal((await error('/embed', { inputs: [1] }))[0], 400);
    const [s4, c4, m4] = await error('/predict', { inputs: 'x' });
    assert.deepEqual([s4, c4], [404, 'not_found']);
    assert.match(m4, /serves POST \/embed, GET \/health, GET \/metrics/);
  } finally {
    await server.close();
  }
});

test('POST /rerank answers as CrossEncoder.rank, with topK and returnDocuments', async () => {
  const { query, documents, models } = expected.cross_encoders;
  for (const name of ['cross_encoder', 'cross_encoder_identity']) {
    const folder = join(DIR, name);
    const { server, port } = await serve(folder); // a cross-encoder folder serves /rerank by default
    try {
      assert.equal(server.task, 'text-ranking', name);
      const reranker = await CrossEncoder.fromPretrained(folder, { warn: () => {} });
      const check = async (parameters: Record<string, unknown> | undefined, options: object): Promise<void> => {
        const reply = await post(port, '/rerank', { query, documents, ...(parameters ? { parameters } : {}) });
        assert.equal(reply.status, 200, reply.body);
        const got = reply.json() as { corpus_id: number; score: number; text?: string }[];
        const want = reranker.rank(query, documents, options);
        assert.deepEqual(
          got.map((r) => [r.corpus_id, r.text]),
          want.map((r) => [r.corpusId, r.text]),
        );
        got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i]!.score) <= 1e-6, `${name} score ${i}`));
        // And sentence-transformers' scores (its activation: sigmoid, or Identity from the legacy config.json).
        got.forEach((r) => assert.ok(Math.abs(r.score - models[name]!.scores[r.corpus_id]!) <= 1e-4));
      };
      await check(undefined, {});
      await check({ top_k: 2, return_documents: true }, { topK: 2, returnDocuments: true });
      await check({ topK: null, returnDocuments: false }, {});
      // Pairs of concurrent requests are scored in shared batches and each request gets its own ranking.
      const replies = await Promise.all(
        documents.map((_, i) => post(port, '/rerank', { query, documents: documents.slice(i) })),
      );
      replies.forEach((r, i) =>
        assert.deepEqual(
          (r.json() as { corpus_id: number }[]).map((x) => x.corpus_id),
          reranker.rank(query, documents.slice(i)).map((x) => x.corpusId),
        ),
      );
      const bad = [
        { query, documents: [] },
        { query: 1, documents },
        { query, documents: ['a', 2] },
        { query, documents, parameters: { top_k: 0 } },
        { query, documents, extra: 1 },
        { inputs: 'x' },
      ];
      for (const body of bad) assert.equal((await post(port, '/rerank', body)).status, 400, JSON.stringify(body));
    } finally {
      await server.close();
    }
  }
});

test('a model that cannot serve the route is refused, naming the task it can serve', async () => {
  const ce = join(DIR, 'cross_encoder');
  await assert.rejects(
    createModelServer({ model: ce, task: 'sentence-embedding' }),
    /is a cross-encoder, which cannot serve POST \/embed; serve it with task text-ranking/,
  );
  await assert.rejects(
    createModelServer({ model: join(DIR, 'max'), task: 'text-ranking' }),
    /sentence-transformers embedder, which cannot serve POST \/rerank; serve it with task sentence-embedding/,
  );
  await assert.rejects(
    createModelServer({ model: join(DIR, 'cross_encoder3'), task: 'text-ranking' }),
    /has 3 labels; ranking needs a cross-encoder with one/,
  );
  const plain = mkdtempSync(join(tmpdir(), 'bert-plain-'));
  try {
    // The transformer of a sentence-transformers folder alone: a BertModel without a classifier.
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      cpSync(join(DIR, 'max', f), join(plain, f));
    await assert.rejects(
      createModelServer({ model: plain, task: 'sentence-embedding' }),
      /cannot serve POST \/embed: it is not a sentence-transformers folder \(no modules.json\)/,
    );
    await assert.rejects(createModelServer({ model: plain, task: 'text-ranking' }), /no trained classifier/);
  } finally {
    rmSync(plain, { recursive: true, force: true });
  }
});

test('POST /predict of text-classification takes {text, text_pair} inputs and scores as sentence-transformers', async () => {
  const { query, documents, models } = expected.cross_encoders;
  const { server, port } = await serve(join(DIR, 'cross_encoder'), { task: 'text-classification' });
  try {
    const inputs = documents.map((d) => ({ text: query, text_pair: d }));
    const reply = await post(port, '/predict', { inputs });
    assert.equal(reply.status, 200, reply.body);
    const got = reply.json() as { score: number }[];
    got.forEach((r, i) => assert.ok(Math.abs(r.score - models['cross_encoder']!.scores[i]!) <= 1e-4, `pair ${i}`));
    // A string is still one text; a pair with an unknown key or a non-string is a 400 naming the shape.
    assert.equal((await post(port, '/predict', { inputs: query })).status, 200);
    for (const bad of [{ text: query, pair: 'x' }, { text: 1 }, { text_pair: 'x' }]) {
      const r = await post(port, '/predict', { inputs: bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body, /must be a string or an object \{\\"text\\": string, \\"text_pair\\"\?: string\}/);
    }
  } finally {
    await server.close();
  }
});
