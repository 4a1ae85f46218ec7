// Request "parameters" (validated, never ignored, batched apart), list answers in the pipeline's shape, and /metrics
// label sets that unknown paths cannot grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, taskParameters, type BertServer, type CallOptions } from '../../src/server/index.js';
import { pipeline } from '../../src/pipelines/index.js';
import { request } from './helpers.js';

const TINY = '../shared/fixtures/hf-tiny';

async function start<R>(options: Parameters<typeof createServer<R>>[0]): Promise<{ server: BertServer; port: number }> {
  const server = createServer(options);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

const post = (port: number, body: unknown) => request(port, 'POST', '/predict', JSON.stringify(body));
const errorOf = (reply: { json: () => unknown }) =>
  (reply.json() as { error: { code: string; message: string } }).error;

test('parameters: validated with HF names (and camelCase), unknown ones refused naming the known', async () => {
  const calls: { texts: string[]; options: CallOptions | undefined }[] = [];
  const { server, port } = await start<{ label: string; score: number }[]>({
    predictBatch: async (texts: string[], options?: CallOptions) => {
      calls.push({ texts, options });
      return texts.map(() => [{ label: 'A', score: 1 }]);
    },
    parameters: taskParameters('text-classification'),
  });
  try {
    assert.equal((await post(port, { inputs: 'x', parameters: { top_k: 2 } })).status, 200);
    assert.deepEqual(calls.at(-1)?.options, { topK: 2 });
    assert.equal((await post(port, { inputs: 'x', parameters: { functionToApply: 'sigmoid' } })).status, 200);
    assert.deepEqual(calls.at(-1)?.options, { functionToApply: 'sigmoid' });
    assert.equal((await post(port, { inputs: 'x', parameters: { top_k: null } })).status, 200);
    assert.deepEqual(calls.at(-1)?.options, { topK: null });
    const before = calls.length;

    const unknown = await post(port, { inputs: 'x', parameters: { topk: 2 } });
    assert.equal(unknown.status, 400);
    assert.equal(errorOf(unknown).code, 'invalid_parameters');
    assert.match(errorOf(unknown).message, /unknown parameter "topk".*known: top_k, function_to_apply/);
    const badValue = await post(port, { inputs: 'x', parameters: { top_k: 0 } });
    assert.equal(badValue.status, 400);
    assert.match(errorOf(badValue).message, /"top_k" must be a positive integer or null, got 0/);
    const twice = await post(port, { inputs: 'x', parameters: { top_k: 1, topK: 2 } });
    assert.equal(twice.status, 400);
    const notObject = await post(port, { inputs: 'x', parameters: [1] });
    assert.equal(notObject.status, 400);
    assert.match(errorOf(notObject).message, /"parameters" must be an object, got an array/);
    const unknownKey = await post(port, { inputs: 'x', options: { wait_for_model: true } });
    assert.equal(unknownKey.status, 400);
    assert.match(errorOf(unknownKey).message, /unknown key "options".*"parameters"/);
    assert.equal(calls.length, before, 'a refused request reached the model');
  } finally {
    await server.close();
  }
});

test('parameters: a server without them refuses any', async () => {
  const { server, port } = await start({ predictBatch: async (texts: string[]) => texts.map(() => 1) });
  try {
    const reply = await post(port, { inputs: 'x', parameters: { top_k: 2 } });
    assert.equal(reply.status, 400);
    assert.match(errorOf(reply).message, /accepts no "parameters"/);
    assert.equal((await post(port, { inputs: 'x', parameters: {} })).status, 200);
  } finally {
    await server.close();
  }
});

test('parameters: texts with different parameters never share a batch', async () => {
  const calls: { texts: string[]; options: CallOptions | undefined }[] = [];
  const { server, port } = await start({
    predictBatch: async (texts: string[], options?: CallOptions) => {
      calls.push({ texts, options });
      return texts.map((t) => `${t}:${JSON.stringify(options ?? null)}`);
    },
    parameters: taskParameters('fill-mask'),
    maxWaitMs: 50,
    maxBatch: 16,
  });
  try {
    const replies = await Promise.all([
      post(port, { inputs: ['a', 'b'], parameters: { top_k: 2 } }),
      post(port, { inputs: 'c', parameters: { top_k: 3 } }),
      post(port, { inputs: 'd', parameters: { topK: 2 } }),
      post(port, { inputs: 'e' }),
    ]);
    assert.deepEqual(
      replies.map((r) => r.json()),
      [['a:{"topK":2}', 'b:{"topK":2}'], 'c:{"topK":3}', 'd:{"topK":2}', 'e:null'],
    );
    // Each batch holds only texts whose request asked for the options it ran with.
    const asked: Record<string, string> = {
      a: '{"topK":2}',
      b: '{"topK":2}',
      c: '{"topK":3}',
      d: '{"topK":2}',
      e: 'null',
    };
    for (const call of calls) {
      assert.ok(
        call.texts.every((t) => asked[t] === JSON.stringify(call.options ?? null)),
        `batch ${JSON.stringify(call)} mixes parameters`,
      );
    }
    assert.ok(calls.length >= 3, `expected separate batches, got ${JSON.stringify(calls)}`);
  } finally {
    await server.close();
  }
});

test('a list request gets what the pipeline returns for the list', { timeout: 60_000 }, async () => {
  const pipe = await pipeline('text-classification', `${TINY}/seq_cls3`, {
    tokenizer: `${TINY}/tokenizer`,
    warn: () => {},
  });
  const { server, port } = await start({
    predictBatch: (texts: string[], options?: CallOptions) => pipe.predictEach(texts, options),
    parameters: taskParameters('text-classification'),
  });
  const texts = ['a good film', 'a bad one'];
  try {
    // transformers.js and HF: one {label, score} per text for top_k 1 (flat), a list per text otherwise.
    const flat = (await post(port, { inputs: texts })).json() as { label: string }[];
    assert.ok(
      flat.every((r) => !Array.isArray(r) && typeof r.label === 'string'),
      JSON.stringify(flat),
    );
    assert.deepEqual(flat, JSON.parse(JSON.stringify(await pipe(texts))));
    const two = (await post(port, { inputs: texts, parameters: { top_k: 2 } })).json() as unknown[][];
    assert.ok(two.every((r) => Array.isArray(r) && r.length === 2));
    assert.deepEqual(two, JSON.parse(JSON.stringify(await pipe(texts, { topK: 2 }))));
    const single = (await post(port, { inputs: texts[0] })).json();
    assert.deepEqual(single, JSON.parse(JSON.stringify(await pipe(texts[0]!))));
  } finally {
    await server.close();
  }
});

test('/metrics: unknown paths share one "other" series', async () => {
  const { server, port } = await start({ predictBatch: async (texts: string[]) => texts.map(() => 1) });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await request(port, 'GET', `/probe-${i}`)).status, 404);
    await request(port, 'GET', '/health');
    const body = (await request(port, 'GET', '/metrics')).body;
    const series = body.split('\n').filter((l) => l.startsWith('bert_requests_total{'));
    assert.deepEqual(series, [
      'bert_requests_total{route="/health",code="200"} 1',
      'bert_requests_total{route="other",code="404"} 20',
    ]);
    assert.doesNotMatch(body, /probe/);
  } finally {
    await server.close();
  }
});
