// Getting files into the browser build's in-memory file system, where fromPretrained, the readers and finetune find
// them by path: a model folder over fetch, a user-chosen File, bytes the page already has; gzip through the
// browser's DecompressionStream (the readers' zlib is not in the bundle).
import { listFiles, mountFile, readFileSync } from './shims/fs.js';

export { listFiles, mountFile };

/** The files a model folder may hold; config.json and one weights file are required, the rest are optional. */
export const MODEL_FOLDER_FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'special_tokens_map.json',
] as const;

/** The bytes of a mounted file. */
export function readMountedFile(path: string): Uint8Array {
  return readFileSync(path) as Uint8Array;
}

async function fetchBytes(url: string): Promise<Uint8Array | null> {
  const res = await fetch(url);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Fetches a model folder served at `baseUrl` (config.json, model.safetensors and the tokenizer files that exist)
 * into the in-memory folder `dir`, which then loads with `X.fromPretrained(dir)`. Returns the files mounted.
 */
export async function fetchModelFolder(
  baseUrl: string,
  dir: string,
  names: readonly string[] = MODEL_FOLDER_FILES,
): Promise<string[]> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const got = await Promise.all(
    names.map(
      async (name) =>
        [
          name,
          await fetchBytes(
            new URL(name, new URL(base, (globalThis as { location?: { href: string } }).location?.href)).href,
          ),
        ] as const,
    ),
  );
  const mounted: string[] = [];
  for (const [name, bytes] of got) {
    if (!bytes) continue;
    mountFile(`${dir}/${name}`, bytes);
    mounted.push(name);
  }
  if (!mounted.includes('config.json')) throw new Error(`${base}config.json: not found (is ${base} a model folder?)`);
  if (!mounted.includes('model.safetensors')) throw new Error(`${base}model.safetensors: not found`);
  return mounted;
}

/** Decompresses gzip bytes with the browser's DecompressionStream. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Fetches a data file into the in-memory path `path`; a `.gz` URL is decompressed on the way, so mount it under
 * the name without `.gz` (the readers' gzip support is Node's).
 */
export async function fetchDataFile(url: string, path: string): Promise<void> {
  const bytes = await fetchBytes(url);
  if (!bytes) throw new Error(`GET ${url}: not found`);
  mountFile(path, url.endsWith('.gz') ? await gunzip(bytes) : bytes);
}

/** Mounts a user-chosen File (an <input type="file">, a drop) at `path`. */
export async function mountUserFile(file: Blob, path: string): Promise<void> {
  mountFile(path, new Uint8Array(await file.arrayBuffer()));
}
