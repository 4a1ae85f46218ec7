// Pre-training instances as google-research/bert create_pretraining_data.py makes them: NSP pairs and MLM masking.
//
// Documents are lists of sentences, each sentence a list of token ids. For each document (dupe_factor times):
// segments A and B are filled up to a target length (the maximum, or with probability short_seq_prob a random
// shorter one); B is the true continuation or, half of the time, sentences from another document (the unused
// sentences of this one are put back); the pair is truncated from a random end of the longer side; then 15% of
// the tokens (at most max_predictions_per_seq, never [CLS]/[SEP]) are chosen: 80% become [MASK], 10% a random
// token, 10% stay. The random choices are made in the same order as the Python script, from a seeded generator.
import { DataError } from './errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from './rng.js';

/** What the instance builder needs to know about the vocabulary. */
export interface PretrainingVocab {
  clsId: number;
  sepId: number;
  maskId: number;
  padId: number;
  size: number;
  /** Ids a masked position may be replaced with in the "random token" case: every non-special token. */
  randomIds: Int32Array;
  /** 1 for ids that continue a word ("##" pieces), for whole-word masking. */
  isContinuation: Uint8Array;
}

/**
 * The {@link PretrainingVocab} of a tokenizer folder: its vocab.txt tokens in id order, the vocabulary the
 * pre-training data was made with.
 */
export function readPretrainingVocab(dir: string): PretrainingVocab {
  const file = join(dir, 'vocab.txt');
  if (!existsSync(file))
    throw new DataError(file, `not found; pre-training needs the tokenizer folder the data was made with`);
  const tokens = readFileSync(file, 'utf8').split(/\r?\n/);
  if (tokens[tokens.length - 1] === '') tokens.pop();
  return pretrainingVocab(tokens, file);
}

/**
 * Builds a {@link PretrainingVocab} from the tokens of a vocabulary in id order. Special tokens are BERT's; a
 * vocabulary without them is an error that says so. `[unusedN]` and bracketed special tokens are never used as
 * random replacements (google-research/bert draws from the whole vocabulary, [PAD] and [CLS] included; drawing
 * them mid-sentence only teaches the model noise).
 */
export function pretrainingVocab(tokens: readonly string[], source = 'vocabulary'): PretrainingVocab {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const need = (t: string): number => {
    const id = ids.get(t);
    if (id === undefined) {
      throw new DataError(
        source,
        `has no ${t} token, which pre-training needs (BERT's special tokens are [PAD] [UNK] [CLS] [SEP] ` +
          `[MASK]); train a vocabulary with \`bert train-vocab\` or use a BERT vocab.txt`,
      );
    }
    return id;
  };
  const clsId = need('[CLS]');
  const sepId = need('[SEP]');
  const maskId = need('[MASK]');
  const padId = need('[PAD]');
  need('[UNK]');
  const random: number[] = [];
  const isContinuation = new Uint8Array(tokens.length);
  tokens.forEach((t, i) => {
    if (t.startsWith('##') && t.length > 2) isContinuation[i] = 1;
    if (!/^\[.*\]$/u.test(t) || t.length <= 2) random.push(i);
  });
  if (random.length === 0) throw new DataError(source, `has only special tokens`);
  return { clsId, sepId, maskId, padId, size: tokens.length, randomIds: Int32Array.from(random), isContinuation };
}

/** A document: its sentences as token ids. */
export type TokenizedDocument = readonly Int32Array[];

/** One NSP pair, before or after masking. */
export interface PretrainingInstance {
  /** [CLS] A [SEP] B [SEP] as ids (masked ids when `maskedPositions` is non-empty). */
  inputIds: Int32Array;
  /** How many leading tokens have segment id 0: [CLS], A and the first [SEP]; the rest are segment 1. */
  segmentALength: number;
  /** True when B was taken from another document (NSP label 1; 0 = B is the actual next text). */
  isRandomNext: boolean;
  /** Positions chosen for prediction, ascending; empty when not masked (dynamic masking masks later). */
  maskedPositions: Int32Array;
  /** The original ids at `maskedPositions`. */
  maskedLabels: Int32Array;
}

export interface InstanceOptions {
  /** Sequence length including [CLS] and two [SEP] (default 128). */
  maxSeqLength?: number;
  /** Probability of a shorter random target length (default 0.1). */
  shortSeqProb?: number;
}

export interface MaskingOptions {
  /** Fraction of tokens predicted (default 0.15). */
  maskedLmProb?: number;
  /** At most this many predictions per instance (default 20). */
  maxPredictions?: number;
  /** Mask all pieces of a word together (default false). */
  wholeWordMask?: boolean;
}

function checkInstanceOptions(o: InstanceOptions): { maxSeqLength: number; shortSeqProb: number } {
  const maxSeqLength = o.maxSeqLength ?? 128;
  const shortSeqProb = o.shortSeqProb ?? 0.1;
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 5 || maxSeqLength > 65535) {
    throw new RangeError(
      `maxSeqLength must be an integer in [5, 65535] (room for [CLS] A [SEP] B [SEP]), got ${maxSeqLength}`,
    );
  }
  if (!(shortSeqProb >= 0 && shortSeqProb <= 1))
    throw new RangeError(`shortSeqProb must be in [0, 1], got ${shortSeqProb}`);
  return { maxSeqLength, shortSeqProb };
}

