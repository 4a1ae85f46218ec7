// WordPiece vocabulary training, the algorithm of HF tokenizers' WordPieceTrainer (a BPE trainer with "##" continuations).
//
// HF's WordPieceTrainer is its BpeTrainer with continuing_subword_prefix "##": count words, take the alphabet
// (limited to the `limitAlphabet` most frequent characters), split every word into characters (non-initial ones
// prefixed "##"), then repeatedly merge the most frequent adjacent pair (ties: the smaller (left id, right id)),
// until the vocabulary has `vocabSize` entries or no pair is at least `minFrequency` frequent.
//
// This file mirrors bpe/trainer.rs step by step, including its lazy priority queue (a stale entry is re-queued
// with the current count; a pair's entry only merges the words recorded in it), because those details decide
// which merge wins a tie and so the order of the vocabulary. Where HF depends on Rust's randomly-seeded HashMap
// iteration order (the ids of the "##c" tokens, which of equally frequent characters `limitAlphabet` drops), HF
// itself is not deterministic from run to run; here the order is fixed: words in first-seen order, characters
// dropped lowest count first then highest code point first. docs/pretraining-data.md explains the consequences.

/** Options of {@link trainWordPiece}; the defaults are those of HF's `BertWordPieceTokenizer.train`. */
export interface WordPieceTrainerOptions {
  /** Target vocabulary size, special tokens included (default 30000). */
  vocabSize?: number;
  /** A merge is made only while the most frequent pair occurs at least this often (default 2). */
  minFrequency?: number;
  /** Tokens placed first, in this order (default BERT's [PAD] [UNK] [CLS] [SEP] [MASK]). */
  specialTokens?: readonly string[];
  /** Keep at most this many distinct characters in the initial alphabet (default 1000; undefined = no limit). */
  limitAlphabet?: number | null;
  /** Characters that are always in the alphabet, even if absent from the corpus. */
  initialAlphabet?: readonly string[];
  /** Prefix of a subword that does not start a word (default "##"). */
  continuingSubwordPrefix?: string;
  /** Suffix of a subword that ends a word (default none; WordPiece does not use one). */
  endOfWordSuffix?: string;
  /** Longest merged token, in characters, as HF's `max_token_length` (default no limit). */
  maxTokenLength?: number;
  /**
   * Ids of the continuation tokens ("##c") are given in this order first (then first-seen order). HF gives them in
   * the iteration order of a randomly-seeded hash map; passing the order of a given HF vocabulary reproduces that
   * run exactly. Meant for comparing against HF, not for normal use.
   */
  continuationOrder?: readonly string[];
  /** Called now and then with the phase and how far it is. */
  onProgress?: (progress: TrainerProgress) => void;
}

/** Progress report of the trainer. */
export interface TrainerProgress {
  phase: 'alphabet' | 'tokenize' | 'count-pairs' | 'merge' | 'done';
  /** Work done in this phase (merges made, words handled). */
  done: number;
  /** Total work of this phase when known (vocabulary size target for merges). */
  total: number;
}

/** The result: the vocabulary in id order and the merges that built it. */
export interface TrainedWordPiece {
  /** Token of each id: special tokens, alphabet, "##" characters, then merged tokens in merge order. */
  vocab: string[];
  /** Merges in the order made: [left, right] token strings (a pair may appear twice, as in HF). */
  merges: Array<[string, string]>;
  /** How many distinct words were trained on. */
  wordTypes: number;
}

export const BERT_SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** Counts words (the output of normalisation + pre-tokenisation) in first-seen order. */
export class WordCounter {
  readonly counts = new Map<string, number>();
  /** Total words added (with repetitions). */
  total = 0;

  add(words: Iterable<string>): void {
    for (const w of words) {
      this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
      this.total++;
    }
  }

  /** Adds `count` occurrences of a word at once (merging counts from several counters, reading a count file). */
  addCount(word: string, count: number): void {
    this.counts.set(word, (this.counts.get(word) ?? 0) + count);
    this.total += count;
  }
}

// Pairs of ids as one number key; ids stay far below 2^26 (67M tokens) so the key is an exact double.
const PAIR_SHIFT = 0x4000000;
function pairKey(a: number, b: number): number {
  return a * PAIR_SHIFT + b;
}

interface QueueEntry {
  a: number;
  b: number;
  count: number;
  /** Indices of the words where this pair was (newly) seen when the entry was made. */
  pos: number[];
}

// Rust's Ord for the trainer's Merge: higher count first; on equal count the smaller (a, b) pair first.
function greater(x: QueueEntry, y: QueueEntry): boolean {
  if (x.count !== y.count) return x.count > y.count;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}
function lessOrEqual(x: QueueEntry, y: QueueEntry): boolean {
  return !greater(x, y);
}

