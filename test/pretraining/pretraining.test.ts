// Pre-training instances on generated documents: NSP pairs, segments, truncation, masking statistics, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.js';
import {
  createTrainingInstances,
  createInstancesFromDocument,
  maskTokens,
  maskDynamically,
  pretrainingVocab,
  roundHalfEven,
  truncateSeqPair,
  type PretrainingInstance,
  type TokenizedDocument,
} from '../../src/data/pretraining.js';
import { DataError } from '../../src/data/errors.js';

// A vocabulary of BERT's 5 special tokens, 3 [unusedN], then plain tokens; every corpus token is unique, so from a
// token we know its document, sentence and position, and can check where A and B came from.
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[unused0]', '[unused1]', '[unused2]'];
const FIRST = SPECIAL.length;

interface Origin {
  doc: number;
  sent: number;
  /** Position in the document's token stream. */
  pos: number;
}

function makeCorpus(
  nDocs: number,
  sentences: [number, number],
  sentenceLength: [number, number],
  seed: number,
): { docs: TokenizedDocument[]; vocabTokens: string[]; origin: Map<number, Origin> } {
  const rng = new Rng(seed);
  const docs: TokenizedDocument[] = [];
  const origin = new Map<number, Origin>();
  let next = FIRST;
  for (let d = 0; d < nDocs; d++) {
    const doc: Int32Array[] = [];
    const ns = sentences[0] + rng.int(sentences[1] - sentences[0] + 1);
    let pos = 0;
    for (let s = 0; s < ns; s++) {
      const len = sentenceLength[0] + rng.int(sentenceLength[1] - sentenceLength[0] + 1);
      const sent = new Int32Array(len);
      for (let k = 0; k < len; k++) {
        sent[k] = next;
        origin.set(next, { doc: d, sent: s, pos: pos++ });
        next++;
      }
      doc.push(sent);
    }
    docs.push(doc);
  }
  const vocabTokens = [...SPECIAL];
  // Every third token is a "##" continuation, so whole-word masking has words of several pieces.
  for (let id = FIRST; id < next; id++) vocabTokens.push(id % 3 === 0 ? `##t${id}` : `t${id}`);
  return { docs, vocabTokens, origin };
}

function checkStructure(inst: PretrainingInstance, cls: number, sep: number, maxSeqLength: number): void {
  const ids = inst.inputIds;
  assert.ok(ids.length <= maxSeqLength, `length ${ids.length} > ${maxSeqLength}`);
  assert.equal(ids[0], cls);
  assert.equal(ids[inst.segmentALength - 1], sep);
  assert.equal(ids[ids.length - 1], sep);
  assert.ok(inst.segmentALength >= 3 && inst.segmentALength <= ids.length - 2, 'A and B have at least one token each');
  let seps = 0;
  for (const t of ids) if (t === sep || t === cls) seps++;
  assert.equal(seps, 3, 'exactly one [CLS] and two [SEP]');
}

const corpus = makeCorpus(150, [8, 40], [3, 25], 1);
const vocab = pretrainingVocab(corpus.vocabTokens);
const unmasked = createTrainingInstances(
  corpus.docs,
  vocab,
  { maxSeqLength: 64, dupeFactor: 3, masking: null },
  new Rng(7),
);

test('vocabulary: special ids found, specials and [unusedN] never random replacements', () => {
  assert.deepEqual([vocab.padId, vocab.clsId, vocab.sepId, vocab.maskId], [0, 2, 3, 4]);
  for (const id of vocab.randomIds) assert.ok(id >= FIRST);
  assert.equal(vocab.randomIds.length, corpus.vocabTokens.length - FIRST);
});

test('every instance is [CLS] A [SEP] B [SEP] within max_seq_length, with the right segment split', () => {
  assert.ok(unmasked.length > 1000, `${unmasked.length} instances`);
  for (const inst of unmasked) {
    checkStructure(inst, vocab.clsId, vocab.sepId, 64);
    assert.equal(inst.maskedPositions.length, 0);
  }
});

