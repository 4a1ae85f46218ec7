// Text-classification datasets from JSONL(.gz), CSV(.gz) or the aclImdb folder layout, with named columns and label2id.
import { DataError } from './errors.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseCsv } from './csv.js';
import { readJsonlObjects, readText } from './lines.js';

/** single label (class id), multi-label (multi-hot vector) or regression (one or more floats). */
export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';

export interface TextClassificationExample {
  text: string;
  /** Second segment for sentence-pair tasks (NLI, paraphrase). */
  textPair?: string;
  /** A class id for single-label; a multi-hot vector for multi-label; the target value(s) for regression. */
  label: number | number[];
  /** `file:line` (or the file path for the folder layout), so later errors can point at the row. */
  source: string;
}

export interface TextClassificationOptions {
  /** Column (JSON key / CSV header) holding the text; default: the first of text, review, sentence, content. */
  textColumn?: string;
  /** Optional second text column (e.g. hypothesis / sentence2). */
  textPairColumn?: string;
  /** Column with the label; default: the first of label, labels, sentiment. */
  labelColumn?: string;
  /** Map from string labels to ids; required when labels are strings (other than integer-valued CSV cells). */
  label2id?: Record<string, number>;
  /** Number of labels, to reject out-of-range ids early (defaults to the size of label2id when given). */
  numLabels?: number;
  problemType?: ProblemType;
  /** Replace HTML line breaks (`<br />`, as in IMDb) by newlines; default true. */
  cleanHtml?: boolean;
  /** Stop after this many rows (for quick looks at a huge file). */
  limit?: number;
  /**
   * Single-label only, without label2id: string labels are added to this set instead of being refused (their
   * examples get the placeholder id -1), so that a caller can build label2id from them and read the file again.
   */
  collectStringLabels?: Set<string>;
}

/** The label names of the IMDb sentiment task, in the order of the HF `imdb` dataset. */
export const IMDB_LABEL2ID: Readonly<Record<string, number>> = Object.freeze({
  negative: 0,
  positive: 1,
  neg: 0,
  pos: 1,
});

const TEXT_COLUMNS = ['text', 'review', 'sentence', 'content'];
const LABEL_COLUMNS = ['label', 'labels', 'sentiment'];

/** `<br />` (any case, spacing, with or without the slash) becomes a newline before tokenization. */
export function cleanReviewText(text: string): string {
  return text.replace(/<br\s*\/?\s*>/gi, '\n');
}

function pickColumn(
  explicit: string | undefined,
  defaults: string[],
  available: string[],
  what: string,
  source: string,
): string {
  if (explicit !== undefined) {
    if (!available.includes(explicit)) {
      throw new DataError(source, `no ${what} column "${explicit}" (columns: ${available.join(', ')})`);
    }
    return explicit;
  }
  for (const d of defaults) if (available.includes(d)) return d;
  throw new DataError(
    source,
    `cannot find a ${what} column (tried ${defaults.join(', ')}; columns: ${available.join(', ')}); name it with the ${what}-column option`,
  );
}