/**
 * A max-heap with the exact push/pop moves of Rust's std BinaryHeap (sift_up; pop = move the last element to the
 * root, sift it all the way down along the larger child, then up), so that entries comparing equal come out in
 * the same order as in HF for the same sequence of pushes.
 */
class RustBinaryHeap {
  private readonly data: QueueEntry[] = [];

  get length(): number {
    return this.data.length;
  }

  push(item: QueueEntry): void {
    this.data.push(item);
    this.siftUp(0, this.data.length - 1);
  }

  pop(): QueueEntry | undefined {
    const last = this.data.pop();
    if (last === undefined || this.data.length === 0) return last;
    const top = this.data[0]!;
    this.data[0] = last;
    this.siftDownToBottom(0);
    return top;
  }

  private siftUp(start: number, pos: number): number {
    const d = this.data;
    const elem = d[pos]!;
    while (pos > start) {
      const parent = (pos - 1) >> 1;
      if (lessOrEqual(elem, d[parent]!)) break;
      d[pos] = d[parent]!;
      pos = parent;
    }
    d[pos] = elem;
    return pos;
  }

  private siftDownToBottom(pos: number): void {
    const d = this.data;
    const end = d.length;
    const start = pos;
    const elem = d[pos]!;
    let child = 2 * pos + 1;
    while (child <= end - 2) {
      if (lessOrEqual(d[child]!, d[child + 1]!)) child += 1;
      d[pos] = d[child]!;
      pos = child;
      child = 2 * pos + 1;
    }
    if (child === end - 1) {
      d[pos] = d[child]!;
      pos = child;
    }
    d[pos] = elem;
    this.siftUp(start, pos);
  }
}

