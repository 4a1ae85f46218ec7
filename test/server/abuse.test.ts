// Hostile and heavy clients: 100 MB bodies, 10,000 texts, slow-loris, 1,000 concurrent connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createServer } from '../../src/server/index.js';
import { fakeModel, request } from './helpers.js';

const MB = 1 << 20;

/** Sends `head` then up to `bodyBytes` of filler as fast as the socket takes it; returns what came back. */
function floodBody(
  port: number,
  head: string,
  bodyBytes: number,
  chunked: boolean,
): Promise<{ response: string; written: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 0x61); // reused: the client itself never holds more than 64 KB
    const frame = chunked
      ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
      : chunk;
    let written = 0;
    let response = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`still connected after 20 s, ${written} bytes written, response so far: ${response.slice(0, 200)}`),
      );
    }, 20_000);
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', () => {}); // EPIPE / ECONNRESET once the server hangs up are the expected outcome
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ response, written, ms: Date.now() - started });
    });
    socket.on('connect', () => {
      socket.write(head);
      const pump = (): void => {
        while (!closed && written < bodyBytes) {
          written += chunk.length;
          if (!socket.write(frame)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}

test('a 100 MB body gets 413 and the server stops reading it (declared and chunked)', { timeout: 60_000 }, async () => {
  const model = fakeModel();
  const server = createServer({ ...model, maxBodyBytes: MB });
  const { port } = await server.listen();
  let peakExternal = 0;
  const baseline = process.memoryUsage().arrayBuffers;
  const sampler = setInterval(() => (peakExternal = Math.max(peakExternal, process.memoryUsage().arrayBuffers)), 5);
  try {
    const declared = await floodBody(
      port,
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * MB}\r\n\r\n`,
      100 * MB,
      false,
    );
    assert.match(declared.response, /^HTTP\/1\.1 413 /);
    assert.match(declared.response, /"code":"body_too_large"/);
    assert.ok(declared.written < 50 * MB, `the client got to write ${declared.written} bytes`);

    const chunked = await floodBody(
      port,
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      100 * MB,
      true,
    );
    assert.match(chunked.response, /^HTTP\/1\.1 413 /);
    assert.match(chunked.response, /exceeds the limit of 1048576 bytes/);
    assert.ok(chunked.written < 50 * MB, `the client got to write ${chunked.written} bytes`);
    clearInterval(sampler);
    // Buffered bodies would be external memory; 100 MB of it would show. Allow socket buffers and noise.
    assert.ok(
      peakExternal - baseline < 32 * MB,
      `external memory grew by ${((peakExternal - baseline) / MB).toFixed(1)} MB`,
    );
    assert.equal(model.batches.length, 0);
    assert.equal((await request(port, 'GET', '/health')).status, 200);
  } finally {
    clearInterval(sampler);
    await server.close();
  }
});

test(
  'Expect: 100-continue with an oversized body is refused before the body is sent; a small one is served',
  { timeout: 60_000 },
  async () => {
    const server = createServer({ ...fakeModel(), maxBodyBytes: MB });
    const { port } = await server.listen();
    const ask = (length: number, body: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let response = '';
        const timer = setTimeout(() => socket.destroy(new Error(`no answer; got ${response}`)), 5_000);
        socket.on('error', reject);
        socket.on('data', (d) => {
          response += d.toString('utf8');
          // Send the body only once the server said 100 Continue, as a well-behaved client does.
          if (response.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && body) {
            socket.write(body);
            body = '';
          }
          if (/\r\n\r\n[\s\S]*\}$/.test(response.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''))) {
            clearTimeout(timer);
            socket.destroy();
            resolve(response);
          }
        });
        socket.write(
          `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`,
        );
      });
    try {
      const refused = await ask(100 * MB, 'never sent');
      assert.match(refused, /^HTTP\/1\.1 413 /);
      assert.match(refused, /"code":"body_too_large"/);
      const body = '{"inputs":"abc"}';
      const served = await ask(body.length, body);
      assert.match(served, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      assert.match(served, /"label":"LEN_3"/);
    } finally {
      await server.close();
    }
  },
);

test('10,000 texts in one request are refused before reaching the model', { timeout: 60_000 }, async () => {
  const model = fakeModel();
  const server = createServer({ ...model, maxTexts: 256 });
  const { port } = await server.listen();
  try {
    const body = JSON.stringify({ inputs: Array.from({ length: 10_000 }, (_, i) => `text ${i}`) });
    const reply = await request(port, 'POST', '/predict', body);
    assert.equal(reply.status, 400);
    assert.match(reply.body, /"code":"too_many_texts".*10000 texts in one request; the limit is 256/);
    // Long enough texts make the same request too large in bytes instead: 413.
    const fat = JSON.stringify({ inputs: Array.from({ length: 10_000 }, () => 'word '.repeat(40)) });
    const fatReply = await request(port, 'POST', '/predict', fat);
    assert.equal(fatReply.status, 413);
    assert.equal(model.batches.length, 0);
  } finally {
    await server.close();
  }
});

/** Opens a raw connection that sends `parts` with `gapMs` between them and reports what the server answered. */
function slowClient(
  port: number,
  parts: string[],
  gapMs: number,
): Promise<{ response: string; ms: number; sent: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => socket.destroy(), 15_000);
    socket.on('data', (d) => (response += d.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ response, ms: Date.now() - started, sent });
    });
    const next = (): void => {
      if (sent < parts.length && !socket.destroyed) {
        socket.write(parts[sent++]!);
        timer = setTimeout(next, gapMs);
      }
    };
    socket.on('connect', next);
  });
}

test(
  'slow-loris clients get 408 and are disconnected; the server keeps serving others',
  { timeout: 60_000 },
  async () => {
    const server = createServer({ ...fakeModel(), requestTimeoutMs: 800, headersTimeoutMs: 400 });
    const { port } = await server.listen();
    try {
      const headerDrip = 'POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
      const body = '{"inputs": "slow body"}';
      const [headers, bodyDrip, silent] = await Promise.all([
        // Headers one byte every 50 ms: never complete within 400 ms.
        slowClient(port, headerDrip.split(''), 50),
        // Headers at once, then the body one byte every 100 ms: not complete within 800 ms.
        slowClient(
          port,
          [`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, ...body.split('')],
          100,
        ),
        // Connects and says nothing.
        slowClient(port, [], 0),
        // Meanwhile a normal client is served at once.
        request(port, 'POST', '/predict', '{"inputs":"fast"}').then((r) => assert.equal(r.status, 200)),
      ]);
      for (const [name, client] of Object.entries({ headers, bodyDrip })) {
        assert.match(client.response, /^HTTP\/1\.1 408 /, `${name}: ${client.response}`);
        assert.match(client.response, /"code":"request_timeout"/);
        assert.ok(client.ms < 5_000, `${name} held the connection for ${client.ms} ms`);
      }
      assert.ok(headers.sent < headerDrip.length, 'the header drip was cut off before it finished');
      assert.ok(bodyDrip.sent < body.length + 1, 'the body drip was cut off before it finished');
      assert.ok(silent.ms < 5_000, `a silent connection stayed open ${silent.ms} ms`);
      assert.equal((await request(port, 'GET', '/health')).status, 200);
    } finally {
      await server.close();
    }
  },
);

