// The HTTP JSON service: POST /predict, /embed, /rerank (each dynamically batched), GET /health, GET /metrics, with
// size, time and queue limits that answer with a status code and a JSON error instead of growing or hanging.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DynamicBatcher, type PredictBatch } from './batcher.js';
import { ServerError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { inputsRoute, type RequestParameters, type ServedRoute } from './routes.js';
import { InputError } from '../model/errors.js';

export interface ServerOptions<R, I = string> {
  /**
   * Serves POST /predict: runs the model on a batch of texts (e.g. a worker pool, so inference stays off the event
   * loop). Leave it out for a server of other routes only.
   */
  predictBatch?: PredictBatch<R, I>;
  /**
   * Validates one input of a request and returns what predictBatch takes (default: a string). Throw an Error
   * whose message completes "<where> ..." (e.g. "must be {question, context}") to answer 400.
   */
  parseInput?: (value: unknown) => I;
  /**
   * The "parameters" a request may carry, validated and handed to predictBatch as its options (texts with
   * different parameters are never batched together). Without it a request with parameters gets 400.
   */
  parameters?: RequestParameters;
  /**
   * Further POST routes by path, each with its own batcher under the same limits: "/embed" (inputsRoute over
   * SentenceTransformer.encode), "/rerank" (rerankRoute over CrossEncoder scores).
   */
  routes?: Record<string, ServedRoute<unknown, unknown>>;
  /** Most texts per model call (default 32). */
  maxBatch?: number;
  /** Longest wait for a batch to fill, in milliseconds (default 5). */
  maxWaitMs?: number;
  /** Most texts waiting for the model; beyond it requests get 503 with Retry-After (default 1024). */
  maxQueue?: number;
  /** Largest request body in bytes; a larger one gets 413 and is not read further (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most texts in one request (default 256). */
  maxTexts?: number;
  /** Time allowed to receive a whole request, headers and body, before 408 (default 30 s). */
  requestTimeoutMs?: number;
  /** Time allowed to receive the headers (default min(10 s, requestTimeoutMs)). */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** Connections beyond this are dropped by the kernel accept path (default: unlimited). */
  maxConnections?: number;
  /** Model calls that may run at once, one per worker (default 1). */
  concurrency?: number;
  /** Seconds a client is told to wait after 503 (default 1). */
  retryAfterSeconds?: number;
  /** Extra fields shown by GET /health (model name, task). */
  info?: Record<string, string | number | boolean>;
}

/**
 * The node:http Server behind a BertServer, typed by the members callers use so that bert-ts's public types need
 * no @types/node (cast to `import('node:http').Server` for the rest).
 */
export interface HttpServerHandle {
  readonly listening: boolean;
  address(): { address: string; family: string; port: number } | string | null;
  getConnections(callback: (error: Error | null, count: number) => void): unknown;
}

export interface BertServer {
  readonly http: HttpServerHandle;
  readonly metrics: ServerMetrics;
  /** Starts listening (port 0 picks a free one) and resolves with the address actually bound. */
  listen(port?: number, host?: string): Promise<{ host: string; port: number }>;
  /** Stops accepting, finishes running batches, answers queued texts with 503 and closes every connection. */
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

export function createServer<R, I = string>(options: ServerOptions<R, I>): BertServer {
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const maxTexts = options.maxTexts ?? 256;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const headersTimeoutMs = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeoutMs);
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  for (const [name, value] of Object.entries({ maxBodyBytes, maxTexts, requestTimeoutMs })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  const routes = new Map<string, ServedRoute<unknown, unknown>>();
  if (options.predictBatch) {
    const { predictBatch, parseInput, parameters } = options;
    routes.set(
      '/predict',
      inputsRoute<R, I>({ predictBatch, parseInput, parameters }) as ServedRoute<unknown, unknown>,
    );
  }
  for (const [path, route] of Object.entries(options.routes ?? {})) {
    if (!/^\/[a-z][a-z0-9_-]*$/.test(path) || ['/health', '/metrics'].includes(path) || routes.has(path))
      throw new RangeError(`route "${path}" must be a new path such as "/embed"`);
    routes.set(path, route);
  }
  if (routes.size === 0) throw new RangeError('createServer needs predictBatch or at least one route');
  const metrics = new ServerMetrics([...routes.keys()]);
  // One batcher per route: inputs of different routes run different model calls, never one batch.
  const batchers = new Map(
    [...routes].map(([path, route]) => [
      path,
      new DynamicBatcher<unknown, unknown>({
        predictBatch: (inputs, callOptions) => route.predictBatch(inputs, callOptions),
        maxBatch: options.maxBatch ?? 32,
        maxWaitMs: options.maxWaitMs ?? 5,
        maxQueue: options.maxQueue ?? 1024,
        concurrency: options.concurrency ?? 1,
        onBatch: (size, seconds, failed) => metrics.observeBatch(path, size, seconds, failed),
      }),
    ]),
  );
  const sum = (of: (b: DynamicBatcher<unknown, unknown>) => number): number =>
    [...batchers.values()].reduce((n, b) => n + of(b), 0);
  const gauges = () => ({ queueDepth: sum((b) => b.depth), inFlightBatches: sum((b) => b.inFlight) });
  const served = [...[...routes.keys()].map((r) => `POST ${r}`), 'GET /health', 'GET /metrics'].join(', ');
  let openConnections = 0;
  let closing = false;

  const server = http.createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: headersTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    // Node checks the two timeouts above only this often (30 s by default), which would let slow clients linger.
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
  });
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;

  server.on('connection', (socket: Socket) => {
    openConnections++;
    socket.once('close', () => openConnections--);
  });

  // Protocol errors and timeouts that happen before a request object exists: answer in JSON where the socket still
  // allows it, then close it. Without this handler node answers with an empty body.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const inResponse = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || inResponse) {
      socket.destroy();
      return;
    }
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const code = status === 408 ? 'request_timeout' : status === 431 ? 'headers_too_large' : 'bad_request';
    const message =
      status === 408
        ? `the request was not received within ${requestTimeoutMs} ms (headers within ${headersTimeoutMs} ms)`
        : `malformed HTTP request: ${error.code ?? error.message}`;
    metrics.countRequest('client_error', status);
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    // end() may wait forever on a client that does not read; do not let it hold the socket.
    setTimeout(() => socket.destroy(), 1_000).unref();
  });

  // A client that asks "Expect: 100-continue" before a body over the limit is told 413 before sending a byte of it.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      const body = JSON.stringify({
        error: { code: 'body_too_large', message: `the body declares ${declared} bytes; the limit is ${maxBodyBytes}` },
      });
      res.writeHead(413, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        Connection: 'close',
      });
      res.end(body);
      metrics.countRequest(routeOf(req.url ?? '/'), 413);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });

  server.on('request', (req, res) => {
    const started = process.hrtime.bigint();
    const route = routeOf(req.url ?? '/');
    const respond = (status: number, body: unknown, headers: Record<string, string> = {}, plain = false): void => {
      if (res.headersSent) return;
      const text = plain ? String(body) : JSON.stringify(body);
      const type = plain ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json';
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
      res.end(text);
      metrics.countRequest(route, status);
      if (routes.has(route)) metrics.observeRequest(route, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const fail = (error: unknown): void => {
      if (error instanceof ServerError) {
        const headers: Record<string, string> = error.status === 503 ? { 'Retry-After': retryAfter } : {};
        respond(error.status, { error: { code: error.code, message: error.message } }, headers);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        respond(500, { error: { code: 'internal_error', message } });
      }
    };

    if (route === '/health' || route === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return fail(new ServerError(405, 'method_not_allowed', `${route} accepts GET, not ${req.method}`));
      }
      req.resume(); // a GET with a body: discard it so the connection can be reused
      if (route === '/metrics') {
        return respond(200, metrics.render({ ...gauges(), openConnections }), {}, true);
      }
      return respond(closing ? 503 : 200, {
        status: closing ? 'shutting_down' : 'ok',
        ...gauges(),
        ...options.info,
      });
    }
    const target = routes.get(route);
    const batcher = batchers.get(route);
    if (!target || !batcher) {
      req.resume();
      return fail(new ServerError(404, 'not_found', `no route ${req.method} ${route}; this server serves ${served}`));
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return fail(new ServerError(405, 'method_not_allowed', `${route} accepts POST, not ${req.method}`));
    }

    readBody(req, maxBodyBytes)
      .then((body) => {
        const parsed = target.parseBody(parseJsonObject(body), maxTexts);
        return batcher.submit(parsed.inputs, parsed.options).then((results) => respond(200, parsed.answer(results)));
      })
      .catch((error: unknown) => {
        if (error instanceof ServerError && error.code === 'body_too_large') {
          // Answer, then drop the connection: reading the rest of a 100 MB body would only waste time.
          res.setHeader('Connection', 'close');
          fail(error);
          req.pause();
          res.once('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
          return;
        }
        if (error instanceof InputError) return fail(new ServerError(400, 'invalid_input', error.message));
        fail(error);
      });
  });

  return {
    http: server,
    metrics,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          resolve({ host: address.address, port: address.port });
        });
      });
    },
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.all([...batchers.values()].map((b) => b.close()));
      // Give responses already computed a moment to flush, then cut whatever is left (slow or idle clients).
      await new Promise((resolve) => setTimeout(resolve, 20));
      server.closeAllConnections();
      await stopped;
    },
  };
}

function routeOf(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Reads the body up to `limit` bytes; a declared or actual size above it rejects at once without reading on. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new ServerError(413, 'body_too_large', `the body declares ${declared} bytes; the limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        req.off('data', onData);
        reject(new ServerError(413, 'body_too_large', `the body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!done) resolve(Buffer.concat(chunks, size));
      done = true;
    });
    req.once('error', (error) => {
      if (!done) reject(new ServerError(400, 'bad_request', `reading the body failed: ${error.message}`));
      done = true;
    });
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as a JSON object (what every POST route takes), or a 400 saying why not. */
function parseJsonObject(body: Uint8Array): Record<string, unknown> {
  let source: string;
  try {
    source = utf8.decode(body);
  } catch {
    throw new ServerError(400, 'invalid_utf8', 'the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new ServerError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ServerError(400, 'invalid_request', 'the body must be a JSON object such as {"inputs": "some text"}');
  }
  return value as Record<string, unknown>;
}
