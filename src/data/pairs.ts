// Text pairs for sentence embeddings and rerankers from JSONL(.gz) or CSV/TSV(.gz) columns: (anchor, positive[,
// negative...]), (sentence1, sentence2, score), (query, passage, label) — the column names sentence-transformers uses.
import { parseCsv } from './csv.js';
import { readJsonlObjects, readText } from './lines.js';

/** One row of a data file with `file:line` for error messages. */
export interface DataRow {
  where: string;
  row: Record<string, unknown>;
}

/** Every row of a .jsonl / .csv / .tsv file (optionally .gz) as an object keyed by column name. */
export async function readDataRows(path: string): Promise<{ columns: string[]; rows: DataRow[] }> {
  const rows: DataRow[] = [];
  if (/\.(csv|tsv)(\.gz)?$/.test(path)) {
    const records = parseCsv(await readText(path), path, /\.tsv(\.gz)?$/.test(path) ? '\t' : ',');
    const header = records[0]?.fields.map((h) => h.trim()) ?? [];
    if (records.length < 2) throw new Error(`${path}: no data rows (a header row, then one row per example)`);
    for (const rec of records.slice(1)) {
      const where = `${path}:${rec.line}`;
      if (rec.fields.length !== header.length)
        throw new Error(`${where}: row has ${rec.fields.length} fields, the header has ${header.length}`);
      rows.push({ where, row: Object.fromEntries(header.map((h, j) => [h, rec.fields[j]])) });
    }
    return { columns: header, rows };
  }
  for await (const r of readJsonlObjects(path)) rows.push(r);
  if (rows.length === 0) throw new Error(`${path}: no examples (the file has only blank lines)`);
  return { columns: Object.keys(rows[0]!.row), rows };
}

function text(r: DataRow, column: string): string {
  const v = r.row[column];
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${r.where}: no text in column "${column}"`);
  return v;
}

function number(r: DataRow, column: string): number {
  const raw = r.row[column];
  const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`${r.where}: column "${column}" must be a number, got ${JSON.stringify(raw)}`);
  return v;
}

function missing(path: string, columns: string[], wanted: string[]): Error {
  return new Error(`${path}: no column ${wanted.map((c) => `"${c}"`).join(' or ')} (columns: ${columns.join(', ')})`);
}

/** Texts by column (each column one list, row-aligned) and, for scored pairs, one score per row. */
export interface EmbeddingPairs {
  /** The text columns in order: [anchors, positives, ...negatives] or [sentences1, sentences2]. */
  columns: string[][];
  names: string[];
  /** Gold similarity per row (CoSENT), from a score / label column; null without one. */
  scores: number[] | null;
}

export interface EmbeddingPairsOptions {
  /** Text columns in order (default: anchor, positive, then negative / negative_1, ... or sentence1, sentence2). */
  textColumns?: string[];
  /** Score column (default: score, else label, when present). */
  scoreColumn?: string;
}

/** Reads training pairs / triplets / scored pairs for an embedding loss. */
export async function readEmbeddingPairs(path: string, options: EmbeddingPairsOptions = {}): Promise<EmbeddingPairs> {
  const { columns, rows } = await readDataRows(path);
  let names = options.textColumns;
  if (names === undefined) {
    if (columns.includes('anchor') && columns.includes('positive'))
      names = ['anchor', 'positive', ...columns.filter((c) => /^negative(_\d+)?$/.test(c))];
    else if (columns.includes('sentence1') && columns.includes('sentence2')) names = ['sentence1', 'sentence2'];
    else throw missing(path, columns, ['anchor" + "positive', 'sentence1" + "sentence2']);
  }
  for (const n of names) if (!columns.includes(n)) throw missing(path, columns, [n]);
  const scoreColumn = options.scoreColumn ?? ['score', 'label'].find((c) => columns.includes(c));
  if (scoreColumn !== undefined && !columns.includes(scoreColumn)) throw missing(path, columns, [scoreColumn]);
  return {
    columns: names.map((n) => rows.map((r) => text(r, n))),
    names,
    scores: scoreColumn === undefined ? null : rows.map((r) => number(r, scoreColumn)),
  };
}

/** (query, passage, label) rows for a cross-encoder. */
export interface RerankerPairs {
  queries: string[];
  passages: string[];
  labels: number[];
}

export interface RerankerPairsOptions {
  /** Default: query, else sentence1. */
  queryColumn?: string;
  /** Default: passage, else document, else sentence2. */
  passageColumn?: string;
  /** Default: label, else score. */
  labelColumn?: string;
}

const firstOf = (columns: string[], explicit: string | undefined, defaults: string[], path: string): string => {
  const c = explicit ?? defaults.find((d) => columns.includes(d));
  if (c === undefined || !columns.includes(c)) throw missing(path, columns, explicit ? [explicit] : defaults);
  return c;
};

/** Reads labelled (query, passage) pairs; labels are numbers (0/1 for binary relevance, or graded in [0, 1]). */
export async function readRerankerPairs(path: string, options: RerankerPairsOptions = {}): Promise<RerankerPairs> {
  const { columns, rows } = await readDataRows(path);
  const q = firstOf(columns, options.queryColumn, ['query', 'sentence1'], path);
  const p = firstOf(columns, options.passageColumn, ['passage', 'document', 'sentence2'], path);
  const l = firstOf(columns, options.labelColumn, ['label', 'score'], path);
  return {
    queries: rows.map((r) => text(r, q)),
    passages: rows.map((r) => text(r, p)),
    labels: rows.map((r) => number(r, l)),
  };
}