test('A is contiguous text of one document; B is its actual continuation, or text of another document', () => {
  let actual = 0;
  let random = 0;
  for (const inst of unmasked) {
    const a = [...inst.inputIds.subarray(1, inst.segmentALength - 1)].map((t) => corpus.origin.get(t)!);
    const b = [...inst.inputIds.subarray(inst.segmentALength, inst.inputIds.length - 1)].map((t) =>
      corpus.origin.get(t)!,
    );
    const contiguous = (xs: Origin[]): boolean =>
      xs.every((o, k) => k === 0 || (o.doc === xs[0]!.doc && o.pos === xs[k - 1]!.pos + 1));
    assert.ok(contiguous(a) && contiguous(b), 'segments are contiguous runs of one document');
    if (inst.isRandomNext) {
      random++;
      assert.notEqual(b[0]!.doc, a[0]!.doc, 'random B comes from another document');
    } else {
      actual++;
      assert.equal(b[0]!.doc, a[0]!.doc);
      // Truncation may drop A's last and B's first tokens, never reorder them; untruncated, B follows A directly.
      assert.ok(b[0]!.pos > a[a.length - 1]!.pos);
      if (inst.inputIds.length < 64) assert.equal(b[0]!.pos, a[a.length - 1]!.pos + 1);
    }
    if (inst.inputIds.length < 64) {
      // Not truncated: A starts a sentence and so does B.
      assert.ok(a[0]!.pos === 0 || corpus.origin.get(inst.inputIds[1]! - 1)!.sent !== a[0]!.sent);
      assert.ok(b[0]!.pos === 0 || corpus.origin.get(inst.inputIds[inst.segmentALength]! - 1)!.sent !== b[0]!.sent);
    }
  }
  // NSP balance: P(random) = 1/2 + 1/2 P(the chunk holds one sentence), small here: about 0.5-0.56.
  const frac = random / (random + actual);
  assert.ok(frac > 0.47 && frac < 0.58, `random-next fraction ${frac.toFixed(3)} of ${random + actual}`);
});

test('unused sentences are put back: random-next pairs do not skip text of the document', () => {
  // Over all instances of one pass, every sentence of every document should appear in some A (or actual-next B):
  // without put-back, the sentences after A in a random-next chunk would never be used.
  const { docs, origin } = corpus;
  const used = new Set<string>();
  const one = createTrainingInstances(
    docs,
    vocab,
    { maxSeqLength: 64, dupeFactor: 1, masking: null, shortSeqProb: 0 },
    new Rng(3),
  );
  for (const inst of one) {
    const end = inst.isRandomNext ? inst.segmentALength - 1 : inst.inputIds.length - 1;
    for (const t of inst.inputIds.subarray(1, end)) {
      const o = origin.get(t);
      if (o) used.add(`${o.doc}:${o.sent}`);
    }
  }
  let total = 0;
  for (const d of docs) total += d.length;
  // Truncation removes some whole short sentences at the edges; the rest must be there.
  assert.ok(used.size / total > 0.93, `${used.size} of ${total} sentences used`);
});

test('short_seq_prob: about 10% of documents get a shorter target', () => {
  // Long documents of short (3-5 token) sentences. With the full target (61 tokens) an actual-next first instance
  // always fills all 64 positions; one shorter than 59 comes from a short target T (uniform in 2..61), when T is
  // below ~52. Random-next pairs are left out: a B taken near the end of another document is short whatever T.
  // Expected share of short actual-next first instances ~ 0.1 * 47/60 * 0.5 / 0.5 ~ 0.08; binomial sd ~ 0.007.
  const long = makeCorpus(3000, [40, 40], [3, 5], 2);
  const v = pretrainingVocab(long.vocabTokens);
  const rng = new Rng(11);
  const shareShort = (shortSeqProb: number, docs: number): number => {
    let short = 0;
    let actual = 0;
    for (let d = 0; d < docs; d++) {
      const first = createInstancesFromDocument(long.docs, d, v, { maxSeqLength: 64, shortSeqProb }, null, rng)[0]!;
      if (first.isRandomNext) continue;
      actual++;
      if (first.inputIds.length < 59) short++;
    }
    return short / actual;
  };
  const frac = shareShort(0.1, long.docs.length);
  assert.ok(frac > 0.05 && frac < 0.11, `short fraction ${frac}`);
  assert.equal(shareShort(0, 300), 0);
  const always = shareShort(1, 300);
  assert.ok(always > 0.7, `with short_seq_prob 1: ${always}`);
});

