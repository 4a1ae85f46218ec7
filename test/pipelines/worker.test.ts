// WorkerPool: batches run in worker threads (the caller's event loop stays free), errors and crashes are contained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerPool, WorkerError } from '../../src/pipelines/worker.js';
import { createServer } from '../../src/server/index.js';
import { request } from '../server/helpers.js';

const FAKE = new URL('./fixtures/fake-predictor.ts', import.meta.url).href;

for (const isolation of ['process', 'thread'] as const) {
  test(`${isolation}: batches run off the main thread and come back in order`, { timeout: 60_000 }, async () => {
    const pool = await WorkerPool.create({ module: FAKE, args: { busyMs: 300 }, size: 2, isolation });
    try {
      assert.equal(pool.size, 2);
      assert.equal((pool.info as { task: string }).task, 'fake');
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const [a, b, c] = await Promise.all([pool.run(['x', 'y']), pool.run(['z']), pool.run(['w'])]);
      clearInterval(ticker);
      assert.deepEqual(a, [{ label: 'X' }, { label: 'Y' }]);
      assert.deepEqual(b, [{ label: 'Z' }]);
      assert.deepEqual(c, [{ label: 'W' }]);
      // 3 batches of 300 ms busy-wait on 2 workers take >= 600 ms; a blocked main loop would have ticked ~0 times.
      assert.ok(ticks >= 20, `the main event loop ticked only ${ticks} times`);
    } finally {
      await pool.close();
    }
  });

  test(
    `${isolation}: a failing batch rejects, a crashed worker is replaced, a bad model fails create()`,
    { timeout: 60_000 },
    async () => {
      const pool = await WorkerPool.create({ module: FAKE, args: { busyMs: 0 }, isolation });
      try {
        await assert.rejects(
          pool.run(['fail']),
          (e: Error) => e instanceof WorkerError && /asked to fail/.test(e.message),
        );
        assert.deepEqual(await pool.run(['ok']), [{ label: 'OK' }]);
        await assert.rejects(pool.run(['crash']), /exited with code 3 during a batch/);
        assert.deepEqual(await pool.run(['again']), [{ label: 'AGAIN' }]);
      } finally {
        await pool.close();
      }
      await assert.rejects(pool.run(['x']), /closed/);
      await assert.rejects(
        WorkerPool.create({ module: FAKE, args: { busyMs: 0, failLoad: true }, isolation }),
        /could not load its predictor: model.safetensors is missing/,
      );
    },
  );
}

test('the server answers health checks while the worker computes', { timeout: 60_000 }, async () => {
  const pool = await WorkerPool.create({ module: FAKE, args: { busyMs: 400 } });
  const server = createServer({ predictBatch: (texts) => pool.run(texts), maxWaitMs: 1 });
  const { port } = await server.listen();
  try {
    const slow = request(port, 'POST', '/predict', '{"inputs":["abc"]}');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    assert.equal((await request(port, 'GET', '/health')).status, 200);
    assert.ok(Date.now() - started < 200, 'health waited for the model');
    assert.deepEqual((await slow).json(), [{ label: 'ABC' }]);
  } finally {
    await server.close();
    await pool.close();
  }
});
