// The Unicode torture set: hand-picked hard cases, seeded random strings over a pool of hard characters,
// and strings that hold every code point.
import { seeded } from '../../helpers/seeded.js';

const a100 = 'a'.repeat(100);

/** Hand-written cases, grouped by what they exercise. */
export const TORTURE: readonly string[] = [
  // accents, precomposed and combining; stacked marks; zalgo; canonical reordering of non-starters
  'Café naïve résumé façade jalapeño Ångström crème brûlée',
  'ÀÁÂÃÄÅ àáâãäå ÈÉÊË Ñ ñ Ç ç Ø ø Œ œ Æ æ Ð ð Þ þ',
  'e\u0301 a\u0300\u0316 o\u0308\u0304 u\u0328\u0301 n\u0303',
  'Z\u0351\u0362\u0300\u0316\u0317\u0318a\u0363\u0364\u0365l\u0366g\u0367o\u0368 t\u0369e\u036ax\u036bt',
  'Z' + '\u0300\u0316\u0351\u0362'.repeat(60) + 'end',
  'a\u{1d16d}\u0301\u{1d165} \u{1d15f}\u{1d16d} a\u{1d16d}\u{1d15f} \u{1d160}\u0316 \u0301\u{1d165}a',
  '\u302e\u302f\u1b44\u0301\ua953 \u{1e000}\u{1e944}\u0300 \u{11442}\u{11446}\u0316',
  '\u0340\u0341\u0343\u0344 \u0958\u0959 \u1e9b\u0323',
  // CJK: unified, extension A, B, C-F, compatibility ideographs (they decompose), CJK punctuation
  '中文分词测试：我爱自然语言处理。',
  '㐀㐁㐂 𠀀𠀁𠮷 𪜀𫝀𫠠𬺰 豈更車賈 丽丸乁 、。「」『』〜',
  '我是Chinese混合text123和emoji😀',
  // Korean (Hangul syllables decompose under NFD), Japanese, half-width katakana
  '안녕하세요 한국어 텍스트 처리 똠방각하',
  'こんにちは世界 カタカナ ｶﾀｶﾅ ﾊﾟﾋﾟ ガギグ',
  // Thai, Arabic with harakat, Hebrew with points, Devanagari, Cyrillic, Greek, Armenian, Georgian, Vietnamese
  'ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรค',
  'مرحبا بالعالم السَّلَامُ عَلَيْكُمْ ١٢٣',
  'שָׁלוֹם עֲלֵיכֶם',
  'नमस्ते दुनिया क्षत्रिय हिन्दी',
  'Привет мир ЁЖИК ёжик Ѐ ѐ',
  'ΟΔΥΣΣΕΥΣ ΣΊΣΥΦΟΣ ὁδός ΑΣ Σ σς ΐ ΰ',
  'Բարեւ աշխարհ ﬓ ﬔ',
  'ქართული ენა ႠႡ',
  'Tiếng Việt có dấu ờ ữ ặ Ỵ',
  // emoji: ZWJ families, skin tones, flags, variation selectors, keycaps, newer emoji
  '👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 ❤️ ❤ 👍🏻👍🏼👍🏽👍🏾👍🏿 🇺🇸🇫🇷 1️⃣ #️⃣ 🥲 🫠 🪿',
  'I loved it😀😀😀!!! best movie👍👍',
  // zero-width characters and BOM
  'zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffbom \ufeffstart',
  // control characters, kept whitespace controls, C1 controls
  'a\u0000b\u0001c\u0007d\u001be\u007ff\u0085g\u009fh',
  'tab\there\nnewline\r\ncrlf\u000bvt\u000cff\u001cfs\u001dgs\u001ers\u001fus',
  // every kind of space
  'nbsp\u00a0here\u2002en\u2003em\u3000ideo\u2028ls\u2029ps\u202fnnbsp\u205fmmsp\u1680ogham\u180emvs\u200ahair',
  // full-width forms
  'ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ！１２３？（ｔｅｓｔ）',
  // ligatures and digraphs
  'ﬁnance ﬂow ﬀ ﬃ ﬄ ﬅ ﬆ Ǆ ǅ ǆ Ĳ ĳ ŉ',
  // Turkish dotted and dotless I
  'İstanbul ISTANBUL ıi İi I\u0307 KIRMIZI kırmızı İ',
  // sharp s and final sigma
  'Straße STRASSE ẞ ß ΟΔΟΣ ὈΔΥΣΣΕΎΣ',
  // letterlike symbols, compatibility characters
  'K Å Ω ℃ ™ ① ½ ² ³ ℌ ℵ Ⅻ',
  // 100- and 101-character words, also after normalization changes their length
  a100,
  a100 + 'a',
  'x ' + a100 + ' y ' + a100 + 'b z',
  'é'.repeat(100),
  'é'.repeat(101),
  'e\u0301'.repeat(100),
  '😀'.repeat(100),
  '😀'.repeat(101),
  'ab'.repeat(50) + 'c',
  'x'.repeat(99) + 'İ',
  'x'.repeat(100) + '\u0301',
  'X'.repeat(100) + '\u00e9',
  'unbelievablyunbelievablyunbelievablyunbelievablyunbelievably',
  // special tokens inside text
  'a [MASK] b',
  '[CLS][SEP]',
  '[mask] lowercase [Mask]',
  '[MASK',
  '[[MASK]]',
  'x[UNK]y',
  '[PAD][PAD] [PAD]',
  '[SEP]',
  'hello[MASK]world',
  '[MASK]ed',
  '[ MASK ]',
  '＜[MASK]＞ é[MASK]é',
  '[MASK]\u0301',
  'the [MASK] of [UNK] is [CLS] and [SEP] with [PAD]',
  'a b c d [MASK] [MASK] e f g h',
  '[MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] a b c',
  'a [MASK] b [MASK] c [MASK] d [MASK] e f g h i j k',
  '[MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK] [MASK]',
  // empty and whitespace-only
  '',
  ' ',
  '   ',
  '\t\n\r',
  '\u3000\u00a0',
  '\u200b',
  '\ufeff',
  '\u0000',
  // punctuation of every kind
  '!!!???...,,,;;;:::',
  '¿Qué? ¡Sí!',
  '«guillemets» „quotes“ ‘single’ ‹a›',
  'a—b–c‐d‑e ― ‒',
  '… ¶§†‡• ‰ ′″',
  '#hashtag @user $100 50% a&b *star* ~tilde^ `tick` |pipe| \\back/ <tag> {brace} [bracket]',
  '⹒⹓⹝ ⸺ ⸻ ꧁꧂ ៘ ۔ ؟ ، ।',
  // numbers in several scripts
  '1,234.56 3.14159 10^6 1e-10 0x1F ١٢٣ ०१२ ໑໒',
  // URLs and e-mail
  'https://example.com/path?q=1&b=2#frag user@example.com',
  // IMDb-like
  '<br /><br />This movie was GREAT!!! 10/10, would watch again... NOT. :-)',
  "I didn't like it; it's the worst film I've seen. Don't!",
  // private use, unassigned, tags, non-characters, replacement character
  '\ue000\uf8ff\u{f0000}\u{10fffd} private',
  '\u0378\u0379 \u{e0001}\u{e0041}tag \ufdd0\uffff \u{1fffe}',
  '\ufffd bad \ufffd',
  // mathematical alphanumerics, astral letters inside words
  '𝐀𝐁𝐂 𝕏 𝒜 𝔊 𝟘𝟙',
  '𝐀bc a😀b x𠀀y',
  // newer Unicode (unknown to HF's older tables)
  '\u07fd\u0897\u1ac0 \u{1e4ec} \u{16ff0}',
  // long text
  'This is a long review. '.repeat(300),
];

