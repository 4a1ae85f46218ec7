// Differential test against HF's Rust tokenizers on IMDb reviews: ids, type ids, masks and offsets identical,
// single texts (all 25,000 train reviews, every folder) and pairs under every truncation strategy.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import {
  allFolders,
  configured,
  diffEncoding,
  hfTokenizer,
  readImdb,
  shortText,
  pairSpecials,
} from './helpers/oracle.js';

const reviews = readImdb('train');
const WHOLE_TEXT_PRE_TOKENS = new Set(['bpe-noregex', 'unigram-bytefallback']);
// Every 5th review by default (5,000 per folder, about 2 s each with HF's side); BERT_TS_DIFF_SAMPLE=1 checks all
// 25,000, as scripts/tokenizer-diff.ts always does.
const step = Math.max(1, Number(process.env['BERT_TS_DIFF_SAMPLE'] ?? 5));
const texts = reviews.filter((_, i) => i % step === 0);

for (const [name, dir] of Object.entries(allFolders())) {
  describe(name, () => {
    test(`${texts.length} IMDb train reviews, single text, offsets included`, async () => {
      const ours = BertTokenizer.fromPretrained(dir);
      const hf = configured(await hfTokenizer(dir), {});
      const failures: string[] = [];
      const CHUNK = 2500;
      for (let start = 0; start < texts.length; start += CHUNK) {
        const chunk = texts.slice(start, start + CHUNK);
        const encs = await hf.encodeBatch(chunk);
        for (let i = 0; i < chunk.length; i++) {
          const d = diffEncoding(encs[i]!, ours.encode(chunk[i]!, null, { returnOffsets: true }), chunk[i]!);
          if (d && failures.length < 5)
            failures.push(`review ${(start + i) * step}: ${d}\n  text ${shortText(chunk[i]!)}`);
        }
      }
      assert.deepEqual(failures, []);
    });

    test('pairs under every truncation strategy, with padding to max_length', async () => {
      const ours = BertTokenizer.fromPretrained(dir);
      const base = await hfTokenizer(dir);
      const padId = ours.padTokenId ?? 0;
      // Pairs of very different lengths: a first sentence with a review, a review with a first sentence, two reviews.
      const pairs: [string, string][] = [];
      for (let i = 0; i < 60; i++) {
        const a = reviews[(i * 7919) % reviews.length]!,
          b = reviews[(i * 104729 + 13) % reviews.length]!;
        const firstSentence = a.split(/[.!?]/)[0]!.slice(0, 200);
        pairs.push(i % 3 === 0 ? [firstSentence, b] : i % 3 === 1 ? [b, firstSentence] : [a, b]);
      }
      pairs.push(['', 'only the second text'], ['only the first text', ''], ['', '']);
      // Whole-text pre-tokens (no regex split, Metaspace without split): HF takes ~0.2 s per long text, so fewer
      // long pairs here; scripts/tokenizer-diff.ts runs them all.
      if (WHOLE_TEXT_PRE_TOKENS.has(name)) pairs.splice(0, 50);
      const failures: string[] = [];
      for (const strategy of ['LongestFirst', 'OnlyFirst', 'OnlySecond'] as const) {
        const ourStrategy = (
          { LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' } as const
        )[strategy];
        for (const maxLength of [3, 4, 9, 64, 512]) {
          // Below the pair template's special tokens HF's usize subtraction wraps around (documented); we refuse.
          if (maxLength < pairSpecials(ours)) continue;
          for (const pad of [false, true]) {
            const hf = configured(base, { maxLength, strategy, padTo: pad ? maxLength : undefined, padId });
            for (const [a, b] of pairs) {
              let want: Awaited<ReturnType<typeof hf.encode>> | null = null,
                wantError = '';
              try {
                want = await hf.encode(a, b);
              } catch (e) {
                wantError = (e as Error).message;
              }
              let got: ReturnType<typeof ours.encode> | null = null,
                gotError = '';
              try {
                got = ours.encode(a, b, {
                  maxLength,
                  truncation: ourStrategy,
                  padding: pad ? 'max_length' : false,
                  returnOffsets: true,
                });
              } catch (e) {
                gotError = (e as Error).message;
              }
              const where = `${strategy} maxLength ${maxLength}${pad ? ' padded' : ''} pair (${shortText(a, 40)}, ${shortText(b, 40)})`;
              if (want && got) {
                const d = diffEncoding(want, got, a, b);
                if (d && failures.length < 5) failures.push(`${where}: ${d}`);
              } else if (!want !== !got && failures.length < 5) {
                failures.push(
                  `${where}: HF ${wantError ? 'error ' + wantError : 'ok'}, ours ${gotError ? 'error ' + gotError : 'ok'}`,
                );
              }
            }
          }
        }
      }
      configured(base, {});
      assert.deepEqual(failures, []);
    });
  });
}