test('truncate_seq_pair: longer side first (A on ties), front/back about half each', () => {
  assert.deepEqual(truncateSeqPair(10, 5, 100, new Rng(1)), [0, 10, 0, 5]);
  let front = 0;
  let n = 0;
  for (let seed = 0; seed < 400; seed++) {
    const [aLo, aHi, bLo, bHi] = truncateSeqPair(100, 50, 60, new Rng(seed));
    assert.equal(aHi - aLo, 30);
    assert.equal(bHi - bLo, 30);
    front += aLo + bLo;
    n += 90;
  }
  const frac = front / n;
  assert.ok(Math.abs(frac - 0.5) < 0.02, `front fraction ${frac}`);
  // Ties go to A: 3 + 3 -> 5 removes from A.
  for (let seed = 0; seed < 20; seed++) {
    const r = truncateSeqPair(3, 3, 5, new Rng(seed));
    assert.equal(r[1] - r[0], 2);
    assert.equal(r[3] - r[2], 3);
  }
});

test('masking statistics: 15% of tokens (Python rounding), 80/10/10, never [CLS]/[SEP], at most max_predictions', () => {
  const masked = createTrainingInstances(
    corpus.docs,
    vocab,
    { maxSeqLength: 128, dupeFactor: 4, masking: { maxPredictions: 15 } },
    new Rng(5),
  );
  // Predictions; of them [MASK], unchanged and random tokens; instances capped at 15; tokens that could be chosen.
  const count = { preds: 0, maskTok: 0, same: 0, randomTok: 0, capped: 0, candidates: 0 };
  for (const inst of masked) {
    checkStructure(inst, vocab.clsId, vocab.sepId, 128);
    const len = inst.inputIds.length;
    const expected = Math.min(15, Math.max(1, roundHalfEven(len * 0.15)));
    assert.equal(inst.maskedPositions.length, expected, `length ${len}`);
    if (expected === 15 && roundHalfEven(len * 0.15) > 15) count.capped++;
    count.candidates += len - 3;
    for (let k = 0; k < inst.maskedPositions.length; k++) {
      const p = inst.maskedPositions[k]!;
      if (k > 0) assert.ok(p > inst.maskedPositions[k - 1]!, 'ascending positions');
      assert.ok(p > 0 && p !== inst.segmentALength - 1 && p !== len - 1, 'never [CLS]/[SEP]');
      const label = inst.maskedLabels[k]!;
      assert.ok(corpus.origin.has(label), 'label is the original token');
      const t = inst.inputIds[p]!;
      if (t === vocab.maskId) count.maskTok++;
      else if (t === label) count.same++;
      else count.randomTok++;
      count.preds++;
    }
  }
  assert.ok(count.capped > 0, 'some instances hit max_predictions');
  const sd = (p: number): number => 4 * Math.sqrt((p * (1 - p)) / count.preds);
  assert.ok(Math.abs(count.maskTok / count.preds - 0.8) < sd(0.8), `[MASK] ${count.maskTok / count.preds}`);
  // The random token equals the original with probability 1/|randomIds| (tiny here).
  assert.ok(Math.abs(count.same / count.preds - 0.1) < sd(0.1), `unchanged ${count.same / count.preds}`);
  assert.ok(Math.abs(count.randomTok / count.preds - 0.1) < sd(0.1), `random ${count.randomTok / count.preds}`);
  // 15% of all tokens ([CLS]/[SEP] included, as the script counts), capped at 15 for the full-length ones.
  assert.ok(
    count.preds / count.candidates > 0.115 && count.preds / count.candidates < 0.16,
    `predicted share ${count.preds / count.candidates}`,
  );
});

test('masking picks positions uniformly (every position of a fixed sequence about equally often)', () => {
  const ids = Int32Array.from({ length: 40 }, (_, i) =>
    i === 0 ? vocab.clsId : i === 20 || i === 39 ? vocab.sepId : 100 + i,
  );
  const hits = new Array<number>(40).fill(0);
  const trials = 4000;
  for (let s = 0; s < trials; s++) {
    const copy = ids.slice();
    const m = maskTokens(copy, vocab, { maxPredictions: 20 }, new Rng(s));
    assert.equal(m.positions.length, 6); // round(40 * 0.15) = 6
    for (let k = 0; k < 40; k++) {
      if (!m.positions.includes(k)) assert.equal(copy[k], ids[k], 'unchosen positions untouched');
    }
    for (const p of m.positions) hits[p]!++;
    assert.deepEqual(
      [...m.labels],
      [...m.positions].map((p) => ids[p]!),
    );
  }
  assert.equal(hits[0], 0);
  assert.equal(hits[20], 0);
  assert.equal(hits[39], 0);
  // 37 candidates, 6 picked: p = 6/37 per position; 4-sigma band.
  const p = 6 / 37;
  const band = 4 * Math.sqrt(trials * p * (1 - p));
  for (let k = 1; k < 39; k++)
    if (k !== 20) assert.ok(Math.abs(hits[k]! - trials * p) < band, `position ${k}: ${hits[k]}`);
});

