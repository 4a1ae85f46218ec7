// Test helpers for the server: a bounded HTTP client on 127.0.0.1 and a fake predictBatch.
import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: () => unknown;
}

/** One request with a hard timeout so a test can never hang on a server that does not answer. */
export function request(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  options: { agent?: http.Agent; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: options.agent,
        headers: { 'Content-Type': 'application/json', ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer to ${method} ${path} within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

/** A model stand-in: labels each text by its length, records every batch it was given. */
export function fakeModel(delayMs = 0): {
  predictBatch: (texts: string[]) => Promise<{ label: string; score: number }[]>;
  batches: string[][];
} {
  const batches: string[][] = [];
  return {
    batches,
    predictBatch: async (texts) => {
      batches.push(texts);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return texts.map((t) => ({ label: `LEN_${t.length}`, score: 1 }));
    },
  };
}