/** Converts one raw label value into the example's label, or throws naming the row. */
function convertLabel(
  raw: unknown,
  where: string,
  opts: TextClassificationOptions,
  fromCsv: boolean,
): number | number[] {
  const problem = opts.problemType ?? 'single_label_classification';
  const numLabels = opts.numLabels ?? (opts.label2id ? new Set(Object.values(opts.label2id)).size : undefined);
  if (problem === 'regression') {
    const vals = Array.isArray(raw) ? raw : [raw];
    return vals.map((v) => {
      const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof x !== 'number' || !Number.isFinite(x))
        throw new DataError(where, `regression label must be a number, got ${JSON.stringify(v)}`);
      return x;
    });
  }
  if (problem === 'multi_label_classification') {
    let vec: unknown = raw;
    if (fromCsv && typeof raw === 'string') {
      try {
        vec = JSON.parse(raw);
      } catch {
        throw new DataError(where, `multi-label label must be a JSON array like [0,1,0], got ${JSON.stringify(raw)}`);
      }
    }
    if (!Array.isArray(vec) || vec.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new DataError(
        where,
        `multi-label label must be an array of numbers (multi-hot), got ${JSON.stringify(raw)}`,
      );
    }
    if (numLabels !== undefined && vec.length !== numLabels) {
      throw new DataError(where, `multi-label vector has ${vec.length} entries, the model has ${numLabels} labels`);
    }
    return vec as number[];
  }
  let id: number;
  if (typeof raw === 'number') {
    id = raw;
  } else if (typeof raw === 'string') {
    const key = raw.trim();
    if (opts.label2id && Object.prototype.hasOwnProperty.call(opts.label2id, key)) {
      id = opts.label2id[key]!;
    } else if (fromCsv && /^-?\d+$/.test(key)) {
      // CSV has no types: "1" is the integer label 1.
      id = Number(key);
    } else if (opts.label2id) {
      throw new DataError(where, `unknown label "${key}" (known: ${Object.keys(opts.label2id).join(', ')})`);
    } else if (opts.collectStringLabels) {
      opts.collectStringLabels.add(key);
      return -1;
    } else {
      throw new DataError(
        where,
        `label "${key}" is a string but no label2id was given; pass one (e.g. {"negative":0,"positive":1}) or use integer labels`,
      );
    }
  } else {
    throw new DataError(where, `label must be an integer or a string, got ${JSON.stringify(raw)}`);
  }
  if (!Number.isInteger(id) || id < 0)
    throw new DataError(where, `label ${JSON.stringify(raw)} is not a non-negative integer class id`);
  if (numLabels !== undefined && id >= numLabels)
    throw new DataError(where, `label id ${id} is out of range for ${numLabels} labels`);
  return id;
}

function makeExample(
  row: Record<string, unknown>,
  where: string,
  cols: { text: string; pair?: string; label: string },
  opts: TextClassificationOptions,
  fromCsv: boolean,
): TextClassificationExample {
  const text = row[cols.text];
  if (typeof text !== 'string' || text.trim() === '')
    throw new DataError(where, `row has no text (column "${cols.text}")`);
  const rawLabel = row[cols.label];
  if (rawLabel === undefined || rawLabel === null || rawLabel === '')
    throw new DataError(where, `row has no label (column "${cols.label}")`);
  const clean = opts.cleanHtml === false ? (s: string) => s : cleanReviewText;
  const ex: TextClassificationExample = {
    text: clean(text),
    label: convertLabel(rawLabel, where, opts, fromCsv),
    source: where,
  };
  if (cols.pair !== undefined) {
    const pair = row[cols.pair];
    if (typeof pair !== 'string' || pair.trim() === '')
      throw new DataError(where, `row has no text pair (column "${cols.pair}")`);
    ex.textPair = clean(pair);
  }
  return ex;
}

