// BPE and Unigram vocabulary training: the tokenizer.json written loads in HF tokenizers, which then tokenizes
// held-out IMDb reviews exactly as bert-ts does with the same file; BPE's merges follow HF's trainer's order.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import {
  byteLevelBpeSettings,
  countWords,
  trainBpe,
  trainingWordSplitter,
  trainUnigram,
  unigramSettings,
} from '../../src/tokenizer/trainer-subword.js';
import { diffEncoding, readImdb, shortText } from './helpers/oracle.js';

const train = readImdb('train').slice(0, 300);
const heldOut = readImdb('test').slice(0, 300);

async function checkAgainstHf(doc: Record<string, unknown>): Promise<{ failures: string[]; hf: Tokenizer }> {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-train-'));
  try {
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, JSON.stringify(doc));
    const hf = Tokenizer.fromFile(file);
    const ours = BertTokenizer.fromPretrained(dir);
    const encs = await hf.encodeBatch(heldOut);
    const failures: string[] = [];
    heldOut.forEach((t, i) => {
      const d = diffEncoding(encs[i]!, ours.encode(t, null, { returnOffsets: true }), t);
      if (d && failures.length < 5) failures.push(`${shortText(t)}: ${d}`);
    });
    return { failures, hf };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('trainBpe: a byte-level BPE that HF loads and tokenizes as bert-ts does', async () => {
  const counts = countWords(train, trainingWordSplitter(byteLevelBpeSettings()));
  const doc = trainBpe(counts.counts, { vocabSize: 1200 });
  const { failures, hf } = await checkAgainstHf(doc);
  assert.deepEqual(failures, []);
  assert.equal(hf.getVocabSize(), 1200);
  // HF's trainer starts from the 256 byte characters after the specials and merges the most frequent pair first.
  assert.equal(hf.tokenToId('<s>'), 0);
  assert.equal(hf.tokenToId('<mask>'), 4);
  assert.equal(hf.idToToken(5), '!');
  const enc = await hf.encode('The movie was great.');
  assert.equal(await hf.decode(enc.getIds(), true), 'The movie was great.');
});

test('trainUnigram: an XLM-R style Unigram that HF loads and tokenizes as bert-ts does', async () => {
  const counts = countWords(train, trainingWordSplitter(unigramSettings()));
  const doc = trainUnigram(counts.counts, { vocabSize: 800 });
  const { failures, hf } = await checkAgainstHf(doc);
  assert.deepEqual(failures, []);
  assert.equal(hf.getVocabSize(), 801); // 800 pieces + <mask>
  assert.equal(hf.tokenToId('<unk>'), 3);
  const enc = await hf.encode('The movie was great.');
  assert.equal(await hf.decode(enc.getIds(), true), 'The movie was great.');
  // Frequent words become single pieces.
  assert.ok(enc.getTokens().includes('▁movie'), JSON.stringify(enc.getTokens()));
});
