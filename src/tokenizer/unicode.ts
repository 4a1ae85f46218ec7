// Character properties of HF's BERT normalizer and pre-tokenizer, decoded once from the generated tables.
import {
  CJK_RANGES,
  CLEAN_WHITESPACE,
  COMBINING_CLASS_RANGES,
  LOWERCASE_MULTI,
  LOWERCASE_RUNS,
  NFD_DECOMPOSITIONS,
  NONSPACING_MARK_RANGES,
  PUNCTUATION_RANGES,
  REMOVED_RANGES,
  SPLIT_WHITESPACE,
} from './unicode-tables.js';

// Property bits of one code point.
/** clean_text deletes it. */
export const P_REMOVED = 1;
/** clean_text turns it into a space. */
export const P_CLEAN_SPACE = 2;
/** BertPreTokenizer splits on it and drops it. */
export const P_SPLIT_SPACE = 4;
/** BertPreTokenizer isolates it. */
export const P_PUNCTUATION = 8;
/** handle_chinese_chars surrounds it with spaces. */
export const P_CJK = 16;
/** strip_accents deletes it after NFD. */
export const P_NONSPACING_MARK = 32;
/** NFD may reorder it (canonical combining class > 0). */
export const P_NON_STARTER = 64;
/** NFD changes it. */
export const P_DECOMPOSES = 128;
/** lowercase changes it. */
export const P_LOWERCASES = 256;

const HANGUL_BASE = 0xac00;
const HANGUL_COUNT = 11172;

const bmpProps = new Uint16Array(0x10000);
const astralProps = new Map<number, number>();
const combiningClass = new Map<number, number>();
const decompositions = new Map<number, readonly number[]>();
const lowercaseMap = new Map<number, readonly number[]>();

function setProp(cp: number, bit: number): void {
  if (cp < 0x10000) bmpProps[cp]! |= bit;
  else astralProps.set(cp, (astralProps.get(cp) ?? 0) | bit);
}

function setRanges(ranges: readonly number[], bit: number, astralToo: boolean): void {
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i]!,
      end = ranges[i + 1]!;
    for (let cp = start; cp <= end; cp++) {
      if (cp >= 0x10000 && !astralToo) break;
      setProp(cp, bit);
    }
  }
}

// Large astral ranges (private use planes, CJK extensions) are answered by range search instead of map entries.
function inRanges(ranges: readonly number[], cp: number): boolean {
  let lo = 0,
    hi = (ranges.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[2 * mid]!) hi = mid - 1;
    else if (cp > ranges[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

setRanges(REMOVED_RANGES, P_REMOVED, false);
for (const cp of CLEAN_WHITESPACE) setProp(cp, P_CLEAN_SPACE);
for (const cp of SPLIT_WHITESPACE) setProp(cp, P_SPLIT_SPACE);
setRanges(PUNCTUATION_RANGES, P_PUNCTUATION, true);
setRanges(CJK_RANGES, P_CJK, false);
setRanges(NONSPACING_MARK_RANGES, P_NONSPACING_MARK, true);
for (let i = 0; i < COMBINING_CLASS_RANGES.length; i += 3) {
  for (let cp = COMBINING_CLASS_RANGES[i]!; cp <= COMBINING_CLASS_RANGES[i + 1]!; cp++) {
    combiningClass.set(cp, COMBINING_CLASS_RANGES[i + 2]!);
    setProp(cp, P_NON_STARTER);
  }
}
/** Reads a table of variable-length entries [cp, n, v1..vn, ...] into `map`, marking each cp with `prop`. */
function setVariableEntries(table: readonly number[], map: Map<number, readonly number[]>, prop: number): void {
  for (let i = 0; i < table.length;) {
    const cp = table[i]!,
      n = table[i + 1]!;
    map.set(cp, table.slice(i + 2, i + 2 + n));
    setProp(cp, prop);
    i += 2 + n;
  }
}
setVariableEntries(NFD_DECOMPOSITIONS, decompositions, P_DECOMPOSES);
for (let cp = HANGUL_BASE; cp < HANGUL_BASE + HANGUL_COUNT; cp++) bmpProps[cp]! |= P_DECOMPOSES;
for (let i = 0; i < LOWERCASE_RUNS.length; i += 4) {
  const start = LOWERCASE_RUNS[i]!,
    count = LOWERCASE_RUNS[i + 1]!,
    step = LOWERCASE_RUNS[i + 2]!,
    delta = LOWERCASE_RUNS[i + 3]!;
  for (let k = 0; k < count; k++) {
    const cp = start + k * step;
    lowercaseMap.set(cp, [cp + delta]);
    setProp(cp, P_LOWERCASES);
  }
}
setVariableEntries(LOWERCASE_MULTI, lowercaseMap, P_LOWERCASES);

/** All property bits of a code point. */
export function props(cp: number): number {
  if (cp < 0x10000) return bmpProps[cp]!;
  let p = astralProps.get(cp) ?? 0;
  if (inRanges(REMOVED_RANGES, cp)) p |= P_REMOVED;
  if (inRanges(CJK_RANGES, cp)) p |= P_CJK;
  return p;
}

/** The BMP property table itself, for loops that index it directly. */
export const BMP_PROPS: Readonly<Uint16Array> = bmpProps;

/** Rank of the canonical combining class (0 for starters); only the order of ranks is meaningful. */
export function combiningRank(cp: number): number {
  return combiningClass.get(cp) ?? 0;
}

/** Full canonical decomposition, or null when NFD leaves the code point alone. */
export function decompose(cp: number): readonly number[] | null {
  if (cp >= HANGUL_BASE && cp < HANGUL_BASE + HANGUL_COUNT) {
    const s = cp - HANGUL_BASE;
    const l = 0x1100 + Math.floor(s / 588),
      v = 0x1161 + Math.floor((s % 588) / 28),
      t = s % 28;
    return t === 0 ? [l, v] : [l, v, 0x11a7 + t];
  }
  return decompositions.get(cp) ?? null;
}

/** Rust char::to_lowercase, or null when it is the identity. */
export function lowercaseOf(cp: number): readonly number[] | null {
  return lowercaseMap.get(cp) ?? null;
}

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const WHITE_SPACE = /\p{White_Space}/u;

/** Rust regex `\w` (Unicode) on one code point, for single_word added tokens. */
export function isRegexWordChar(cp: number): boolean {
  return WORD_CHAR.test(String.fromCodePoint(cp));
}

/** Rust regex `\s` (Unicode White_Space), for lstrip / rstrip added tokens. */
export function isRegexSpace(cp: number): boolean {
  return WHITE_SPACE.test(String.fromCodePoint(cp));
}
