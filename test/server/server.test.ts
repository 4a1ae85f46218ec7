// Server behaviour with a fake model: routes, request validation, JSON errors, dynamic batching, queue limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type BertServer } from '../../src/server/index.js';
import { fakeModel, request } from './helpers.js';
import { at } from '../helpers/at.js';

async function start<R>(options: Parameters<typeof createServer<R>>[0]): Promise<{ server: BertServer; port: number }> {
  const server = createServer(options);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

test('routes: health, metrics, 404, 405', { timeout: 60_000 }, async () => {
  const { server, port } = await start({ ...fakeModel(), info: { task: 'text-classification' } });
  try {
    const health = await request(port, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: 'ok', queueDepth: 0, inFlightBatches: 0, task: 'text-classification' });
    await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'abc' }));
    const metrics = await request(port, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers['content-type'] ?? '', /text\/plain/);
    assert.match(metrics.body, /^bert_requests_total\{route="\/predict",code="200"\} 1$/m);
    assert.match(metrics.body, /^bert_request_duration_seconds_count\{route="\/predict"\} 1$/m);
    assert.match(metrics.body, /^bert_batch_size_bucket\{route="\/predict",le="1"\} 1$/m);
    assert.match(metrics.body, /^bert_queue_depth 0$/m);
    const missing = await request(port, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.equal((missing.json() as { error: { code: string } }).error.code, 'not_found');
    const wrongMethod = await request(port, 'GET', '/predict');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    assert.equal((await request(port, 'DELETE', '/health')).status, 405);
  } finally {
    await server.close();
  }
});

test('predict: one text, many texts, and the text/texts aliases', { timeout: 60_000 }, async () => {
  const { server, port } = await start(fakeModel());
  try {
    const one = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'hello' }));
    assert.equal(one.status, 200);
    assert.deepEqual(one.json(), { label: 'LEN_5', score: 1 });
    const many = await request(port, 'POST', '/predict', JSON.stringify({ inputs: ['a', 'bb', 'ccc'] }));
    assert.deepEqual(
      many.json(),
      [1, 2, 3].map((n) => ({ label: `LEN_${n}`, score: 1 })),
    );
    assert.deepEqual((await request(port, 'POST', '/predict', '{"text":"xy"}')).json(), { label: 'LEN_2', score: 1 });
    assert.deepEqual((await request(port, 'POST', '/predict', '{"texts":["xy"]}')).json(), [
      { label: 'LEN_2', score: 1 },
    ]);
    // Multi-byte UTF-8 arrives intact (length counted in UTF-16 code units by the fake model).
    assert.deepEqual((await request(port, 'POST', '/predict', '{"inputs":"é日"}')).json(), {
      label: 'LEN_2',
      score: 1,
    });
  } finally {
    await server.close();
  }
});

