// wordIds() (question answering's whole-word answers) against HF's Rust tokenizers' word_ids, for every folder
// (WordPiece, byte-level BPE, Unigram): the same tokens grouped into the same words, on IMDb reviews, the Unicode
// torture set and seeded random strings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { allFolders, configured, hfTokenizer, readImdb, shortText } from './helpers/oracle.js';
import { TORTURE, randomTexts } from './helpers/torture.js';

const TEXTS = [...readImdb('test').filter((_, i) => i % 100 === 0), ...TORTURE, ...randomTexts(500)];

/** Per token: whether it starts a word (the grouping, whatever the word numbers). */
function starts(words: readonly (number | null | undefined)[]): boolean[] {
  return words.map((w, i) => i === 0 || w !== words[i - 1]);
}

for (const [name, dir] of Object.entries(allFolders())) {
  test(`wordIds groups tokens into HF's words: ${name}`, async () => {
    const ours = BertTokenizer.fromPretrained(dir);
    const hf = configured(await hfTokenizer(dir), {});
    const encs = await hf.encodeBatch(TEXTS, { addSpecialTokens: false });
    const failures: string[] = [];
    TEXTS.forEach((t, i) => {
      const want = encs[i]!.getWordIds();
      const got = ours.wordIds(t);
      assert.equal(got.length, ours.encode(t, null, { addSpecialTokens: false }).inputIds.length);
      if (JSON.stringify(starts(got)) !== JSON.stringify(starts(want)) && failures.length < 5)
        failures.push(`${shortText(t)}: ours ${JSON.stringify(got)} HF ${JSON.stringify(want)}`);
    });
    assert.deepEqual(failures, []);
  });
}
