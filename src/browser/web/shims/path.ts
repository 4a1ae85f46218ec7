// node:path for the browser bundle: the POSIX functions the library uses, over '/'-separated paths (cwd is '/').
export const sep = '/';
export const delimiter = ':';

function normalizeParts(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

export function normalize(path: string): string {
  const abs = path.startsWith('/');
  const joined = normalizeParts(path).join('/');
  return abs ? `/${joined}` : joined || '.';
}

export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== '').join('/'));
}

export function resolve(...parts: string[]): string {
  let path = '';
  for (const p of parts) path = p.startsWith('/') ? p : `${path}/${p}`;
  return `/${normalizeParts(path).join('/')}`;
}

export function isAbsolute(path: string): boolean {
  return path.startsWith('/');
}

export function dirname(path: string): string {
  const parts = normalizeParts(path);
  parts.pop();
  return path.startsWith('/') ? `/${parts.join('/')}` : parts.join('/') || '.';
}

export function basename(path: string, ext?: string): string {
  const base = normalizeParts(path).pop() ?? '';
  return ext && base.endsWith(ext) && base !== ext ? base.slice(0, -ext.length) : base;
}

export function extname(path: string): string {
  const base = basename(path);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}

export function relative(from: string, to: string): string {
  const a = normalizeParts(resolve(from));
  const b = normalizeParts(resolve(to));
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

export const posix = { sep, delimiter, normalize, join, resolve, isAbsolute, dirname, basename, extname, relative };
export default posix;
