// Added (special) tokens found whole inside text, with HF's AddedVocabulary rules: leftmost-longest matches,
// single_word, lstrip and rstrip; matched on the original text, or on the normalized one when `normalized`.
import { isRegexSpace, isRegexWordChar } from './unicode.js';

export interface AddedToken {
  id: number;
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** One match: [start, end) in the searched sequence and the token id. */
export interface AddedTokenMatch {
  start: number;
  end: number;
  id: number;
}

/** A searchable sequence of UTF-16 code units: a string or a normalized buffer range. */
interface Units {
  length: number;
  at(i: number): number;
}

function codePointBefore(s: Units, i: number): number {
  const lo = s.at(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = s.at(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return ((hi - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
  }
  return lo;
}

function codePointAt(s: Units, i: number): number {
  const hi = s.at(i);
  if (hi >= 0xd800 && hi <= 0xdbff && i + 1 < s.length) {
    const lo = s.at(i + 1);
    if (lo >= 0xdc00 && lo <= 0xdfff) return ((hi - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
  }
  return hi;
}

interface Pattern {
  units: Uint16Array;
  token: AddedToken;
}

export class AddedTokenMatcher {
  /** Patterns by first code unit, longest first. */
  private readonly byFirst = new Map<number, Pattern[]>();
  private readonly firstUnits: number[];

  /** `patterns` pairs each token with the text to find (its content, or its normalized content). */
  constructor(patterns: ReadonlyArray<readonly [string, AddedToken]>) {
    // HF builds one automaton over all patterns; for equal patterns the first one given wins (a set, not a scan of
    // the list: a file can hold thousands of tokens that share their first character).
    const seen = new Set<string>();
    for (const [text, token] of patterns) {
      if (text.length === 0 || seen.has(text)) continue;
      seen.add(text);
      const units = new Uint16Array(text.length);
      for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
      const list = this.byFirst.get(units[0]!) ?? [];
      list.push({ units, token });
      this.byFirst.set(units[0]!, list);
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.units.length - a.units.length);
    this.firstUnits = [...this.byFirst.keys()];
  }

  get isEmpty(): boolean {
    return this.firstUnits.length === 0;
  }

  /** Matches in a string (the original text). */
  findInString(text: string): AddedTokenMatch[] {
    if (this.isEmpty) return [];
    // Fast rejection: most texts contain none of the first characters.
    let any = false;
    for (const u of this.firstUnits) {
      if (text.indexOf(String.fromCharCode(u)) >= 0) {
        any = true;
        break;
      }
    }
    if (!any) return [];
    return this.find({ length: text.length, at: (i) => text.charCodeAt(i) });
  }

  /** Matches in units[from, to), positions relative to `from`. */
  findInUnits(units: Uint16Array, from: number, to: number): AddedTokenMatch[] {
    if (this.isEmpty) return [];
    return this.find({ length: to - from, at: (i) => units[from + i]! });
  }

  private longestAt(s: Units, p: number): Pattern | null {
    const list = this.byFirst.get(s.at(p));
    if (!list) return null;
    for (const pat of list) {
      const u = pat.units;
      if (p + u.length > s.length) continue;
      let k = 1;
      while (k < u.length && s.at(p + k) === u[k]) k++;
      if (k === u.length) return pat;
    }
    return null;
  }

  /** HF's AddedVocabulary::find_matches: the search resumes after each automaton match, kept or not. */
  private find(s: Units): AddedTokenMatch[] {
    const out: AddedTokenMatch[] = [];
    let startOffset = 0;
    let pos = 0;
    while (pos < s.length) {
      let pat: Pattern | null = null,
        at = pos;
      for (; at < s.length; at++) {
        pat = this.longestAt(s, at);
        if (pat) break;
      }
      if (!pat) break;
      let start = at,
        stop = at + pat.units.length;
      pos = stop;
      const t = pat.token;
      if (t.singleWord) {
        const startSpace = start === 0 || !isRegexWordChar(codePointBefore(s, start));
        const stopSpace = stop === s.length || !isRegexWordChar(codePointAt(s, stop));
        if (!startSpace || !stopSpace) continue;
      }
      if (t.lstrip) {
        let ns = start;
        while (ns > 0) {
          const cp = codePointBefore(s, ns);
          if (!isRegexSpace(cp)) break;
          ns -= cp >= 0x10000 ? 2 : 1;
        }
        start = Math.max(ns, startOffset);
      }
      if (t.rstrip) {
        while (stop < s.length) {
          const cp = codePointAt(s, stop);
          if (!isRegexSpace(cp)) break;
          stop += cp >= 0x10000 ? 2 : 1;
        }
      }
      out.push({ start, end: stop, id: t.id });
      startOffset = stop;
    }
    return out;
  }
}