/** Reads a JSON-lines file (.jsonl or .jsonl.gz, streamed) of objects with a text and a label field. */
export async function readJsonlClassification(
  path: string,
  opts: TextClassificationOptions = {},
): Promise<TextClassificationExample[]> {
  const out: TextClassificationExample[] = [];
  let cols: { text: string; pair?: string; label: string } | undefined;
  for await (const { where, row: obj } of readJsonlObjects(path)) {
    if (cols === undefined) {
      // Columns are chosen from the first row; a later row missing them is reported as a missing text/label.
      const keys = Object.keys(obj);
      cols = {
        text: pickColumn(opts.textColumn, TEXT_COLUMNS, keys, 'text', where),
        label: pickColumn(opts.labelColumn, LABEL_COLUMNS, keys, 'label', where),
      };
      if (opts.textPairColumn !== undefined) cols.pair = pickColumn(opts.textPairColumn, [], keys, 'text-pair', where);
    }
    out.push(makeExample(obj, where, cols, opts, false));
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  if (out.length === 0) throw new DataError(path, `no examples (the file has only blank lines)`);
  return out;
}

/** Reads a CSV file (RFC 4180, header row first; .csv or .csv.gz). The common IMDb `review,sentiment` file works as is. */
export async function readCsvClassification(
  path: string,
  opts: TextClassificationOptions = {},
): Promise<TextClassificationExample[]> {
  const delimiter = /\.tsv(\.gz)?$/.test(path) ? '\t' : ',';
  const records = parseCsv(await readText(path), path, delimiter);
  if (records.length === 0) throw new DataError(path, `file has no rows`);
  const header = records[0]!.fields.map((h) => h.trim());
  if (records.length === 1) throw new DataError(path, `file has a header row but no data rows`);
  const where0 = `${path}:${records[0]!.line}`;
  const cols: { text: string; pair?: string; label: string } = {
    text: pickColumn(opts.textColumn, TEXT_COLUMNS, header, 'text', where0),
    label: pickColumn(opts.labelColumn, LABEL_COLUMNS, header, 'label', where0),
  };
  if (opts.textPairColumn !== undefined) cols.pair = pickColumn(opts.textPairColumn, [], header, 'text-pair', where0);
  // The IMDb CSV's positive/negative strings are a known task: use its mapping when the caller gave none.
  const o: TextClassificationOptions =
    opts.label2id === undefined && cols.label === 'sentiment'
      ? { ...opts, label2id: { ...IMDB_LABEL2ID }, numLabels: opts.numLabels ?? 2 }
      : opts;
  const out: TextClassificationExample[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    const where = `${path}:${rec.line}`;
    if (rec.fields.length !== header.length) {
      throw new DataError(
        where,
        `row has ${rec.fields.length} fields, the header has ${header.length} (unquoted comma or newline?)`,
      );
    }
    const row: Record<string, unknown> = {};
    header.forEach((h, j) => (row[h] = rec.fields[j]));
    out.push(makeExample(row, where, cols, o, true));
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  return out;
}

/**
 * Reads the original aclImdb layout: `dir/pos/<id>_<rating>.txt` (label 1) and `dir/neg/...` (label 0), where dir is
 * `aclImdb/train` or `aclImdb/test`. Files are ordered neg then pos, by numeric id, like the HF dataset.
 */
export async function readImdbFolder(
  dir: string,
  opts: Pick<TextClassificationOptions, 'cleanHtml' | 'limit'> = {},
): Promise<TextClassificationExample[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, `not a folder`);
  const hasSplit = (d: string) => existsSync(join(d, 'pos')) && existsSync(join(d, 'neg'));
  if (!hasSplit(dir)) {
    const hint = existsSync(join(dir, 'train')) ? ` (did you mean ${join(dir, 'train')} or ${join(dir, 'test')}?)` : '';
    throw new DataError(dir, `expected the aclImdb layout with pos/ and neg/ subfolders${hint}`);
  }
  const out: TextClassificationExample[] = [];
  const pattern = /^(\d+)_(\d+)\.txt$/;
  for (const [sub, label] of [
    ['neg', 0],
    ['pos', 1],
  ] as const) {
    const folder = join(dir, sub);
    const files = readdirSync(folder)
      .map((f) => ({ f, m: pattern.exec(f) }))
      .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
      .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
    for (const { f } of files) {
      const path = join(folder, f);
      const text = (await readFile(path, 'utf8')).trim();
      if (text === '') throw new DataError(path, `review file is empty`);
      out.push({ text: opts.cleanHtml === false ? text : cleanReviewText(text), label, source: path });
      if (opts.limit !== undefined && out.length >= opts.limit) return out;
    }
  }
  if (out.length === 0) throw new DataError(dir, `pos/ and neg/ hold no <id>_<rating>.txt files`);
  return out;
}

/** The rating encoded in an aclImdb file name (`123_8.txt` → 8), or undefined. */
export function imdbRatingFromName(path: string): number | undefined {
  const m = /^(\d+)_(\d+)\.txt$/.exec(basename(path));
  return m ? Number(m[2]) : undefined;
}

/** Any supported text-classification source, chosen by what `path` is: a folder (aclImdb), .csv/.tsv(.gz), else JSONL. */
export async function readTextClassification(
  path: string,
  opts: TextClassificationOptions = {},
): Promise<TextClassificationExample[]> {
  if (!existsSync(path)) throw new DataError(path, `no such file or folder`);
  if (statSync(path).isDirectory()) return readImdbFolder(path, opts);
  if (/\.(csv|tsv)(\.gz)?$/i.test(path)) return readCsvClassification(path, opts);
  if (/\.(jsonl|ndjson|json)(\.gz)?$/i.test(path)) return readJsonlClassification(path, opts);
  throw new DataError(path, `unknown data format; use .jsonl/.jsonl.gz, .csv/.tsv(.gz) or an aclImdb split folder`);
}
