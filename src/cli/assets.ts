// Files shipped with the package (assets/ at the package root), found relative to this module so that they
// resolve from src/cli (tsx) and from dist/cli (the built `bert` command) alike.
import { fileURLToPath } from 'node:url';

/** The embedded default tokenizer folder: bert-base-uncased's WordPiece vocabulary (see its README.md). */
export function defaultTokenizerDir(): string {
  return fileURLToPath(new URL('../../assets/default-tokenizer/', import.meta.url));
}
