// Temporary folders for tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh folder under the OS temp dir (`bert-ts-<name>-XXXXXX`), removed when the test file's tests end. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bert-ts-${name}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
