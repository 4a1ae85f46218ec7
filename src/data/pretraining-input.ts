// Streaming corpus input for pre-training: IMDb-style JSONL(.gz) and plain text (one sentence a line, blank line between documents).
import { DataError } from './errors.js';
import { readLines } from './lines.js';
import { splitSentences } from './sentences.js';

/** jsonl: one JSON object a line, its text field a whole document; text: the original BERT input format. */
export type CorpusFormat = 'jsonl' | 'text';

/** The format a file name implies: .jsonl / .ndjson / .json (optionally .gz) are JSONL, anything else plain text. */
export function detectCorpusFormat(path: string): CorpusFormat {
  return /\.(jsonl|ndjson|json)(\.gz)?$/i.test(path) ? 'jsonl' : 'text';
}

export interface CorpusReadOptions {
  /** Format of every input; default: from each file's name. */
  format?: CorpusFormat;
  /** JSONL field holding the text (default "text"). */
  textField?: string;
}

/** A document as read: its sentences, and where it started (file:line) for messages. */
export interface CorpusDocument {
  sentences: string[];
  source: string;
}

function jsonText(line: string, path: string, lineNo: number, field: string): string {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    throw new DataError(
      `${path}:${lineNo}`,
      `not valid JSON (${(e as Error).message}); JSONL input needs one JSON object a line`,
    );
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row))
    throw new DataError(`${path}:${lineNo}`, `expected a JSON object`);
  const v = (row as Record<string, unknown>)[field];
  if (typeof v !== 'string') {
    throw new DataError(
      `${path}:${lineNo}`,
      `no string field "${field}" (fields: ${Object.keys(row).join(', ')}); choose it with --text-field`,
    );
  }
  return v;
}

/**
 * Streams the documents of the inputs in order, one line in memory at a time (plus the document being built).
 * JSONL: each object's text is a document, split into sentences by {@link splitSentences}. Plain text: each
 * non-blank line is a sentence, a blank line ends a document (create_pretraining_data.py's format). Documents
 * without sentences are skipped.
 */
export async function* readCorpusDocuments(
  paths: readonly string[],
  options: CorpusReadOptions = {},
): AsyncGenerator<CorpusDocument> {
  const field = options.textField ?? 'text';
  for (const path of paths) {
    const format = options.format ?? detectCorpusFormat(path);
    if (format === 'jsonl') {
      for await (const [lineNo, line] of readLines(path)) {
        if (line.trim() === '') continue;
        const sentences = splitSentences(jsonText(line, path, lineNo, field));
        if (sentences.length > 0) yield { sentences, source: `${path}:${lineNo}` };
      }
    } else {
      let doc: string[] = [];
      let startLine = 1;
      for await (const [lineNo, line] of readLines(path)) {
        const s = line.trim();
        if (s === '') {
          if (doc.length > 0) yield { sentences: doc, source: `${path}:${startLine}` };
          doc = [];
          startLine = lineNo + 1;
        } else {
          doc.push(s);
        }
      }
      if (doc.length > 0) yield { sentences: doc, source: `${path}:${startLine}` };
    }
  }
}

/**
 * Streams the texts to count words in for vocabulary training: each JSONL object's text (with `<br />` tags
 * removed, which would otherwise become tokens), or each non-blank line of a plain-text file.
 */
export async function* readCorpusTexts(
  paths: readonly string[],
  options: CorpusReadOptions = {},
): AsyncGenerator<string> {
  const field = options.textField ?? 'text';
  for (const path of paths) {
    const format = options.format ?? detectCorpusFormat(path);
    for await (const [lineNo, line] of readLines(path)) {
      if (line.trim() === '') continue;
      yield format === 'jsonl' ? jsonText(line, path, lineNo, field).replace(/<br\s*\/?\s*>/giu, ' ') : line;
    }
  }
}
