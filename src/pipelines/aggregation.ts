// Token-classification post-processing exactly as HF's TokenClassificationPipeline does it: pre-entities from
// word pieces, word aggregation (first / average / max), B-/I- grouping (simple and word strategies), and "O" filtering.
import { cleanUpTokenization } from '../tokenizer/tokenizer.js';
import { argmax } from '../tensor/math.js';

export type AggregationStrategy = 'none' | 'simple' | 'first' | 'average' | 'max';

/** One word piece of the input with its label probabilities (special tokens already removed). */
export interface PreEntity {
  /** The WordPiece token (e.g. "##ing"), or the original text for [UNK]. */
  word: string;
  /** Softmax over labels. */
  scores: ArrayLike<number>;
  start: number;
  end: number;
  /** Position in the encoded sequence ([CLS] is 0). */
  index: number;
  /** True when the piece continues the previous word. */
  isSubword: boolean;
}

/** A token-level entity (strategy none). */
export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

/** A grouped entity (strategies simple, first, average, max). */
export interface GroupedEntity {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

/** What the grouping works on: a labelled word or piece. */
interface Labelled {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

/**
 * The WordPiece decoder of HF tokenizers (prefix "##", cleanup on), which is what `convert_tokens_to_string`
 * runs for a fast BERT tokenizer: a "##" piece after the first glues to its left, others get a space, and each
 * piece gets the cleanup replacements (" ." -> ".", " 's" -> "'s", ...).
 */
export function wordPieceTokensToString(tokens: readonly string[]): string {
  return tokens
    .map((token, i) => {
      let t = token;
      if (i !== 0) t = t.startsWith('##') ? t.slice(2) : ` ${t}`;
      return cleanUpTokenization(t);
    })
    .join('');
}

/**
 * HF's subword test for a tokenizer with a continuing-subword prefix: the piece's text differs in length from the
 * characters it covers (`covered`: "##ing" is 5 long and covers "ing"). An [UNK] piece is never a subword.
 */
export function isSubwordPiece(token: string, covered: string, isUnknown: boolean): boolean {
  if (isUnknown) return false;
  // Python's len counts code points, so compare code points (not UTF-16 units) to match HF on non-BMP text.
  return [...token].length !== [...covered].length;
}

/** The first and last member of a word or group: the grouping loops only ever close non-empty ones. */
function ends<T>(group: readonly T[]): [T, T] {
  const first = group[0];
  const last = group[group.length - 1];
  if (first === undefined || last === undefined) throw new Error('token-classification: an empty group of pieces');
  return [first, last];
}

/** Splits "B-PER" into ["B", "PER"]; a label without a B-/I- prefix counts as a continuation ("I"). */
function getTag(name: string): [string, string] {
  if (name.startsWith('B-')) return ['B', name.slice(2)];
  if (name.startsWith('I-')) return ['I', name.slice(2)];
  return ['I', name];
}

function label(id2label: Record<number, string>, id: number): string {
  const name = id2label[id];
  if (name === undefined)
    throw new Error(`the model predicted label ${id}, which config.json's id2label does not name`);
  return name;
}

function aggregateWord(
  pieces: PreEntity[],
  strategy: 'first' | 'average' | 'max',
  id2label: Record<number, string>,
): Labelled {
  const word = wordPieceTokensToString(pieces.map((p) => p.word));
  const [first, last] = ends(pieces);
  let scores: ArrayLike<number>;
  if (strategy === 'first') {
    scores = first.scores;
  } else if (strategy === 'max') {
    // The piece whose best label is most probable decides; the first such piece on ties (Python's max).
    let best = first;
    let bestMax = -Infinity;
    for (const p of pieces) {
      const m = p.scores[argmax(p.scores)]!;
      if (m > bestMax) {
        bestMax = m;
        best = p;
      }
    }
    scores = best.scores;
  } else {
    const n = first.scores.length;
    const mean = new Float64Array(n);
    for (const p of pieces) for (let j = 0; j < n; j++) mean[j]! += p.scores[j]!;
    for (let j = 0; j < n; j++) mean[j]! /= pieces.length;
    scores = mean;
  }
  const id = argmax(scores);
  return {
    entity: label(id2label, id),
    score: scores[id]!,
    word,
    start: first.start,
    end: last.end,
  };
}

function groupSubEntities(group: Labelled[]): GroupedEntity {
  // Python's name.split("-", 1)[-1]: everything after the first dash, or the whole name.
  const [first, last] = ends(group);
  const entity = first.entity.slice(first.entity.indexOf('-') + 1);
  let sum = 0;
  for (const e of group) sum += e.score;
  return {
    entity_group: entity,
    score: sum / group.length,
    word: wordPieceTokensToString(group.map((e) => e.word)),
    start: first.start,
    end: last.end,
  };
}

/** Merges adjacent entities with the same tag unless the next one starts a new entity ("B-"). */
function groupEntities(entities: Labelled[]): GroupedEntity[] {
  const groups: GroupedEntity[] = [];
  let current: Labelled[] = [];
  for (const entity of entities) {
    const previous = current[current.length - 1];
    if (previous === undefined) {
      current.push(entity);
      continue;
    }
    const [bi, tag] = getTag(entity.entity);
    const [, lastTag] = getTag(previous.entity);
    if (tag === lastTag && bi !== 'B') {
      current.push(entity);
    } else {
      groups.push(groupSubEntities(current));
      current = [entity];
    }
  }
  if (current.length > 0) groups.push(groupSubEntities(current));
  return groups;
}

/**
 * Turns pre-entities into the pipeline's output for one text. `ignoreLabels` (default ["O"]) are dropped after
 * grouping, so an "O" between two pieces still separates their groups.
 */
export function aggregateEntities(
  preEntities: PreEntity[],
  strategy: AggregationStrategy,
  id2label: Record<number, string>,
  ignoreLabels: readonly string[] = ['O'],
): TokenEntity[] | GroupedEntity[] {
  if (strategy === 'none' || strategy === 'simple') {
    const tokens: TokenEntity[] = preEntities.map((p) => {
      const id = argmax(p.scores);
      return {
        entity: label(id2label, id),
        score: p.scores[id]!,
        index: p.index,
        word: p.word,
        start: p.start,
        end: p.end,
      };
    });
    if (strategy === 'none') return tokens.filter((e) => !ignoreLabels.includes(e.entity));
    return groupEntities(tokens).filter((e) => !ignoreLabels.includes(e.entity_group));
  }
  if (strategy !== 'first' && strategy !== 'average' && strategy !== 'max') {
    throw new Error(`unknown aggregation strategy "${String(strategy)}": use none, simple, first, average or max`);
  }
  const words: Labelled[] = [];
  let group: PreEntity[] = [];
  for (const p of preEntities) {
    if (group.length > 0 && !p.isSubword) {
      words.push(aggregateWord(group, strategy, id2label));
      group = [];
    }
    group.push(p);
  }
  if (group.length > 0) words.push(aggregateWord(group, strategy, id2label));
  return groupEntities(words).filter((e) => !ignoreLabels.includes(e.entity_group));
}
