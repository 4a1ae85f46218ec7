// The words a WordPiece trainer counts: BertNormalizer then BertPreTokenizer (split on whitespace, isolate punctuation).
import { BertNormalizer } from './normalizer.js';
import { P_PUNCTUATION, P_SPLIT_SPACE, props } from './unicode.js';

/** Settings of the BERT normaliser used before counting words (BertWordPieceTokenizer's). */
export interface WordSplitterOptions {
  /** Lowercase and strip accents (BERT uncased). */
  lowercase: boolean;
  /** Strip accents independently of lowercase (default: same as lowercase, HF's `strip_accents: null`). */
  stripAccents?: boolean;
}

/**
 * A function from raw text to the words HF's trainer would count for it: `BertNormalizer(clean_text,
 * handle_chinese_chars, strip_accents, lowercase)` then `BertPreTokenizer` (whitespace removed, each punctuation
 * character its own word).
 */
export function bertWordSplitter(options: WordSplitterOptions): (text: string) => string[] {
  const normalizer = new BertNormalizer({
    cleanText: true,
    handleChineseChars: true,
    stripAccents: options.stripAccents ?? options.lowercase,
    lowercase: options.lowercase,
  });
  return (text: string): string[] => {
    const s = normalizer.normalize(text);
    const words: string[] = [];
    let start = -1;
    for (let i = 0; i < s.length;) {
      const cp = s.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      const p = props(cp);
      if (p & P_SPLIT_SPACE) {
        if (start >= 0) words.push(s.slice(start, i));
        start = -1;
      } else if (p & P_PUNCTUATION) {
        if (start >= 0) words.push(s.slice(start, i));
        words.push(s.slice(i, i + width));
        start = -1;
      } else if (start < 0) {
        start = i;
      }
      i += width;
    }
    if (start >= 0) words.push(s.slice(start));
    return words;
  };
}
