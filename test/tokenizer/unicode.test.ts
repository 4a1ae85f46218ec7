// BertNormalizer against HF's under all 16 option combinations, on every code point (alone and in order, so
// that runs of combining marks get canonically reordered), and the alignment of each normalized character.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tokenizer, bertNormalizer } from 'tokenizers';
import { BertNormalizer } from '../../src/tokenizer/normalizer.js';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { diffEncoding, shortText } from './helpers/oracle.js';
import { codePointStrings, randomTexts } from './helpers/torture.js';
import { seeded } from '../helpers/seeded.js';

const COMBOS: { cleanText: boolean; handleChineseChars: boolean; stripAccents: boolean; lowercase: boolean }[] = [];
for (let m = 0; m < 16; m++) {
  COMBOS.push({
    cleanText: (m & 1) !== 0,
    handleChineseChars: (m & 2) !== 0,
    stripAccents: (m & 4) !== 0,
    lowercase: (m & 8) !== 0,
  });
}
const label = (c: (typeof COMBOS)[number]) =>
  `clean ${+c.cleanText} chinese ${+c.handleChineseChars} strip ${+c.stripAccents} lower ${+c.lowercase}`;

test('normalized text equals HF BertNormalizer on every code point, under all 16 option combinations', () => {
  const strings = codePointStrings();
  const failures: string[] = [];
  for (const combo of COMBOS) {
    const hf = bertNormalizer(combo);
    const ours = new BertNormalizer(combo);
    for (const s of strings) {
      const want = hf.normalizeString(s),
        got = ours.normalize(s);
      if (want !== got) {
        let k = 0;
        while (k < want.length && want[k] === got[k]) k++;
        failures.push(
          `${label(combo)}: first difference at ${k}: HF ${JSON.stringify(want.slice(k, k + 8))} vs ${JSON.stringify(got.slice(k, k + 8))}`,
        );
        break;
      }
    }
  }
  assert.deepEqual(failures, []);
});

/** Marks of many combining classes (and non-starters that survive accent stripping), to exercise reordering. */
const MARKS = [
  '\u0301',
  '\u0300',
  '\u0316',
  '\u0317',
  '\u0327',
  '\u0328',
  '\u0334',
  '\u0345',
  '\u035c',
  '\u035d',
  '\u05b0',
  '\u05b1',
  '\u093c',
  '\u094d',
  '\u0e38',
  '\u0e48',
  '\u302a',
  '\u302e',
  '\u1dce',
  '\u{1d165}',
  '\u{1d16d}',
  '\u{1d16e}',
  '\u{1e944}',
  '\u1b44',
  '\u0f71',
  '\u0f72',
];
const BASES = [
  'a',
  'E',
  'i',
  'I',
  'İ',
  'é',
  'Å',
  'ǅ',
  'ﬁ',
  '中',
  '豈',
  '한',
  'Σ',
  '\u{1d15f}',
  '\u{1d160}',
  ' ',
  '\u0000',
  '\u200b',
  '!',
  '𝐀',
  'ß',
  'ΐ',
];

function markStrings(count: number, seed: number): string[] {
  const rand = seeded(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const n = 1 + Math.floor(rand() * 10);
    for (let k = 0; k < n; k++) {
      s += rand() < 0.4 ? BASES[Math.floor(rand() * BASES.length)]! : MARKS[Math.floor(rand() * MARKS.length)]!;
    }
    out.push(s);
  }
  return out;
}

test('the original span of every normalized character equals HF alignments, under all 16 option combinations', async () => {
  // A WordPiece vocabulary of single characters makes every normalized character its own token, so token
  // offsets expose HF's alignment of each one (canonical reordering moves spans by position, not identity).
  const texts = [...markStrings(3000, 7), ...randomTexts(1000, 99)];
  const failures: string[] = [];
  for (const combo of COMBOS) {
    const chars = new Set<string>();
    const n = bertNormalizer(combo);
    for (const t of texts) for (const c of n.normalizeString(t)) chars.add(c);
    const vocab: Record<string, number> = { '[UNK]': 0 };
    let id = 1;
    for (const c of chars) {
      if (!(c in vocab)) vocab[c] = id++;
      if (!(`##${c}` in vocab)) vocab[`##${c}`] = id++;
    }
    const json = JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: {
        type: 'BertNormalizer',
        clean_text: combo.cleanText,
        handle_chinese_chars: combo.handleChineseChars,
        strip_accents: combo.stripAccents,
        lowercase: combo.lowercase,
      },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: null,
      decoder: null,
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab,
      },
    });
    const hf = Tokenizer.fromString(json);
    const ours = BertTokenizer.fromTokenizerJson(json);
    const encs = await hf.encodeBatch(texts);
    for (let i = 0; i < texts.length && failures.length < 8; i++) {
      const d = diffEncoding(encs[i]!, ours.encode(texts[i]!, null, { returnOffsets: true }), texts[i]!);
      if (d) failures.push(`${label(combo)} ${shortText(texts[i]!)}: ${d}`);
    }
  }
  assert.deepEqual(failures, []);
});
