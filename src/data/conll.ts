// CoNLL-2003 style token classification data (JSONL of tokens + ner_tags) and first-WordPiece label alignment.
import { DataError } from './errors.js';
import { readJsonlObjects, readLines } from './lines.js';

/** The CoNLL-2003 NER tag set in the order of the HF `conll2003` dataset (ids 0..8). */
export const CONLL2003_LABELS: readonly string[] = Object.freeze([
  'O',
  'B-PER',
  'I-PER',
  'B-ORG',
  'I-ORG',
  'B-LOC',
  'I-LOC',
  'B-MISC',
  'I-MISC',
]);

export interface TokenClassificationExample {
  /** Pre-split words. */
  tokens: string[];
  /** One tag id per word. */
  tags: number[];
  source: string;
}

export interface ConllOptions {
  tokensColumn?: string;
  tagsColumn?: string;
  /** Required when tags are strings (as in ../shared/data/conll2003). */
  label2id?: Record<string, number>;
  numLabels?: number;
  limit?: number;
}

/** Reads `{"tokens": [...], "ner_tags": [...]}` lines; tags are strings mapped through label2id, or integer ids. */
export async function readConllJsonl(path: string, opts: ConllOptions = {}): Promise<TokenClassificationExample[]> {
  const tokCol = opts.tokensColumn ?? 'tokens';
  const tagCol = opts.tagsColumn ?? 'ner_tags';
  const numLabels = opts.numLabels ?? (opts.label2id ? new Set(Object.values(opts.label2id)).size : undefined);
  const out: TokenClassificationExample[] = [];
  for await (const { where, row: obj } of readJsonlObjects(path)) {
    const tokens = obj[tokCol];
    const tags = obj[tagCol];
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string'))
      throw new DataError(where, `"${tokCol}" must be an array of strings`);
    if (!Array.isArray(tags)) throw new DataError(where, `row has no "${tagCol}" array`);
    if (tags.length !== tokens.length) throw new DataError(where, `${tokens.length} tokens but ${tags.length} tags`);
    if (tokens.length === 0) continue; // document separators / empty sentences carry nothing to learn
    const ids = tags.map((t: unknown, i: number) => {
      let id: number;
      if (typeof t === 'number') id = t;
      else if (typeof t === 'string') {
        if (!opts.label2id) throw new DataError(where, `tag "${t}" is a string but no label2id was given`);
        if (!Object.prototype.hasOwnProperty.call(opts.label2id, t)) {
          throw new DataError(
            where,
            `unknown tag "${t}" at word ${i} (known: ${Object.keys(opts.label2id).join(', ')})`,
          );
        }
        id = opts.label2id[t]!;
      } else throw new DataError(where, `tag ${i} must be a string or an integer`);
      if (!Number.isInteger(id) || id < 0 || (numLabels !== undefined && id >= numLabels)) {
        throw new DataError(where, `tag id ${id} out of range for ${numLabels ?? '?'} labels`);
      }
      return id;
    });
    out.push({ tokens: tokens as string[], tags: ids, source: where });
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  if (out.length === 0) throw new DataError(path, `no sentences`);
  return out;
}

/** The set of string tags used in a tokens/ner_tags JSONL file (to build a label list when none is given). */
export async function collectTags(path: string, tagsColumn = 'ner_tags'): Promise<Set<string>> {
  const tags = new Set<string>();
  for await (const [lineNo, line] of readLines(path)) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${path}:${lineNo}`, `not valid JSON (${(e as Error).message})`);
    }
    const t = (row as Record<string, unknown> | null)?.[tagsColumn];
    if (Array.isArray(t)) for (const x of t) if (typeof x === 'string') tags.add(x);
  }
  return tags;
}

/** What alignment needs from a tokenizer: the WordPiece ids of one pre-split word, and the special ids. */
export interface WordPieceSource {
  wordPieceIds(word: string): number[];
  clsId: number;
  sepId: number;
  unkId: number;
}

export interface AlignedTokenExample {
  inputIds: number[];
  /** Per WordPiece: the word's tag on its first piece, -100 on the other pieces and on [CLS]/[SEP]. */
  labels: number[];
  /** Index of the word each piece came from (-1 for specials), for mapping predictions back to words. */
  wordIds: number[];
}

/**
 * Tokenizes each word and labels its first WordPiece (HF's `label_all_tokens=False`). Words that produce no pieces
 * (e.g. control characters) become [UNK] so that every word keeps a prediction. Sequences longer than maxLength are
 * cut at the piece budget; words cut off lose their labels (and are not scored), as in HF's example.
 */
export function alignFirstWordPiece(
  ex: TokenClassificationExample,
  tok: WordPieceSource,
  maxLength: number,
): AlignedTokenExample {
  const inputIds = [tok.clsId];
  const labels = [-100];
  const wordIds = [-1];
  const budget = maxLength - 1; // room for [SEP]
  outer: for (let w = 0; w < ex.tokens.length; w++) {
    let pieces = tok.wordPieceIds(ex.tokens[w]!);
    if (pieces.length === 0) pieces = [tok.unkId];
    for (let p = 0; p < pieces.length; p++) {
      if (inputIds.length >= budget) break outer;
      inputIds.push(pieces[p]!);
      labels.push(p === 0 ? ex.tags[w]! : -100);
      wordIds.push(w);
    }
  }
  inputIds.push(tok.sepId);
  labels.push(-100);
  wordIds.push(-1);
  return { inputIds, labels, wordIds };
}