function validate(o: WordPieceTrainerOptions): void {
  const intOpt = (name: string, v: number | null | undefined, min: number): void => {
    if (v === undefined || v === null) return;
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`trainWordPiece: option ${name} must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  intOpt('vocabSize', o.vocabSize, 1);
  intOpt('minFrequency', o.minFrequency, 0);
  intOpt('limitAlphabet', o.limitAlphabet, 0);
  intOpt('maxTokenLength', o.maxTokenLength, 1);
  for (const c of o.initialAlphabet ?? []) {
    if ([...c].length !== 1)
      throw new RangeError(`trainWordPiece: initialAlphabet entry ${JSON.stringify(c)} is not one character`);
  }
}

/**
 * Learns a WordPiece vocabulary from word counts (words as produced by normalisation + pre-tokenisation, e.g.
 * BertNormalizer + BertPreTokenizer). Iteration order of `wordCounts` is the "first-seen" order used to assign the
 * ids of "##" characters.
 */
export function trainWordPiece(
  wordCounts: ReadonlyMap<string, number> | Iterable<readonly [string, number]>,
  options: WordPieceTrainerOptions = {},
): TrainedWordPiece {
  validate(options);
  const vocabSize = options.vocabSize ?? 30000;
  const minFrequency = options.minFrequency ?? 2;
  const specials = options.specialTokens ?? BERT_SPECIAL_TOKENS;
  const limitAlphabet = options.limitAlphabet === undefined ? 1000 : options.limitAlphabet;
  const prefix = options.continuingSubwordPrefix ?? '##';
  const suffix = options.endOfWordSuffix;
  const maxTokenLength = options.maxTokenLength ?? Number.POSITIVE_INFINITY;
  const progress = options.onProgress ?? ((): void => {});

  const entries: Array<readonly [string, number]> = [];
  for (const e of wordCounts instanceof Map ? wordCounts.entries() : wordCounts) {
    if (!(e[1] > 0)) continue; // a zero count contributes nothing in HF either (pairs with count 0 are never queued)
    entries.push(e);
  }

  const wordToId = new Map<string, number>();
  const idToWord: string[] = [];
  const addToken = (s: string): number => {
    let id = wordToId.get(s);
    if (id === undefined) {
      id = idToWord.length;
      idToWord.push(s);
      wordToId.set(s, id);
    }
    return id;
  };

  // 1. Special tokens.
  for (const t of specials) addToken(t);

  // 2. Alphabet: characters weighted by word count, limited to the most frequent ones, then sorted by code point.
  progress({ phase: 'alphabet', done: 0, total: entries.length });
  const alphabet = new Map<string, number>();
  for (const [word, count] of entries) {
    for (const c of word) alphabet.set(c, (alphabet.get(c) ?? 0) + count);
  }
  for (const c of options.initialAlphabet ?? []) alphabet.set(c, Number.POSITIVE_INFINITY);
  let kept = [...alphabet.entries()];
  const toRemove = limitAlphabet !== null && alphabet.size > limitAlphabet ? alphabet.size - limitAlphabet : 0;
  if (toRemove > 0) {
    // HF sorts by count with an unstable sort over hash order, so which of equally frequent characters go is
    // random there; here the higher code point goes first.
    kept.sort((x, y) => x[1] - y[1] || y[0].codePointAt(0)! - x[0].codePointAt(0)!);
    kept = kept.slice(toRemove);
  }
  kept.sort((x, y) => x[0].codePointAt(0)! - y[0].codePointAt(0)!);
  for (const [c] of kept) addToken(c);

  // 3. Words as sequences of symbol ids; continuation characters get the prefix.
  for (const t of options.continuationOrder ?? []) {
    const body = t.startsWith(prefix) ? t.slice(prefix.length) : t;
    if (wordToId.has(body)) addToken(t);
  }
  const wordSymbols: number[][] = [];
  const wordLens: number[][] = [];
  const counts: number[] = [];
  for (let wi = 0; wi < entries.length; wi++) {
    const [word, count] = entries[wi]!;
    const chars = [...word];
    const ids: number[] = [];
    for (let i = 0; i < chars.length; i++) {
      let s = chars[i]!;
      if (!wordToId.has(s)) continue; // a character dropped by limitAlphabet: skipped, as in HF
      if (i > 0) s = prefix + s;
      if (i === chars.length - 1 && suffix !== undefined) s = s + suffix;
      ids.push(addToken(s));
    }
    wordSymbols.push(ids);
    wordLens.push(ids.map(() => 1));
    counts.push(count);
    if ((wi & 0xffff) === 0) progress({ phase: 'tokenize', done: wi, total: entries.length });
  }

  // 4. Pair counts and where each pair occurs.
  progress({ phase: 'count-pairs', done: 0, total: entries.length });
  const pairCounts = new Map<number, number>();
  let whereToUpdate = new Map<number, number[]>();
  for (let wi = 0; wi < wordSymbols.length; wi++) {
    const ids = wordSymbols[wi]!;
    const count = counts[wi]!;
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = pairKey(ids[i]!, ids[i + 1]!);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + count);
      const pos = whereToUpdate.get(k);
      if (pos === undefined) whereToUpdate.set(k, [wi]);
      else if (pos[pos.length - 1] !== wi) pos.push(wi);
    }
  }
  const queue = new RustBinaryHeap();
  const flush = (): void => {
    for (const [k, pos] of whereToUpdate) {
      const count = pairCounts.get(k)!;
      if (count > 0) queue.push({ a: Math.floor(k / PAIR_SHIFT), b: k % PAIR_SHIFT, count, pos });
    }
    whereToUpdate = new Map();
  };
  flush();

  // 5. Merges.
  const merges: Array<[string, string]> = [];
  const change = (a: number, b: number, delta: number, count: number, wi: number): void => {
    const k = pairKey(a, b);
    pairCounts.set(k, (pairCounts.get(k) ?? 0) + delta * count);
    if (delta > 0) {
      const pos = whereToUpdate.get(k);
      if (pos === undefined) whereToUpdate.set(k, [wi]);
      else if (pos[pos.length - 1] !== wi) pos.push(wi);
    }
  };
  let lastReport = 0;
  for (;;) {
    if (wordToId.size >= vocabSize) break;
    const top = queue.pop();
    if (top === undefined) break;
    const current = pairCounts.get(pairKey(top.a, top.b))!;
    if (top.count !== current) {
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || minFrequency > top.count) break;

    const partA = idToWord[top.a]!;
    let partB = idToWord[top.b]!;
    if (partB.startsWith(prefix)) partB = partB.slice(prefix.length);
    const newId = addToken(partA + partB);
    merges.push([partA, idToWord[top.b]!]);

    for (const wi of top.pos) {
      const ids = wordSymbols[wi]!;
      const lens = wordLens[wi]!;
      const count = counts[wi]!;
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== top.a || i + 1 >= ids.length || ids[i + 1] !== top.b) continue;
        const newLen = lens[i]! + lens[i + 1]!;
        if (i > 0) {
          change(ids[i - 1]!, top.a, -1, count, wi);
          if (lens[i - 1]! + newLen < maxTokenLength) change(ids[i - 1]!, newId, 1, count, wi);
        }
        ids.splice(i, 2, newId);
        lens.splice(i, 2, newLen);
        if (i < ids.length - 1) {
          change(top.b, ids[i + 1]!, -1, count, wi);
          if (lens[i + 1]! + newLen < maxTokenLength) change(newId, ids[i + 1]!, 1, count, wi);
        }
      }
    }
    flush();
    if (merges.length - lastReport >= 1000) {
      lastReport = merges.length;
      progress({ phase: 'merge', done: wordToId.size, total: vocabSize });
    }
  }
  progress({ phase: 'done', done: wordToId.size, total: vocabSize });
  return { vocab: idToWord, merges, wordTypes: entries.length };
}
