// Question answering and multiple choice data: SQuAD v1.1 / v2.0 files (the official JSON layout, or JSON lines as HF
// datasets writes them), HF run_qa's training features (windows with a stride, answer token positions, [CLS] when
// the answer is outside a window), and SWAG-style multiple choice (CSV or JSON lines).
import { parseCsv } from './csv.js';
import { readJsonlObjects, readText } from './lines.js';
import { buildWindows, qaTokens, type QaTokenizer, type QaWindow } from './qa-spans.js';

/** One SQuAD question: every gold answer (empty for an unanswerable SQuAD 2.0 question). */
export interface QaExample {
  id: string;
  question: string;
  context: string;
  answers: { text: string; start: number }[];
}

/** One multiple-choice question (SWAG: a context and the endings to complete it) with the right choice. */
export interface ChoiceExample {
  /** The first text of every pair (SWAG's sent1). */
  context: string;
  /** The second text of each pair (SWAG's sent2 + " " + ending_i). */
  choices: string[];
  label: number;
}

function str(v: unknown, where: string, what: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: "${what}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Answers as SQuAD lists them ([{text, answer_start}]) or as HF datasets does ({text: [], answer_start: []}). */
function readAnswers(raw: unknown, context: string, where: string): QaExample['answers'] {
  let list: { text: unknown; answer_start: unknown }[];
  if (Array.isArray(raw)) list = raw as typeof list;
  else if (raw && typeof raw === 'object' && Array.isArray((raw as { text?: unknown }).text)) {
    const r = raw as { text: unknown[]; answer_start?: unknown };
    const starts = Array.isArray(r.answer_start) ? r.answer_start : [];
    if (starts.length !== r.text.length)
      throw new Error(`${where}: answers has ${r.text.length} texts but ${starts.length} answer_start values`);
    list = r.text.map((text, i) => ({ text, answer_start: starts[i] }));
  } else throw new Error(`${where}: "answers" must be a list of {text, answer_start} or {text: [], answer_start: []}`);
  return list.map((a, i) => {
    const text = str(a?.text, `${where}: answer ${i}`, 'text');
    const start = a?.answer_start;
    if (!Number.isInteger(start) || (start as number) < 0 || (start as number) + text.length > context.length)
      throw new Error(`${where}: answer ${i} answer_start ${JSON.stringify(start)} is not inside the context`);
    if (context.slice(start as number, (start as number) + text.length) !== text)
      throw new Error(
        `${where}: answer ${i} ${JSON.stringify(text)} is not at answer_start ${String(start)} of the context`,
      );
    return { text, start: start as number };
  });
}

function example(row: Record<string, unknown>, context: string, where: string, n: number): QaExample {
  const impossible = row['is_impossible'] === true;
  const answers = readAnswers(row['answers'] ?? [], context, where);
  if (!impossible && answers.length === 0 && row['is_impossible'] === false)
    throw new Error(`${where}: an answerable question with no answers`);
  return {
    id: row['id'] === undefined ? String(n) : String(row['id']),
    question: str(row['question'], where, 'question'),
    context,
    answers: impossible ? [] : answers,
  };
}

/**
 * Reads SQuAD v1.1 / v2.0 data: the official JSON ({data: [{paragraphs: [{context, qas: [{id, question, answers,
 * is_impossible}]}]}]}) or JSON lines with context, question and answers per line (HF datasets' squad layout).
 */
export async function readSquad(path: string): Promise<QaExample[]> {
  const out: QaExample[] = [];
  if (/\.jsonl(\.gz)?$/.test(path)) {
    for await (const { where, row } of readJsonlObjects(path))
      out.push(example(row, str(row['context'], where, 'context'), where, out.length));
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(await readText(path));
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    const data = (doc as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new Error(`${path}: a SQuAD file has a top-level "data" list`);
    data.forEach((article: { paragraphs?: unknown }, a) => {
      if (!Array.isArray(article?.paragraphs)) throw new Error(`${path}: data[${a}] has no "paragraphs" list`);
      article.paragraphs.forEach((p: { context?: unknown; qas?: unknown }, k) => {
        const where = `${path}: data[${a}].paragraphs[${k}]`;
        const context = str(p?.context, where, 'context');
        if (!Array.isArray(p.qas)) throw new Error(`${where}: no "qas" list`);
        p.qas.forEach((q: Record<string, unknown>, i) =>
          out.push(example(q, context, `${where}.qas[${i}]`, out.length)),
        );
      });
    });
  }
  if (out.length === 0) throw new Error(`${path}: no questions`);
  return out;
}

/** A training feature: one window with the answer's token positions in it (0 and 0, [CLS], when not inside). */
export interface QaFeature {
  inputIds: number[];
  tokenTypeIds: number[];
  startPosition: number;
  endPosition: number;
}

/**
 * HF run_qa's prepare_train_features: the question with each window of the context (stride `docStride`), labelled
 * with the first answer's first and last token when the window holds the whole answer, else with [CLS].
 */
export function qaTrainFeatures(tok: QaTokenizer, ex: QaExample, maxSeqLen: number, docStride: number): QaFeature[] {
  const { question, context } = qaTokens(tok, ex);
  const windows: QaWindow[] = buildWindows(question, context, tok, maxSeqLen, docStride);
  const answer = ex.answers[0];
  return windows.map((w) => {
    let startPosition = 0;
    let endPosition = 0;
    if (answer) {
      const startChar = answer.start;
      const endChar = answer.start + answer.text.length;
      const offsets = context.offsets;
      const first = offsets[w.contextStart];
      const last = offsets[w.contextEnd - 1];
      if (first && last && first[0] <= startChar && last[1] >= endChar) {
        let s = w.contextStart;
        while (s + 1 < w.contextEnd && offsets[s + 1]![0] <= startChar) s++;
        let e = w.contextEnd - 1;
        while (e - 1 >= s && offsets[e - 1]![1] >= endChar) e--;
        startPosition = w.contextOffset + (s - w.contextStart);
        endPosition = w.contextOffset + (e - w.contextStart);
      }
    }
    return { inputIds: w.inputIds, tokenTypeIds: w.tokenTypeIds, startPosition, endPosition };
  });
}

/** SWAG's columns: sent1 (context), sent2 (the start of every ending), ending0..ending3, label. */
function choiceExample(get: (column: string) => unknown, where: string, endings: number): ChoiceExample {
  const context = str(get('sent1'), where, 'sent1');
  const lead = get('sent2');
  const choices: string[] = [];
  for (let i = 0; i < endings; i++) {
    const ending = str(get(`ending${i}`), where, `ending${i}`);
    choices.push(typeof lead === 'string' && lead !== '' ? `${lead} ${ending}` : ending);
  }
  const raw = get('label');
  const label = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (!Number.isInteger(label) || (label as number) < 0 || (label as number) >= endings)
    throw new Error(`${where}: label must be an integer in [0, ${endings}), got ${JSON.stringify(raw)}`);
  return { context, choices, label: label as number };
}

/**
 * Reads SWAG-style multiple choice (HF run_swag): CSV or JSON lines with sent1, sent2, ending0..endingN and label;
 * each choice is the pair (sent1, sent2 + " " + ending_i).
 */
export async function readSwag(path: string): Promise<ChoiceExample[]> {
  const out: ChoiceExample[] = [];
  const count = (names: string[]) => names.filter((c) => /^ending\d+$/.test(c)).length;
  if (/\.jsonl(\.gz)?$/.test(path)) {
    for await (const { where, row } of readJsonlObjects(path))
      out.push(choiceExample((c) => row[c], where, count(Object.keys(row))));
  } else {
    const records = parseCsv(await readText(path), path, /\.tsv(\.gz)?$/.test(path) ? '\t' : ',');
    const header = records[0]?.fields ?? [];
    const endings = count(header);
    if (endings < 2) throw new Error(`${path}: the header needs sent1, ending0, ending1, ... and label columns`);
    for (const r of records.slice(1)) {
      if (r.fields.length === 1 && r.fields[0] === '') continue;
      out.push(choiceExample((c) => r.fields[header.indexOf(c)], `${path}:${r.line}`, endings));
    }
  }
  if (out.length === 0) throw new Error(`${path}: no examples`);
  const n = out[0]!.choices.length;
  const other = out.findIndex((e) => e.choices.length !== n);
  if (other >= 0)
    throw new Error(`${path}: example ${other} has ${out[other]!.choices.length} choices, the first ${n}`);
  return out;
}
