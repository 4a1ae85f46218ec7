// The small static file server behind `bert demo --browser` and the browser tests (Node only, not in the bundle):
// serves folders under URL prefixes from 127.0.0.1, offline, with the cross-origin isolation headers (COOP/COEP)
// that SharedArrayBuffer needs.
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
};

export interface StaticServerOptions {
  /** URL prefix ('/assets/') -> folder on disk. */
  mounts: Record<string, string>;
  /** What '/' redirects to. */
  index?: string;
  /** 0 picks a free port (default 0). */
  port?: number;
  host?: string;
}

export interface StaticServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The folder bert demo --browser serves: dist/browser (the bundle), examples/browser (the page), assets. */
export function demoMounts(): Record<string, string> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return {
    '/dist/browser/': join(root, 'dist', 'browser'),
    '/examples/browser/': join(root, 'examples', 'browser'),
    '/assets/': join(root, 'assets'),
  };
}

/** Starts serving; resolves once listening, with the base URL. */
export async function serveStatic(options: StaticServerOptions): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-cache',
    };
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/' && options.index) {
      res.writeHead(302, { ...headers, Location: options.index }).end();
      return;
    }
    const mount = mounts.find(([prefix]) => path.startsWith(prefix));
    const file = mount ? resolve(mount[1], `.${path.slice(mount[0].length - 1)}`) : null;
    // No way out of a mounted folder ('..', encoded or not).
    const inside = file !== null && mount !== undefined && (file + sep).startsWith(resolve(mount[1]) + sep);
    const stat = inside ? statSync(file, { throwIfNoEntry: false }) : undefined;
    if (!file || !stat?.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/**
 * Serves the browser demo (examples/browser, the bundle, assets) until SIGINT / SIGTERM; `onListening` gets the
 * page's URL. Fails when the bundle is not built (npm run build:browser in a clone).
 */
export async function serveBrowserDemo(
  options: { port?: number; host?: string; onListening?: (pageUrl: string) => void } = {},
): Promise<void> {
  const mounts = demoMounts();
  const bundle = join(mounts['/dist/browser/']!, 'bert-ts.js');
  if (!statSync(bundle, { throwIfNoEntry: false })?.isFile())
    throw new Error(`the browser bundle is not built (${bundle} does not exist; run npm run build:browser in a clone)`);
  const page = '/examples/browser/index.html';
  const server = await serveStatic({ mounts, index: page, port: options.port, host: options.host });
  options.onListening?.(new URL(page, server.url).href);
  await new Promise<void>((ok) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      ok();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
}
