// HuggingFace hub download into the shared HF cache layout (models--org--name/{blobs,refs,snapshots}).
//
// Mirrors huggingface_hub's `hf_hub_download` so Python and bert-ts share one cache:
// - metadata: HEAD {endpoint}/{repo}/resolve/{revision}/{file}, following only relative redirects (renamed
//   repos); X-Repo-Commit gives the commit, X-Linked-Etag (LFS: the sha256) or ETag the blob name,
//   X-Linked-Size or Content-Length the size, Location (absolute redirect, e.g. the CDN) the download URL;
// - blobs/<etag>: the content, downloaded into blobs/<etag>.incomplete (resumed with Range) then renamed;
// - snapshots/<commit>/<file>: relative symlink to the blob; refs/<revision>: the commit (no newline);
// - .no_exist/<commit>/<file>: an empty marker for optional files the repo does not have.
// Not done (yet): the cross-process .locks files Python uses.
//
// In a browser (the bundle's in-memory file system) fetch hides redirect responses — `redirect: 'manual'` gives an
// opaque one, without Location or X-Linked-Etag — so the HEAD above cannot see where an LFS file lives. There, as
// transformers.js does, each file is one GET that follows redirects (the Fetch standard drops Authorization at a
// cross-origin hop), kept for the page's lifetime under snapshots/<revision>/<file>.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  createReadStream,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { HubError } from './errors.js';
import { readJsonFile, TOKENIZER_FILES, writeFileAtomic } from './files.js';

/** Options of {@link resolveModelPath} and {@link downloadHubFile}. Unset fields come from the HF environment variables. */
export interface HubOptions {
  /** Branch, tag or commit hash (default 'main'). */
  revision?: string;
  /** Cache root (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Access token (default $HF_TOKEN, else the token file huggingface-cli login writes). */
  token?: string;
  /** Use only the cache (default: $HF_HUB_OFFLINE is 1/true/yes/on). */
  offline?: boolean;
  /** Hub URL (default $HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Automatic resume attempts after an interrupted download (default 2). */
  retries?: number;
  /** Abort a request when no byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** Called while a file downloads. */
  onProgress?: (file: string, receivedBytes: number, totalBytes: number | undefined) => void;
}

/**
 * The files a BERT model folder needs: required ones, then optional tokenizer files, then weights (the first
 * found; a `*.index.json` brings the shards its `weight_map` names).
 */
export const MODEL_FILES = {
  required: ['config.json'],
  optional: TOKENIZER_FILES,
  weights: ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'],
} as const;

const COMMIT_RE = /^[0-9a-f]{40}$/;
// huggingface_hub's validate_repo_id: optional namespace, names of word chars, '-' and '.', no '--' or '..'.
const REPO_RE = /^(?:[\w][\w.-]{0,95}\/)?[\w][\w.-]{0,95}$/;

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

/** The cache root, as huggingface_hub computes it (from `env`, default process.env). */
export function hfCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['HF_HUB_CACHE']) return env['HF_HUB_CACHE'];
  if (env['HUGGINGFACE_HUB_CACHE']) return env['HUGGINGFACE_HUB_CACHE'];
  if (env['HF_HOME']) return join(env['HF_HOME'], 'hub');
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg ? xdg : join(homedir(), '.cache'), 'huggingface', 'hub');
}

function hfToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env['HF_TOKEN'] ?? env['HUGGING_FACE_HUB_TOKEN'];
  if (token) return token.trim();
  const home = env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface');
  const file = env['HF_TOKEN_PATH'] ?? join(home, 'token');
  try {
    const text = readFileSync(file, 'utf8').trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

interface Settings {
  revision: string;
  cacheDir: string;
  token: string | undefined;
  offline: boolean;
  endpoint: string;
  retries: number;
  stallTimeoutMs: number;
  onProgress: HubOptions['onProgress'];
}

function settings(options: HubOptions): Settings {
  return {
    revision: options.revision ?? 'main',
    cacheDir: resolve(options.cacheDir ?? hfCacheDir()),
    token: options.token ?? hfToken(),
    offline: options.offline ?? (truthy(process.env['HF_HUB_OFFLINE']) || truthy(process.env['TRANSFORMERS_OFFLINE'])),
    endpoint: (options.endpoint ?? process.env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, ''),
    retries: options.retries ?? 2,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    onProgress: options.onProgress,
  };
}

/** `models--org--name`: the repo's folder in the cache. */
export function repoCacheFolder(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

function checkRepoId(repoId: string): void {
  if (!REPO_RE.test(repoId) || repoId.includes('--') || repoId.includes('..')) {
    throw new HubError(
      `"${repoId}" is neither an existing folder nor a valid hub repo id (expected "name" or "org/name")`,
    );
  }
}

function checkRelativeFile(file: string): void {
  if (file.length === 0 || file.startsWith('/') || file.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new HubError(`invalid file name in repo: ${JSON.stringify(file)}`);
  }
}

function fileUrl(s: Settings, repoId: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${s.endpoint}/${repoId}/resolve/${encodeURIComponent(s.revision)}/${path}`;
}

/** Strip W/ and quotes from an ETag, as huggingface_hub does. */
function normalizeEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** The commit a revision resolves to in the cache, if known. */
function cachedCommit(repoDir: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  try {
    const commit = readFileSync(join(repoDir, 'refs', revision), 'utf8').trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** The hub answered that the repo, revision or file does not exist (`commit`: from X-Repo-Commit, if sent). */
class NotFound extends HubError {
  commit: string | undefined;
}
/** Offline (or hub unreachable) and the file is not in the cache. */
class Unavailable extends HubError {}

interface FileMetadata {
  commit: string;
  etag: string;
  size: number | undefined;
  downloadUrl: string;
}

function errorFor(res: Response, what: string, s: Settings): HubError {
  const code = res.headers.get('x-error-code') ?? '';
  const serverMessage = res.headers.get('x-error-message');
  const detail = serverMessage ? ` (${serverMessage})` : '';
  if (res.status === 404 || code === 'EntryNotFound' || code === 'RepoNotFound' || code === 'RevisionNotFound') {
    const kind =
      code === 'RepoNotFound'
        ? 'repository not found'
        : code === 'RevisionNotFound'
          ? `revision "${s.revision}" not found`
          : 'not found';
    const err = new NotFound(
      `${what}: ${kind} (HTTP ${res.status})${detail}; check the repo id, file name and revision${s.token ? '' : ' (private or gated repos need HF_TOKEN)'}`,
    );
    if (code === 'EntryNotFound' || code === '') err.commit = res.headers.get('x-repo-commit') ?? undefined;
    return err;
  }
  if (res.status === 401 || res.status === 403 || code === 'GatedRepo') {
    return new HubError(
      `${what}: access denied (HTTP ${res.status})${detail}; ${s.token ? 'the token lacks access to this repo' : 'set HF_TOKEN for private or gated repos'}`,
    );
  }
  return new HubError(`${what}: HTTP ${res.status}${detail}`);
}

/**
 * fetch with a stall timeout; Authorization only to the hub's own origin (never to a CDN). `follow` (browsers): fetch
 * follows redirects itself, and no header a browser would refuse or preflight is added but Authorization.
 */
async function request(
  s: Settings,
  url: string,
  method: 'HEAD' | 'GET',
  extra: Record<string, string> = {},
  follow = false,
): Promise<{ res: Response; abort: AbortController; touch: () => void; done: () => void }> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error(`no data for ${s.stallTimeoutMs} ms`)), s.stallTimeoutMs);
  };
  const done = () => {
    if (timer) clearTimeout(timer);
  };
  const headers: Record<string, string> = follow
    ? { ...extra }
    : { 'accept-encoding': 'identity', 'user-agent': 'bert-ts', ...extra };
  if (s.token && new URL(url).origin === new URL(s.endpoint).origin) headers['authorization'] = `Bearer ${s.token}`;
  touch();
  try {
    const res = await fetch(url, { method, headers, redirect: follow ? 'follow' : 'manual', signal: abort.signal });
    return { res, abort, touch, done };
  } catch (err) {
    done();
    throw err;
  }
}

/** HEAD the file, following relative redirects only (as huggingface_hub does), and read the cache keys. */
async function fetchMetadata(s: Settings, repoId: string, file: string): Promise<FileMetadata> {
  let url = fileUrl(s, repoId, file);
  const what = `${repoId}/${file} at revision "${s.revision}"`;
  for (let hops = 0; hops < 10; hops++) {
    const { res, done } = await request(s, url, 'HEAD');
    done();
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const absolute = /^[a-z][a-z0-9+.-]*:/i.test(location);
      if (!absolute) {
        url = new URL(location, url).toString();
        continue;
      }
    } else if (!res.ok) {
      throw errorFor(res, what, s);
    }
    const commit = res.headers.get('x-repo-commit') ?? undefined;
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    if (!commit || !COMMIT_RE.test(commit))
      throw new HubError(`${what}: the server sent no X-Repo-Commit header (is ${s.endpoint} a HuggingFace hub?)`);
    if (!etag || !/^[\w.-]{1,128}$/.test(etag)) throw new HubError(`${what}: the server sent no usable ETag`);
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    return { commit, etag, size, downloadUrl: location ? new URL(location, url).toString() : url };
  }
  throw new HubError(`${what}: too many redirects`);
}

/** Download `url` into `incomplete`, resuming from its current length with Range; returns when complete. */
async function downloadBlob(
  s: Settings,
  url: string,
  incomplete: string,
  meta: FileMetadata,
  label: string,
): Promise<void> {
  let attempt = 0;
  for (;;) {
    let have = existsSync(incomplete) ? statSync(incomplete).size : 0;
    if (meta.size !== undefined && have > meta.size) {
      rmSync(incomplete, { force: true });
      have = 0;
    }
    try {
      if (meta.size !== undefined && have === meta.size) return;
      let target = url;
      let req = await request(s, target, 'GET', have > 0 ? { range: `bytes=${have}-` } : {});
      for (let hops = 0; req.res.status >= 300 && req.res.status < 400 && req.res.headers.get('location'); hops++) {
        req.done();
        if (hops >= 10) throw new HubError(`${label}: too many redirects`);
        target = new URL(req.res.headers.get('location')!, target).toString();
        req = await request(s, target, 'GET', have > 0 ? { range: `bytes=${have}-` } : {});
      }
      const { res, touch, done } = req;
      try {
        if (res.status === 416 && meta.size !== undefined && have === meta.size) return;
        if (!res.ok) throw errorFor(res, label, s);
        // 206: the server honoured Range, append; 200: it sent everything, start over.
        const append = res.status === 206 && have > 0;
        if (append) {
          const range = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
          if (!range || Number(range[1]) !== have) throw new HubError(`${label}: server resumed at the wrong offset`);
        } else {
          have = 0;
        }
        const handle = await open(incomplete, append ? 'a' : 'w');
        try {
          let received = have;
          if (res.body) {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              touch();
              await handle.write(chunk);
              received += chunk.length;
              if (meta.size !== undefined && received > meta.size)
                throw new HubError(`${label}: server sent more than the announced ${meta.size} bytes`);
              s.onProgress?.(label, received, meta.size);
            }
          }
          await handle.sync();
        } finally {
          await handle.close();
        }
      } finally {
        done();
      }
      const got = statSync(incomplete).size;
      if (meta.size === undefined || got === meta.size) return;
      throw new Error(`connection closed after ${got} of ${meta.size} bytes`);
    } catch (err) {
      if (err instanceof HubError) throw err;
      if (attempt >= s.retries) {
        const got = existsSync(incomplete) ? statSync(incomplete).size : 0;
        throw new HubError(
          `${label}: download interrupted after ${got}${meta.size !== undefined ? ` of ${meta.size}` : ''} bytes (${(err as Error).message}); run again to resume from ${incomplete}`,
          { cause: err },
        );
      }
      attempt++;
    }
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Point snapshots/<commit>/<file> at the blob (relative symlink; a copy where symlinks are not allowed). */
function linkSnapshot(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer);
  }
}

function writeRef(repoDir: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = join(repoDir, 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  let current: string | undefined;
  try {
    current = readFileSync(ref, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== commit) writeFileAtomic(ref, commit);
}

/** The cached path of a file for the revision, or undefined; `null` if the cache records that it does not exist. */
function fromCache(repoDir: string, revision: string, file: string): string | null | undefined {
  const commit = cachedCommit(repoDir, revision);
  if (!commit) return undefined;
  const pointer = join(repoDir, 'snapshots', commit, file);
  if (existsSync(pointer)) return pointer;
  if (existsSync(join(repoDir, '.no_exist', commit, file))) return null;
  return undefined;
}

function isNetworkError(err: unknown): boolean {
  return !(err instanceof HubError);
}

/** Running in a web page or a Web Worker, where fetch cannot read redirect responses. */
function fetchHidesRedirects(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return g.document !== undefined || g.WorkerGlobalScope !== undefined;
}

/** The browser's download (see the top of this file): one GET following redirects, no cache keys. */
async function downloadFollowingRedirects(s: Settings, repoId: string, file: string, label: string): Promise<string> {
  const repoDir = join(s.cacheDir, repoCacheFolder(repoId));
  const pointer = join(repoDir, 'snapshots', s.revision, file);
  const marker = join(repoDir, '.no_exist', s.revision, file);
  if (existsSync(pointer)) return pointer;
  if (existsSync(marker)) throw new NotFound(`${label}: not found (recorded in the cache's .no_exist)`);
  if (s.offline) throw new Unavailable(`${label}: offline mode (HF_HUB_OFFLINE) and the file is not in the cache`);
  let req: Awaited<ReturnType<typeof request>>;
  try {
    req = await request(s, fileUrl(s, repoId, file), 'GET', {}, true);
  } catch (err) {
    throw new Unavailable(`${label}: cannot reach ${s.endpoint} (${(err as Error).message})`, { cause: err });
  }
  const { res, touch, done } = req;
  try {
    if (!res.ok) {
      const err = errorFor(res, label, s);
      if (err instanceof NotFound) {
        mkdirSync(dirname(marker), { recursive: true });
        writeFileSync(marker, '');
      }
      throw err;
    }
    const sizeHeader = res.headers.get('content-length');
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = res.body?.getReader();
    try {
      for (;;) {
        const next = await reader?.read();
        if (!next || next.done) break;
        touch();
        chunks.push(next.value);
        received += next.value.length;
        s.onProgress?.(label, received, size);
      }
    } catch (err) {
      throw new HubError(`${label}: download interrupted after ${received} bytes (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (size !== undefined && received !== size)
      throw new HubError(`${label}: received ${received} of the announced ${size} bytes; try again`);
    mkdirSync(dirname(pointer), { recursive: true });
    writeFileAtomic(pointer, chunks);
    return pointer;
  } finally {
    done();
  }
}

async function download(s: Settings, repoId: string, file: string): Promise<string> {
  checkRepoId(repoId);
  checkRelativeFile(file);
  const repoDir = join(s.cacheDir, repoCacheFolder(repoId));
  const label = `${repoId}/${file} at revision "${s.revision}"`;
  if (fetchHidesRedirects()) return downloadFollowingRedirects(s, repoId, file, label);
  // A commit hash names immutable content: a cached copy needs no network at all.
  if (s.offline || COMMIT_RE.test(s.revision)) {
    const cached = fromCache(repoDir, s.revision, file);
    if (cached) return cached;
    if (cached === null) throw new NotFound(`${label}: not found (recorded in the cache's .no_exist)`);
    if (s.offline) {
      throw new Unavailable(
        `${label}: offline mode (HF_HUB_OFFLINE) and the file is not in the cache ${s.cacheDir}; download it once online first`,
      );
    }
  }
  let meta: FileMetadata;
  try {
    meta = await fetchMetadata(s, repoId, file);
  } catch (err) {
    if (err instanceof NotFound) {
      const commit = err.commit;
      if (commit && COMMIT_RE.test(commit)) {
        // Record it as huggingface_hub does, so offline runs know not to look for it.
        const marker = join(repoDir, '.no_exist', commit, file);
        mkdirSync(dirname(marker), { recursive: true });
        writeFileSync(marker, '');
      }
      throw err;
    }
    if (isNetworkError(err)) {
      // As huggingface_hub does: no connection, but a cached copy of this revision → use it.
      const cached = fromCache(repoDir, s.revision, file);
      if (cached) return cached;
      throw new Unavailable(
        `${label}: cannot reach ${s.endpoint} (${(err as Error).message}) and the file is not cached`,
        { cause: err },
      );
    }
    throw err;
  }
  const blob = join(repoDir, 'blobs', meta.etag);
  const pointer = join(repoDir, 'snapshots', meta.commit, file);
  if (existsSync(blob) && meta.size !== undefined && statSync(blob).size !== meta.size) {
    rmSync(blob, { force: true }); // a damaged cache entry: fetch it again
  }
  if (!existsSync(blob)) {
    mkdirSync(dirname(blob), { recursive: true });
    const incomplete = `${blob}.incomplete`;
    await downloadBlob(s, meta.downloadUrl, incomplete, meta, label);
    if (/^[0-9a-f]{64}$/.test(meta.etag)) {
      // LFS files are named by their sha256: check the bytes against it before anything trusts them.
      const digest = await sha256File(incomplete);
      if (digest !== meta.etag) {
        unlinkSync(incomplete);
        throw new HubError(
          `${label}: downloaded file is corrupted (sha256 ${digest}, expected ${meta.etag}); it was discarded, try again`,
        );
      }
    }
    renameSync(incomplete, blob);
  }
  linkSnapshot(blob, pointer);
  writeRef(repoDir, s.revision, meta.commit);
  return pointer;
}

/**
 * Download one file of a hub repo into the HF cache (or find it there) and return its path in the snapshot
 * folder, like huggingface_hub's `hf_hub_download`. Errors are HubError naming repo, file and revision.
 */
export async function downloadHubFile(repoId: string, file: string, options: HubOptions = {}): Promise<string> {
  return download(settings(options), repoId, file);
}

/** The shard files named by a sharded checkpoint's index (`{"weight_map": {tensor: file}}`). */
function shardFiles(indexPath: string): string[] {
  const index = readJsonFile(indexPath, 'weights index') as { weight_map?: unknown };
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new HubError(`${indexPath}: no "weight_map" object`);
  const files = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const f of files) {
    if (typeof f !== 'string') throw new HubError(`${indexPath}: weight_map values must be file names`);
    checkRelativeFile(f);
  }
  return files as string[];
}

/**
 * Download one file of a hub repo that may not exist: its path, or null when the repo has no such file (or the hub
 * is unreachable / offline and the file is not cached). Any other failure is a HubError as for downloadHubFile.
 */
export async function downloadOptionalHubFile(
  repoId: string,
  file: string,
  options: HubOptions = {},
): Promise<string | null> {
  try {
    return await download(settings(options), repoId, file);
  } catch (err) {
    if (err instanceof NotFound || err instanceof Unavailable) return null;
    throw err;
  }
}

/**
 * A local model folder for `idOrDir`: an existing directory is returned as is; otherwise `idOrDir` is a hub
 * repo id ("org/name") whose config.json, tokenizer files and weights (model.safetensors, else
 * pytorch_model.bin) are downloaded into the HF cache (shared with Python) and the snapshot folder returned —
 * with `subfolder`, those files of that folder of the repo, and the snapshot's subfolder returned (as HF's
 * `from_pretrained(..., subfolder=)`). Honours HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN and HF_HUB_OFFLINE
 * unless options override them.
 */
export async function resolveModelPath(
  idOrDir: string,
  options: HubOptions & { subfolder?: string } = {},
): Promise<string> {
  if (existsSync(idOrDir)) {
    if (!statSync(idOrDir).isDirectory())
      throw new HubError(`${idOrDir} is a file; a model folder (config.json + weights) is expected`);
    return resolve(idOrDir);
  }
  if (/^(\.|\/|~|[A-Za-z]:\\)/.test(idOrDir) || idOrDir.split('/').length > 2) {
    throw new HubError(`model folder ${idOrDir} does not exist`);
  }
  const s = settings(options);
  checkRepoId(idOrDir);
  const prefix = options.subfolder ? `${options.subfolder.replace(/\/+$/, '')}/` : '';
  let folder: string | undefined;
  for (const file of MODEL_FILES.required) folder = dirname(await download(s, idOrDir, prefix + file));
  for (const file of MODEL_FILES.optional) {
    try {
      await download(s, idOrDir, prefix + file);
    } catch (err) {
      if (!(err instanceof NotFound || err instanceof Unavailable)) throw err;
    }
  }
  let weights: string | undefined;
  const failures: HubError[] = [];
  for (const file of MODEL_FILES.weights) {
    try {
      weights = await download(s, idOrDir, prefix + file);
      if (file.endsWith('.index.json')) {
        for (const shard of shardFiles(weights)) await download(s, idOrDir, prefix + shard);
      }
      break;
    } catch (err) {
      if (!(err instanceof NotFound || err instanceof Unavailable)) throw err;
      failures.push(err);
    }
  }
  if (!weights) {
    const unavailable = failures.find((e) => e instanceof Unavailable);
    if (unavailable) throw unavailable;
    throw new HubError(
      `${idOrDir} at revision "${s.revision}" has no weights: none of ${MODEL_FILES.weights.map((f) => prefix + f).join(', ')} found`,
    );
  }
  return folder!;
}