test('1,000 concurrent connections are all answered and batched', { timeout: 60_000 }, async () => {
  // The model holds its first batch until all 1,000 connections are open at once (or 15 s pass).
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fallback = setTimeout(() => release(), 15_000);
  const model = fakeModel(2);
  const server = createServer({
    predictBatch: async (texts: string[]) => {
      await gate;
      return model.predictBatch(texts);
    },
    maxBatch: 64,
    maxWaitMs: 5,
    maxQueue: 4096,
  });
  const { port } = await server.listen();
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let peakConnections = 0;
  const sampler = setInterval(() => {
    server.http.getConnections((_e, n) => {
      peakConnections = Math.max(peakConnections, n);
      if (n >= 1000) release();
    });
  }, 5);
  try {
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        request(port, 'POST', '/predict', JSON.stringify({ inputs: 'z'.repeat(i % 50) }), { agent, timeoutMs: 30_000 }),
      ),
    );
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { label: `LEN_${i % 50}`, score: 1 });
    });
    assert.equal(model.batches.flat().length, 1000);
    assert.ok(model.batches.length < 1000 / 4, `1000 texts took ${model.batches.length} model calls`);
    assert.equal(peakConnections, 1000);
    // With a small queue the same burst is partly refused with 503, never dropped, never a crash.
    const small = createServer({ ...fakeModel(20), maxBatch: 8, maxQueue: 50 });
    const { port: smallPort } = await small.listen();
    try {
      const burst = await Promise.all(
        Array.from({ length: 1000 }, () =>
          request(smallPort, 'POST', '/predict', '{"inputs":"q"}', { agent, timeoutMs: 30_000 }),
        ),
      );
      const counts = new Map<number, number>();
      burst.forEach((r) => counts.set(r.status, (counts.get(r.status) ?? 0) + 1));
      assert.deepEqual([...counts.keys()].sort(), [200, 503], JSON.stringify([...counts]));
      assert.ok((counts.get(200) ?? 0) >= 50);
      const metrics = await request(smallPort, 'GET', '/metrics');
      assert.match(metrics.body, new RegExp(`code="503"\\} ${counts.get(503)}$`, 'm'));
    } finally {
      await small.close();
    }
    assert.equal((await request(port, 'GET', '/health')).status, 200);
  } finally {
    clearTimeout(fallback);
    clearInterval(sampler);
    agent.destroy();
    await server.close();
  }
});