test('Python round(): halves to even', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.4999, 2.5001, 19.2, 19.35].map(roundHalfEven), [0, 2, 2, 2, 3, 19, 19]);
  assert.equal(roundHalfEven(10 * 0.15), 2);
  assert.equal(roundHalfEven(30 * 0.15), 4);
});

test('whole-word masking: all pieces of a word or none, never over the prediction budget', () => {
  const masked = createTrainingInstances(
    corpus.docs,
    vocab,
    { maxSeqLength: 64, dupeFactor: 2, masking: { wholeWordMask: true, maxPredictions: 10 } },
    new Rng(9),
  );
  let multi = 0;
  for (const inst of masked) {
    const n = inst.inputIds.length;
    assert.ok(inst.maskedPositions.length <= Math.min(10, Math.max(1, roundHalfEven(n * 0.15))));
    const chosen = new Set(inst.maskedPositions);
    const labelAt = new Map<number, number>();
    inst.maskedPositions.forEach((p, k) => labelAt.set(p, inst.maskedLabels[k]!));
    const orig = (i: number): number => labelAt.get(i) ?? inst.inputIds[i]!;
    // Words: a piece not starting with ## starts one; following ## pieces continue it (within a segment).
    let start = -1;
    const words: number[][] = [];
    for (let i = 1; i < n; i++) {
      const t = orig(i);
      if (t === vocab.sepId) {
        start = -1;
        continue;
      }
      if (vocab.isContinuation[t] === 1 && start >= 0) words[words.length - 1]!.push(i);
      else {
        words.push([i]);
        start = i;
      }
    }
    for (const w of words) {
      const c = w.filter((i) => chosen.has(i)).length;
      assert.ok(c === 0 || c === w.length, `word ${w} partly masked`);
      if (c > 1) multi++;
    }
  }
  assert.ok(multi > 100, 'multi-piece words do get masked');
});

test('seeded: same seed same instances, other seed other instances; dynamic masks differ per epoch', () => {
  const a = createTrainingInstances(corpus.docs, vocab, { dupeFactor: 1 }, new Rng(42));
  const b = createTrainingInstances(corpus.docs, vocab, { dupeFactor: 1 }, new Rng(42));
  const c = createTrainingInstances(corpus.docs, vocab, { dupeFactor: 1 }, new Rng(43));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.slice(0, 5), c.slice(0, 5));
  const inst = unmasked[0]!;
  const e0 = maskDynamically(inst, vocab, {}, 1, 0, 0);
  assert.deepEqual(maskDynamically(inst, vocab, {}, 1, 0, 0), e0);
  const e1 = maskDynamically(inst, vocab, {}, 1, 1, 0);
  assert.notDeepEqual([...e1.maskedPositions], [...e0.maskedPositions]);
  assert.deepEqual(
    [...e0.maskedLabels],
    [...e0.maskedPositions].map((p) => inst.inputIds[p]!),
  );
  assert.equal(inst.maskedPositions.length, 0, 'the stored instance is not modified');
});

test('bad input: empty corpus, a single document, one-sentence documents, vocab without special tokens', () => {
  assert.throws(() => createTrainingInstances([], vocab, {}, new Rng(1)), /at least 2 documents with text.*got 0/);
  assert.throws(() => createTrainingInstances([[new Int32Array(0)], []], vocab, {}, new Rng(1)), /got 0/);
  assert.throws(() => createTrainingInstances([corpus.docs[0]!], vocab, {}, new Rng(1)), /got 1/);
  // Documents of one sentence: every pair is a random next (there is no actual next), each A is that sentence.
  const single = corpus.docs.slice(0, 50).map((d) => [d[0]!]);
  const inst = createTrainingInstances(single, vocab, { dupeFactor: 2 }, new Rng(1));
  assert.equal(inst.length, 100);
  assert.ok(inst.every((x) => x.isRandomNext));
  assert.throws(
    () => pretrainingVocab(['a', 'b', '[CLS]', '[SEP]'], 'my/vocab.txt'),
    (e: unknown) => e instanceof DataError && /my\/vocab.txt: has no \[MASK\] token/.test(e.message),
  );
  assert.throws(() => createTrainingInstances(corpus.docs, vocab, { maxSeqLength: 4 }, new Rng(1)), /maxSeqLength/);
  assert.throws(() => createTrainingInstances(corpus.docs, vocab, { dupeFactor: 0 }, new Rng(1)), /dupeFactor/);
});