const POOL = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'      ',
  ...'.,!?;:\'"-()[]{}<>/\\@#$%^&*_+=~`|',
  '[MASK]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[PAD]',
  '[mask]',
  ...'éèêëÉÈàâäÀçÇñÑöÖüÜßẞİıŉǅﬁﬂ',
  '\u0301',
  '\u0300',
  '\u0316',
  '\u0308',
  '\u0327',
  '\u0345',
  '\u035c',
  '\u1dce',
  '\u302a',
  '\u05b0',
  '\u0e38',
  '\u{1d165}',
  '\u{1d16d}',
  '\u{1d15f}',
  '\u302e',
  '\u1b44',
  '\u{1e000}',
  '\u{1e944}',
  ...'中文字㐀豈가한글ภาษาعربيעבר',
  '𠀀',
  '𪜀',
  '😀',
  '👍🏽',
  '👨‍👩‍👧',
  '🇺🇸',
  '𝐀',
  '❤️',
  '\u200b',
  '\u200c',
  '\u200d',
  '\ufeff',
  '\u00a0',
  '\u3000',
  '\u2028',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u0001',
  '\u007f',
  '\u0085',
  '\ufffd',
  '\ue000',
  '\u0378',
  '\u07fd',
  'ＡＢ１！',
  'Ω',
  'Å',
  'K',
  'Σ',
  'ς',
];

/** Seeded random strings over POOL. */
export function randomTexts(count: number, seed = 1234): string[] {
  const rand = seeded(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = Math.floor(rand() * 40);
    let s = '';
    for (let k = 0; k < len; k++) s += POOL[Math.floor(rand() * POOL.length)]!;
    out.push(s);
  }
  return out;
}

/**
 * Strings that together hold every Unicode scalar value, alone between spaces and inside a word. With
 * `sampled`, the uniform planes 4-13 (unassigned) and 15-16 (private use) are cut to every 61st code point.
 */
export function everyCodePoint(sampled = false, chunk = 2048): string[] {
  const out: string[] = [];
  for (let start = 0; start <= 0x10ffff; start += chunk) {
    let alone = '',
      inWord = '';
    for (let cp = start; cp < Math.min(start + chunk, 0x110000); cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const plane = cp >> 16;
      if (sampled && ((plane >= 4 && plane <= 13) || plane >= 15) && cp % 61 !== 0) continue;
      const c = String.fromCodePoint(cp);
      alone += c + ' ';
      inWord += 'a' + c + 'b ';
    }
    if (alone) out.push(alone, inWord);
  }
  return out;
}

/**
 * Every scalar value in order (chunked), and each one between two letters; the uniform planes 4-13
 * (unassigned) and 15-16 (private use) are sampled (every 61st), scripts/tokenizer-diff.ts takes them all.
 */
export function codePointStrings(sampled = true): string[] {
  const out: string[] = [];
  for (let start = 0; start <= 0x10ffff; start += 8192) {
    let inOrder = '',
      between = '';
    for (let cp = start; cp < Math.min(start + 8192, 0x110000); cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const plane = cp >> 16;
      if (sampled && ((plane >= 4 && plane <= 13) || plane >= 15) && cp % 61 !== 0) continue;
      const c = String.fromCodePoint(cp);
      inOrder += c;
      between += 'x' + c;
    }
    if (inOrder) out.push(inOrder, between);
  }
  return out;
}
