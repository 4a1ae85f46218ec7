// Sentence splitting for review-style text (IMDb): <br /> paragraphs, abbreviations, quotes, ellipses, !? runs.
//
// BERT's next-sentence task needs documents as lists of sentences. The original pipeline had one sentence per
// line; IMDb reviews are raw text with HTML line breaks, sloppy capitalisation and lots of "!!!" and "...". The
// rules below prefer to under-split (a slightly long sentence costs little) over cutting "Mr. Smith" in two.

// Abbreviations after which a period never ends a sentence (compared lowercased, without the final period).
const NEVER_END = new Set([
  'mr',
  'mrs',
  'ms',
  'messrs',
  'dr',
  'prof',
  'rev',
  'hon',
  'gen',
  'col',
  'lt',
  'sgt',
  'capt',
  'cpt',
  'cmdr',
  'gov',
  'sen',
  'rep',
  'pres',
  'st',
  'mt',
  'ft',
  'vs',
  'v',
  'e.g',
  'i.e',
  'cf',
  'viz',
  'a.k.a',
  'aka',
  'approx',
  'ca',
  'fig',
  'vol',
  'vols',
  'ch',
  'pp',
  'ed',
  'eds',
  'dept',
  'est',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'mon',
  'tue',
  'tues',
  'wed',
  'thu',
  'thur',
  'thurs',
  'fri',
  'sat',
  'sun',
]);
// Abbreviations that often end a sentence too: a period after them ends one only when the next word is capitalised.
const MAYBE_END = new Set([
  'etc',
  'jr',
  'sr',
  'inc',
  'ltd',
  'co',
  'corp',
  'bros',
  'al',
  'p.s',
  'ps',
  'min',
  'mins',
  'hrs',
]);

// Terminator run, then closing quotes/brackets, then the whitespace after them.
const CANDIDATE = /([.!?\u2026]+)(["'\u201d\u2019)\]]*)(\s*)/gu;
const OPENERS = /^["'\u201c\u2018(\[]*/u;

function startsUpper(s: string): boolean {
  const rest = s.replace(OPENERS, '');
  const c = rest.charAt(0);
  return c !== '' && (c !== c.toLowerCase() || /\p{Lu}|\p{Lt}/u.test(c));
}
function startsLower(s: string): boolean {
  const c = s.charAt(0);
  return c !== '' && c !== c.toUpperCase();
}
function startsDigit(s: string): boolean {
  return /^["'\u201c\u2018(\[]*\p{Nd}/u.test(s);
}

/** Whether the terminator at this point ends the sentence. `before` is the word it is glued to, `next` what follows. */
function endsSentence(term: string, closers: string, before: string, next: string): boolean {
  // "Stop!" he said / (really?) it was / 'no.' and left: a closed quote or bracket followed by lowercase continues.
  if (closers !== '' && startsLower(next)) return false;
  if (/[!?]/.test(term)) return true;
  if (term.length > 1 || term === '\u2026') {
    // Ellipsis: trailing off mid-sentence ("I thought... maybe not") unless a capitalised word follows.
    return startsUpper(next);
  }
  const word = before.replace(OPENERS, '');
  const lower = word.toLowerCase();
  if (word === '') return true;
  if (NEVER_END.has(lower)) return false;
  if (MAYBE_END.has(lower)) return startsUpper(next);
  if (lower === 'no' || lower === 'nos' || lower === 'op') return !startsDigit(next); // No. 5, Op. 27
  // Initials and dotted acronyms: J. R. R. Tolkien, U.S., D.C., L.A. -- never split after them.
  if (/^\p{Lu}$/u.test(word) || /^(\p{L}\.)+\p{L}$/u.test(word)) return false;
  return true;
}

/** Splits one paragraph (no line breaks) into sentences, trimmed. */
function splitParagraph(p: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const m of p.matchAll(CANDIDATE)) {
    const term = m[1]!;
    const closers = m[2]!;
    const at = m.index!;
    const cut = at + term.length + closers.length;
    const next = p.slice(cut + m[3]!.length, cut + m[3]!.length + 8);
    if (next === '') break; // end of paragraph
    const head = p.slice(start, at);
    if (m[3] === '') {
      // Glued sentences ("every time?The cussing"): only after ! or ? between a word and a capitalised word, since
      // a glued period is more often a name or a URL (imdb.com, Node.JS).
      if (/[!?]/.test(term) && closers === '' && /\p{L}$/u.test(head) && /^\p{Lu}\p{Ll}/u.test(next)) {
        out.push(p.slice(start, cut).trim());
        start = cut;
      }
      continue;
    }
    const before = head.slice(head.search(/\S*$/u));
    if (endsSentence(term, closers, before, next)) {
      out.push(p.slice(start, cut).trim());
      start = cut + m[3]!.length;
    }
  }
  out.push(p.slice(start).trim());
  return out.filter((s) => s !== '');
}

// A fragment with no letter or digit ("***", "--", ":)") is glued to the sentence before it rather than standing alone.
const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * Splits review text into sentences. `<br />` tags (any spelling) and line breaks end a sentence; within a
 * paragraph a sentence ends at `.`, `!`, `?` runs or an ellipsis followed by whitespace, keeping closing quotes and
 * brackets with the sentence they close, except after known abbreviations, initials and dotted acronyms.
 */
export function splitSentences(text: string): string[] {
  const paragraphs = text.replace(/<br\s*\/?\s*>/giu, '\n').split(/\s*\n\s*/u);
  const out: string[] = [];
  for (const p of paragraphs) {
    for (const s of splitParagraph(p.replace(/\s+/gu, ' '))) {
      if (!HAS_WORD.test(s) && out.length > 0) out[out.length - 1] += ' ' + s;
      else out.push(s);
    }
  }
  return out;
}