function checkMaskingOptions(o: MaskingOptions): Required<MaskingOptions> {
  const maskedLmProb = o.maskedLmProb ?? 0.15;
  const maxPredictions = o.maxPredictions ?? 20;
  if (!(maskedLmProb > 0 && maskedLmProb <= 1))
    throw new RangeError(`maskedLmProb must be in (0, 1], got ${maskedLmProb}`);
  if (!Number.isInteger(maxPredictions) || maxPredictions < 1 || maxPredictions > 65535) {
    throw new RangeError(`maxPredictions must be an integer in [1, 65535], got ${maxPredictions}`);
  }
  return { maskedLmProb, maxPredictions, wholeWordMask: o.wholeWordMask ?? false };
}

/** random.randint(a, b) (both ends included). */
function randint(rng: Rng, a: number, b: number): number {
  return a + rng.int(b - a + 1);
}

/** Python's round() of a float to an integer: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * truncate_seq_pair: while the pair is too long, drop one token from the longer side (A on ties), from its front or
 * its back at random. Works on index ranges (a long sentence would make repeated shift() quadratic); returns the
 * kept ranges [aStart, aEnd, bStart, bEnd).
 */
export function truncateSeqPair(
  aLength: number,
  bLength: number,
  maxNumTokens: number,
  rng: Rng,
): [number, number, number, number] {
  let aLo = 0;
  let aHi = aLength;
  let bLo = 0;
  let bHi = bLength;
  while (aHi - aLo + (bHi - bLo) > maxNumTokens) {
    const front = rng.next() < 0.5;
    if (aHi - aLo >= bHi - bLo) {
      if (front) aLo++;
      else aHi--;
    } else if (front) bLo++;
    else bHi--;
  }
  return [aLo, aHi, bLo, bHi];
}

/**
 * create_masked_lm_predictions: chooses the positions to predict and replaces them in place in `ids`. Returns the
 * chosen positions (ascending) and their original ids.
 */
export function maskTokens(
  ids: Int32Array,
  vocab: PretrainingVocab,
  options: MaskingOptions,
  rng: Rng,
): { positions: Int32Array; labels: Int32Array } {
  const { maskedLmProb, maxPredictions, wholeWordMask } = checkMaskingOptions(options);
  const cand: number[][] = [];
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    if (t === vocab.clsId || t === vocab.sepId) continue;
    if (wholeWordMask && cand.length >= 1 && vocab.isContinuation[t] === 1) cand[cand.length - 1]!.push(i);
    else cand.push([i]);
  }
  rng.shuffle(cand);
  const numToPredict = Math.min(maxPredictions, Math.max(1, roundHalfEven(ids.length * maskedLmProb)));
  const original = ids.slice();
  const chosen: number[] = [];
  const covered = new Set<number>();
  for (const set of cand) {
    if (chosen.length >= numToPredict) break;
    if (chosen.length + set.length > numToPredict) continue; // a whole word that would overflow is skipped
    if (set.some((i) => covered.has(i))) continue;
    for (const i of set) {
      covered.add(i);
      let replacement: number;
      if (rng.next() < 0.8) replacement = vocab.maskId;
      else if (rng.next() < 0.5) replacement = original[i]!;
      else replacement = vocab.randomIds[rng.int(vocab.randomIds.length)]!;
      ids[i] = replacement;
      chosen.push(i);
    }
  }
  chosen.sort((x, y) => x - y);
  const positions = Int32Array.from(chosen);
  const labels = Int32Array.from(chosen, (i) => original[i]!);
  return { positions, labels };
}

/**
 * create_instances_from_document for `documents[documentIndex]`. With `masking` the instances are masked as they are
 * made (static masking, the original); with `null` they are left whole for masking at training time.
 */
