// Load test of `bert serve` on loopback: requests/s and p50/p99 latency for 1, 8 and 64 concurrent keep-alive
// clients posting one IMDb review each, against the server backed by a worker-thread pipeline; the same pipeline
// called directly in batches (no HTTP, no queue) is the peer that bounds what the server can reach. With several
// --dtype values (default fp32,q8) one server per dtype runs, and each client count loads them one after the other,
// so that other load on the machine hits every dtype alike.
// Usage: npx tsx bench/server.ts [--model DIR] [--dtype fp32,q8] [--duration S] [--clients 1,8,64] [--max-batch N]
//        [--max-wait MS] [--max-length N] [--workers N] [--port N]
// With --port the clients load an already running server (e.g. `bert serve --port N` in another process) instead
// of one started here; its /metrics give the batch sizes.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createServer } from '../src/server/index.js';
import { createPipelinePool } from '../src/pipelines/pool.js';
import { pipeline } from '../src/pipelines/pipeline.js';
import { parseModelDtype, type ModelDtype } from '../src/model/linear-dtype.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = process.argv[i + 1];
  return i !== -1 && value !== undefined ? value : fallback;
}

const model = arg('model', '../shared/models/bert-mini-imdb-hf');
const durationS = Number(arg('duration', '10'));
const clientCounts = arg('clients', '1,8,64').split(',').map(Number);
const maxBatch = Number(arg('max-batch', '32'));
const maxWaitMs = Number(arg('max-wait', '5'));
const maxLength = Number(arg('max-length', '128'));
const workers = Number(arg('workers', '1'));
const externalPort = process.argv.includes('--port') ? Number(arg('port', '0')) : null;
const dtypes: ModelDtype[] = arg('dtype', 'fp32,q8')
  .split(',')
  .map((d) => parseModelDtype(d, '--dtype'));

// IMDb test reviews as the request texts (the first 500, <br /> replaced as the model's README says).
const texts = gunzipSync(readFileSync('../shared/data/imdb/test.jsonl.gz'))
  .toString('utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, 500)
  .map((line) => (JSON.parse(line) as { text: string }).text.replaceAll('<br />', '\n'));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Row {
  dtype: string;
  clients: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanBatch: number;
}

/** `clients` loops, each with its own keep-alive connection, posting one text at a time for `seconds`. */
async function load(
  port: number,
  clients: number,
  seconds: number,
): Promise<{ latencies: number[]; errors: number; wallS: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const post = (body: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/predict',
          agent,
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.setTimeout(60_000, () => req.destroy());
      req.on('error', () => resolve(0));
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const body = JSON.stringify({ inputs: texts[next++ % texts.length] });
        const t0 = performance.now();
        const status = await post(body);
        if (status === 200) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  agent.destroy();
  return { latencies, errors, wallS: (performance.now() - started) / 1000 };
}

/** Texts and model calls so far, from the server's Prometheus metrics. */
async function serverCounts(port: number): Promise<{ texts: number; batches: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const read = (name: string): number =>
    Number(new RegExp(`^${name}\\{route="/predict"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { texts: read('bert_texts_total'), batches: read('bert_batch_size_count') };
}

interface Target {
  dtype: string;
  port: number;
  stop: () => Promise<void>;
}

async function startServer(dtype: ModelDtype): Promise<Target> {
  const pool = await createPipelinePool({
    task: 'text-classification',
    model,
    options: { maxLength, dtype },
    callOptions: { topK: 1 },
    workers,
  });
  const server = createServer({
    predictBatch: (batch: string[]) => pool.predictEach(batch),
    maxBatch,
    maxWaitMs,
    maxQueue: 4096,
    concurrency: pool.size,
  });
  const port = (await server.listen(0, '127.0.0.1')).port;
  const stop = async (): Promise<void> => {
    await server.close();
    await pool.close();
  };
  return { dtype, port, stop };
}

const targets: Target[] =
  externalPort !== null
    ? [{ dtype: 'external', port: externalPort, stop: async () => {} }]
    : await Promise.all(dtypes.map(startServer));

// Warm-up: the first batches pay for page faults and kernel setup.
for (const t of targets) await load(t.port, 8, 2);

const rows: Row[] = [];
for (const clients of clientCounts) {
  for (const t of targets) {
    const before = await serverCounts(t.port);
    const { latencies, errors, wallS } = await load(t.port, clients, durationS);
    const after = await serverCounts(t.port);
    latencies.sort((a, b) => a - b);
    rows.push({
      dtype: t.dtype,
      clients,
      requests: latencies.length,
      errors,
      requestsPerSecond: latencies.length / wallS,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      meanBatch: (after.texts - before.texts) / Math.max(1, after.batches - before.batches),
    });
  }
}
for (const t of targets) await t.stop();

// Peer: the same pipeline called directly on batches of maxBatch texts, in this thread, per dtype.
const directPerSecond: Record<string, number> = {};
for (const dtype of externalPort === null ? dtypes : []) {
  const direct = await pipeline('text-classification', model, {
    maxLength,
    batchSize: maxBatch,
    dtype,
    warn: () => {},
  });
  await direct(texts.slice(0, maxBatch));
  const t0 = performance.now();
  let done = 0;
  while (performance.now() - t0 < durationS * 1000) {
    await direct(texts.slice(done % 400, (done % 400) + maxBatch));
    done += maxBatch;
  }
  directPerSecond[dtype] = done / ((performance.now() - t0) / 1000);
}

const result = {
  bench: 'server',
  model,
  maxLength,
  maxBatch,
  maxWaitMs,
  workers,
  server: externalPort === null ? 'in-process' : `127.0.0.1:${externalPort}`,
  durationS,
  node: process.version,
  backend: process.env.BERT_BACKEND ?? 'default',
  rows,
  directPipelineTextsPerSecond: directPerSecond,
};
console.log(JSON.stringify(result));
console.log('\n| dtype | clients | requests/s | p50 ms | p99 ms | mean batch | errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.dtype} | ${r.clients} | ${r.requestsPerSecond.toFixed(1)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.meanBatch.toFixed(1)} | ${r.errors} |`,
  );
}
for (const [dtype, perSecond] of Object.entries(directPerSecond))
  console.log(`\ndirect pipeline ${dtype} (batch ${maxBatch}, no HTTP): ${perSecond.toFixed(1)} texts/s`);
