// A local HTTP server (127.0.0.1 only) that answers like huggingface.co's resolve endpoint and its LFS CDN.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  content: Buffer;
  /** Stored with git LFS: served by a redirect to the CDN, named by sha256 (X-Linked-Etag). */
  lfs?: boolean;
}

export interface FakeRepo {
  /** revision name → commit hash */
  refs: Record<string, string>;
  /** commit hash → files */
  commits: Record<string, Record<string, FakeFile>>;
  /** Require `Authorization: Bearer <token>`. */
  token?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The git blob id the hub sends as ETag for non-LFS files. */
export function gitBlobSha1(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  /** old repo id → new repo id (answered with a relative 307, like a renamed repo). */
  readonly renamed = new Map<string, string>();
  readonly log: LoggedRequest[] = [];
  /** sha256 → number of bytes after which the next CDN response is cut off (once). */
  readonly cutAfter = new Map<string, number>();
  /** sha256s whose CDN content is served with one byte flipped. */
  readonly corrupt = new Set<string>();
  private servers: Server[] = [];
  url = '';
  /** The CDN is another origin (another port), as cdn-lfs.huggingface.co is: tokens must not go there. */
  cdnUrl = '';
  /** Answer pages of other origins (Access-Control-Allow-Origin: *, preflights), as huggingface.co does. */
  cors = false;

  async start(): Promise<string> {
    const listen = async (): Promise<string> => {
      const server = createServer((req, res) => this.handle(req, res));
      this.servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    this.url = await listen();
    this.cdnUrl = await listen();
    return this.url;
  }

  async stop(): Promise<void> {
    for (const server of this.servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.servers = [];
  }

  private blobs(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const repo of this.repos.values()) {
      for (const files of Object.values(repo.commits))
        for (const f of Object.values(files)) out.set(sha256(f.content), f.content);
    }
    return out;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname };
    if (req.headers.range) entry.range = req.headers.range;
    if (req.headers.authorization) entry.authorization = req.headers.authorization;
    this.log.push(entry);
    if (this.cors) {
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-expose-headers', 'x-repo-commit, x-linked-etag, x-linked-size, etag, x-error-code');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-headers': 'authorization, range', 'access-control-max-age': '600' });
        return void res.end();
      }
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.serveCdn(cdn[1]!, req, res);
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return this.fail(res, 404, 'RepoNotFound', 'no such route');
    const [, repoId, revEnc, fileEnc] = m;
    const rev = decodeURIComponent(revEnc!);
    const file = fileEnc!.split('/').map(decodeURIComponent).join('/');
    const newId = this.renamed.get(repoId!);
    if (newId) {
      res.writeHead(307, { location: `/${newId}/resolve/${revEnc}/${fileEnc}` });
      return void res.end();
    }
    const repo = this.repos.get(repoId!);
    if (!repo) return this.fail(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)
      return this.fail(res, 401, 'GatedRepo', 'Access to this repo is restricted');
    const commit = repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);
    if (!commit) return this.fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    const f = repo.commits[commit]![file];
    if (!f) return this.fail(res, 404, 'EntryNotFound', `${file} does not exist`, { 'x-repo-commit': commit });
    if (f.lfs) {
      const sha = sha256(f.content);
      res.writeHead(302, {
        location: `${this.cdnUrl}/cdn/${sha}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(f.content.length),
        etag: `"${gitBlobSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\n`))}"`,
      });
      return void res.end();
    }
    res.writeHead(200, {
      'x-repo-commit': commit,
      etag: `"${gitBlobSha1(f.content)}"`,
      'content-length': String(f.content.length),
      'content-type': 'application/octet-stream',
    });
    res.end(req.method === 'HEAD' ? undefined : f.content);
  }

  private serveCdn(sha: string, req: IncomingMessage, res: ServerResponse): void {
    let content = this.blobs().get(sha);
    if (!content) return this.fail(res, 404, 'EntryNotFound', 'no such blob');
    if (this.corrupt.has(sha)) {
      content = Buffer.from(content);
      content[content.length >> 1]! ^= 0x01;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    if (start >= content.length && content.length > 0) {
      res.writeHead(416, { 'content-range': `bytes */${content.length}` });
      return void res.end();
    }
    const body = content.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const cut = this.cutAfter.get(sha);
    if (cut !== undefined && cut < body.length) {
      this.cutAfter.delete(sha);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  }

  private fail(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    extra: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'x-error-code': code,
      'x-error-message': message,
      'content-type': 'application/json',
      ...extra,
    });
    res.end(JSON.stringify({ error: message }));
  }
}