test('bad requests get 400 with a specific JSON error code', { timeout: 60_000 }, async () => {
  const model = fakeModel();
  const { server, port } = await start({ ...model, maxTexts: 5 });
  const cases: [string | Buffer, string][] = [
    ['{"inputs": "unterminated', 'invalid_json'],
    ['', 'invalid_json'],
    ['[1,2]', 'invalid_request'],
    ['"text"', 'invalid_request'],
    ['null', 'invalid_request'],
    ['{}', 'invalid_request'],
    ['{"inputs": 3}', 'invalid_request'],
    ['{"inputs": ["a", 3]}', 'invalid_request'],
    ['{"inputs": []}', 'invalid_request'],
    ['{"inputs": "a", "text": "b"}', 'invalid_request'],
    ['{"inputs": {"text": "a"}}', 'invalid_request'],
    [JSON.stringify({ inputs: ['a', 'b', 'c', 'd', 'e', 'f'] }), 'too_many_texts'],
    // Malformed UTF-8: a lone continuation byte, an overlong encoding, a truncated sequence, a UTF-16 surrogate.
    [Buffer.from([0x7b, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x73, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d]), 'invalid_utf8'],
    [Buffer.concat([Buffer.from('{"inputs":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 'invalid_utf8'],
    [Buffer.concat([Buffer.from('{"inputs":"'), Buffer.from([0xe6, 0x97]), Buffer.from('"}')]), 'invalid_utf8'],
    [Buffer.concat([Buffer.from('{"inputs":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 'invalid_utf8'],
    // Valid UTF-8 JSON whose escapes make a lone surrogate: not text either.
    ['{"inputs": "abc\\ud800"}', 'invalid_text'],
    ['{"inputs": ["ok", "\\udc00x"]}', 'invalid_text'],
  ];
  try {
    for (const [body, code] of cases) {
      const reply = await request(port, 'POST', '/predict', body);
      assert.equal(reply.status, 400, `status for ${String(body)}`);
      const error = (reply.json() as { error: { code: string; message: string } }).error;
      assert.equal(error.code, code, `code for ${String(body)}: ${error.message}`);
      assert.ok(error.message.length > 10);
    }
    assert.equal(model.batches.length, 0, 'no bad request reached the model');
    assert.equal((await request(port, 'GET', '/health')).status, 200);
  } finally {
    await server.close();
  }
});

test(
  'concurrent requests are batched together, each request gets its own results in order',
  { timeout: 60_000 },
  async () => {
    const model = fakeModel(5);
    const { server, port } = await start({ ...model, maxBatch: 8, maxWaitMs: 100 });
    try {
      const texts = Array.from({ length: 20 }, (_, i) => 'x'.repeat(i + 1));
      const replies = await Promise.all(
        texts.map((t) => request(port, 'POST', '/predict', JSON.stringify({ inputs: t }))),
      );
      replies.forEach((reply, i) => assert.deepEqual(reply.json(), { label: `LEN_${i + 1}`, score: 1 }));
      assert.ok(
        model.batches.every((b) => b.length <= 8),
        `batch sizes ${model.batches.map((b) => b.length)}`,
      );
      assert.equal(model.batches.flat().length, 20);
      assert.ok(model.batches.length <= 4, `20 texts took ${model.batches.length} model calls`);
      // A request with more texts than maxBatch is split over batches and reassembled in order.
      model.batches.length = 0;
      const big = Array.from({ length: 19 }, (_, i) => 'y'.repeat(i));
      const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: big }));
      assert.deepEqual(
        reply.json(),
        big.map((t) => ({ label: `LEN_${t.length}`, score: 1 })),
      );
      assert.deepEqual(
        model.batches.map((b) => b.length),
        [8, 8, 3],
      );
    } finally {
      await server.close();
    }
  },
);

test('a full queue answers 503 with Retry-After; queued requests still complete', { timeout: 60_000 }, async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  const { server, port } = await start({
    predictBatch: async (texts: string[]) => {
      calls++;
      await gate;
      return texts.map((t) => t.length);
    },
    maxBatch: 1,
    maxWaitMs: 0,
    maxQueue: 3,
    retryAfterSeconds: 2,
  });
  try {
    // One text runs (blocked on the gate), three wait in the queue, the fifth does not fit.
    const admitted = [1, 2, 3, 4].map((n) =>
      request(port, 'POST', '/predict', JSON.stringify({ inputs: 'a'.repeat(n) })),
    );
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    const metricsBefore = await request(port, 'GET', '/metrics');
    const depth = Number(/^bert_queue_depth (\d+)$/m.exec(metricsBefore.body)?.[1]);
    const refused = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'b' }));
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.headers['retry-after'], '2');
    assert.equal((refused.json() as { error: { code: string } }).error.code, 'queue_full');
    // Two texts in one request are refused together even though one would fit... there is no room at all here.
    assert.equal((await request(port, 'POST', '/predict', JSON.stringify({ inputs: ['c', 'd'] }))).status, 503);
    release();
    const done = await Promise.all(admitted);
    assert.deepEqual(
      done.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.deepEqual(
      done.map((r) => r.json()),
      [1, 2, 3, 4],
    );
    assert.equal(depth, 3);
  } finally {
    await server.close();
  }
});

test('a failing model answers 500 to its batch only and the server stays up', { timeout: 60_000 }, async () => {
  let fail = true;
  const { server, port } = await start({
    predictBatch: async (texts: string[]) => {
      if (fail) throw new Error('out of memory in layer 3');
      return texts.map(() => 'ok');
    },
    maxWaitMs: 0,
  });
  try {
    const broken = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'a' }));
    assert.equal(broken.status, 500);
    const error = (broken.json() as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'inference_failed');
    assert.match(error.message, /out of memory in layer 3/);
    fail = false;
    assert.deepEqual((await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'a' }))).json(), 'ok');
  } finally {
    await server.close();
  }
});

test(
  'one text that fails the model fails only its own request, not those batched with it',
  { timeout: 60_000 },
  async () => {
    const seen: string[][] = [];
    const { server, port } = await start({
      predictBatch: async (texts: string[]) => {
        seen.push(texts);
        if (texts.includes('poison')) throw new Error('the tokenizer refused "poison"');
        return texts.map((t) => t.length);
      },
      maxBatch: 8,
      maxWaitMs: 50,
    });
    try {
      const replies = await Promise.all(
        ['a', 'poison', 'ccc'].map((t) => request(port, 'POST', '/predict', JSON.stringify({ inputs: t }))),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 500, 200],
      );
      assert.deepEqual([at(replies, 0).json(), at(replies, 2).json()], [1, 3]);
      assert.match(at(replies, 1).body, /the tokenizer refused/);
      assert.deepEqual(seen[0], ['a', 'poison', 'ccc'], 'the three texts were batched together first');
    } finally {
      await server.close();
    }
  },
);

test('an error the model flags as caused by the input is a 400, not a 500', { timeout: 60_000 }, async () => {
  const { server, port } = await start({
    predictBatch: async (texts: string[]) => {
      if (texts.some((t) => !t.includes('[MASK]'))) {
        throw Object.assign(new Error('no mask token ([MASK]) found in the input'), { invalidInput: true });
      }
      return texts.map(() => 'filled');
    },
    maxWaitMs: 30,
  });
  try {
    const send = (text: string): ReturnType<typeof request> =>
      request(port, 'POST', '/predict', JSON.stringify({ inputs: text }));
    const [good, bad] = await Promise.all([send('a [MASK] b'), send('no mask')]);
    assert.equal(good.status, 200);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /"code":"invalid_input".*no mask token/);
  } finally {
    await server.close();
  }
});

test(
  'a model returning the wrong number of results is an error, not a misaligned answer',
  { timeout: 60_000 },
  async () => {
    const { server, port } = await start({ predictBatch: async (texts: string[]) => texts.slice(1), maxWaitMs: 0 });
    try {
      const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: ['a', 'b'] }));
      assert.equal(reply.status, 500);
      // The batch of two fails, then each text alone fails too (0 results for 1 text).
      assert.match(reply.body, /returned 0 results for a batch of 1 texts/);
    } finally {
      await server.close();
    }
  },
);