export function createInstancesFromDocument(
  documents: readonly TokenizedDocument[],
  documentIndex: number,
  vocab: PretrainingVocab,
  options: InstanceOptions,
  masking: MaskingOptions | null,
  rng: Rng,
): PretrainingInstance[] {
  const { maxSeqLength, shortSeqProb } = checkInstanceOptions(options);
  const document = documents[documentIndex]!;
  const maxNumTokens = maxSeqLength - 3;
  let targetSeqLength = maxNumTokens;
  if (rng.next() < shortSeqProb) targetSeqLength = randint(rng, 2, maxNumTokens);

  const instances: PretrainingInstance[] = [];
  let chunk: Int32Array[] = [];
  let currentLength = 0;
  let i = 0;
  while (i < document.length) {
    const segment = document[i]!;
    chunk.push(segment);
    currentLength += segment.length;
    if (i === document.length - 1 || currentLength >= targetSeqLength) {
      if (chunk.length > 0) {
        let aEnd = 1;
        if (chunk.length >= 2) aEnd = randint(rng, 1, chunk.length - 1);
        const a: number[] = [];
        for (let j = 0; j < aEnd; j++) for (const t of chunk[j]!) a.push(t);
        const b: number[] = [];
        let isRandomNext = false;
        if (chunk.length === 1 || rng.next() < 0.5) {
          isRandomNext = true;
          const targetBLength = targetSeqLength - a.length;
          let randomIndex = documentIndex;
          for (let k = 0; k < 10; k++) {
            randomIndex = randint(rng, 0, documents.length - 1);
            if (randomIndex !== documentIndex) break;
          }
          const randomDocument = documents[randomIndex]!;
          const randomStart = randint(rng, 0, randomDocument.length - 1);
          for (let j = randomStart; j < randomDocument.length; j++) {
            for (const t of randomDocument[j]!) b.push(t);
            if (b.length >= targetBLength) break;
          }
          i -= chunk.length - aEnd; // put the unused sentences back
        } else {
          for (let j = aEnd; j < chunk.length; j++) for (const t of chunk[j]!) b.push(t);
        }
        const [aLo, aHi, bLo, bHi] = truncateSeqPair(a.length, b.length, maxNumTokens, rng);
        const aLen = aHi - aLo;
        const bLen = bHi - bLo;
        if (aLen >= 1 && bLen >= 1) {
          const inputIds = new Int32Array(aLen + bLen + 3);
          inputIds[0] = vocab.clsId;
          inputIds.set(a.slice(aLo, aHi), 1);
          inputIds[aLen + 1] = vocab.sepId;
          inputIds.set(b.slice(bLo, bHi), aLen + 2);
          inputIds[inputIds.length - 1] = vocab.sepId;
          let maskedPositions: Int32Array = new Int32Array(0);
          let maskedLabels: Int32Array = new Int32Array(0);
          if (masking !== null) {
            const m = maskTokens(inputIds, vocab, masking, rng);
            maskedPositions = m.positions;
            maskedLabels = m.labels;
          }
          instances.push({ inputIds, segmentALength: aLen + 2, isRandomNext, maskedPositions, maskedLabels });
        }
      }
      chunk = [];
      currentLength = 0;
    }
    i++;
  }
  return instances;
}

export interface CreateInstancesOptions extends InstanceOptions {
  /** How many times each document is used, each time with other pairs and masks (default 10, as the script). */
  dupeFactor?: number;
  /** Masking at creation (static, the original); null = leave unmasked for dynamic masking. */
  masking?: MaskingOptions | null;
}

/**
 * create_training_instances over documents already in memory: drops empty documents and empty sentences, shuffles
 * the documents, makes instances dupe_factor times over, and shuffles the instances. Needs at least two documents,
 * since a "random next" B must come from another document.
 */
export function createTrainingInstances(
  documents: readonly TokenizedDocument[],
  vocab: PretrainingVocab,
  options: CreateInstancesOptions,
  rng: Rng,
): PretrainingInstance[] {
  const dupeFactor = options.dupeFactor ?? 10;
  if (!Number.isInteger(dupeFactor) || dupeFactor < 1)
    throw new RangeError(`dupeFactor must be an integer >= 1, got ${dupeFactor}`);
  checkInstanceOptions(options);
  const masking = options.masking === undefined ? {} : options.masking;
  if (masking !== null) checkMaskingOptions(masking);
  const docs = documents.map((d) => d.filter((s) => s.length > 0)).filter((d) => d.length > 0);
  if (docs.length < 2) {
    throw new RangeError(
      `pre-training data needs at least 2 documents with text (next sentence prediction takes "random next" ` +
        `sentences from another document); got ${docs.length}`,
    );
  }
  rng.shuffle(docs);
  const instances: PretrainingInstance[] = [];
  for (let d = 0; d < dupeFactor; d++) {
    for (let i = 0; i < docs.length; i++) {
      for (const inst of createInstancesFromDocument(docs, i, vocab, options, masking, rng)) instances.push(inst);
    }
  }
  rng.shuffle(instances);
  return instances;
}

/**
 * Dynamic masking (RoBERTa-style, optional): a fresh mask for every (epoch, instance), reproducible from the seed
 * alone so that a resumed run masks exactly as the interrupted one would have.
 */
export function maskDynamically(
  instance: PretrainingInstance,
  vocab: PretrainingVocab,
  options: MaskingOptions,
  seed: number,
  epoch: number,
  instanceIndex: number,
): PretrainingInstance {
  // Mix the three numbers into one 32-bit seed (splitmix-like avalanche) so neighbouring indices get unrelated masks.
  let h = (seed ^ Math.imul(epoch + 1, 0x9e3779b1) ^ Math.imul(instanceIndex + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  const ids = instance.inputIds.slice();
  const m = maskTokens(ids, vocab, options, new Rng(h));
  return { ...instance, inputIds: ids, maskedPositions: m.positions, maskedLabels: m.labels };
}
