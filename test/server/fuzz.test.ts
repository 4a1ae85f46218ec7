// Seeded fuzzing of POST /predict: random bytes, random JSON and mutated valid bodies never crash the server,
// never reach the model unless valid, and always get a JSON answer with a 200, 400 or 413 status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createServer } from '../../src/server/index.js';
import { fakeModel, request } from './helpers.js';

test(
  'random request bodies get 200 / 400 / 413 with a JSON body, and the server stays up',
  { timeout: 60_000 },
  async () => {
    const model = fakeModel();
    const server = createServer({ ...model, maxBodyBytes: 4096, maxTexts: 8, maxWaitMs: 0 });
    const { port } = await server.listen();
    const seen = new Map<number, number>();
    const valid = fc.oneof(
      fc.record({ inputs: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 10 })) }),
      fc.record({ text: fc.string() }),
      fc.record({ texts: fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 10 }) }),
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.json().map((j) => Buffer.from(j)),
      fc.anything().map((v) => Buffer.from(JSON.stringify(v) ?? 'undefined')),
      valid.map((v) => Buffer.from(JSON.stringify(v))),
      // A valid body with one byte flipped or cut short.
      fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, byte]) => {
        const b = Buffer.from(JSON.stringify(v));
        if (b.length > 0) b[at % b.length] = byte;
        return b.subarray(0, Math.max(1, b.length - (at % 3)));
      }),
      fc.string({ minLength: 4000, maxLength: 5000 }).map((s) => Buffer.from(JSON.stringify({ inputs: s }))),
    );
    try {
      await fc.assert(
        fc.asyncProperty(body, async (bytes) => {
          const before = model.batches.length;
          const reply = await request(port, 'POST', '/predict', bytes, { timeoutMs: 5_000 });
          seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
          assert.ok(
            [200, 400, 413].includes(reply.status),
            `status ${reply.status} for ${bytes.toString('latin1').slice(0, 80)}: ${reply.body}`,
          );
          const json = reply.json() as { error?: { code: string; message: string } };
          if (reply.status !== 200) {
            assert.equal(typeof json.error?.code, 'string');
            assert.equal(model.batches.length, before, 'an invalid request reached the model');
          }
        }),
        { seed: 20261126, numRuns: 400 },
      );
      assert.ok((seen.get(200) ?? 0) > 20 && (seen.get(400) ?? 0) > 20, JSON.stringify([...seen]));
      assert.equal((await request(port, 'GET', '/health')).status, 200);
    } finally {
      await server.close();
    }
  },
);
