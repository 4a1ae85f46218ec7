// Generates src/tokenizer/unicode-tables.ts: the Unicode data HuggingFace's Rust tokenizers really uses.
//
// HF's BertNormalizer / BertPreTokenizer take their character classes from crates pinned to older Unicode
// versions (unicode_categories for Mn / P* / "other", unicode-normalization-alignments for NFD and combining
// classes) and Rust std for lowercase and whitespace. Node's ICU is newer, so `\p{Mn}` or
// `String.prototype.normalize` disagree with HF on hundreds of code points (and differ between Node versions).
// This script probes the reference implementation (the `tokenizers` dev dependency) code point by code point
// and writes the observed tables, then checks them back against it. Run: npx tsx scripts/gen-unicode-tables.ts
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bertNormalizer, bertPreTokenizer, nfdNormalizer } from 'tokenizers';

const require = createRequire(import.meta.url);
const hfVersion = (require('tokenizers/package.json') as { version: string }).version;

const MAX = 0x10ffff;
const isSurrogate = (cp: number) => cp >= 0xd800 && cp <= 0xdfff;
const ch = (cp: number) => String.fromCodePoint(cp);
const cps = (s: string) => Array.from(s, (c) => c.codePointAt(0)!);

const clean = bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const cjk = bertNormalizer({ cleanText: false, handleChineseChars: true, stripAccents: false, lowercase: false });
const strip = bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const lower = bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true });
const nfd = nfdNormalizer();
const pre = bertPreTokenizer();

function fail(msg: string): never {
  console.error(`gen-unicode-tables: ${msg}`);
  process.exit(1);
}

/** Collapses a sorted list of code points into inclusive [start, end] ranges, flattened. */
function toRanges(list: number[]): number[] {
  const out: number[] = [];
  for (const cp of list) {
    const n = out.length;
    if (n > 0 && out[n - 1] === cp - 1) out[n - 1] = cp;
    else out.push(cp, cp);
  }
  return out;
}

const removed: number[] = [];
const cleanWhitespace: number[] = [];
const cjkList: number[] = [];
const rustWhitespace: number[] = [];
const punctuation: number[] = [];
const nfdMap = new Map<number, number[]>();
const stripOut = new Map<number, string>();
const lowerMap = new Map<number, number[]>();

const t0 = performance.now();
for (let cp = 0; cp <= MAX; cp++) {
  if (isSurrogate(cp)) continue;
  const c = ch(cp);
  const a = clean.normalizeString(c);
  if (a === '') removed.push(cp);
  else if (a === ' ' && c !== ' ') cleanWhitespace.push(cp);
  else if (a !== c) fail(`clean_text maps U+${cp.toString(16)} to ${JSON.stringify(a)}`);
  if (cjk.normalizeString(c) !== c) cjkList.push(cp);
  const d = nfd.normalizeString(c);
  if (d !== c) nfdMap.set(cp, cps(d));
  const s = strip.normalizeString(c);
  if (s !== c) stripOut.set(cp, s);
  const l = lower.normalizeString(c);
  if (l !== c) lowerMap.set(cp, cps(l));
  const p = pre.preTokenizeString('x' + c + 'x');
  if (p.length === 3) punctuation.push(cp);
  else if (p.length === 2) rustWhitespace.push(cp);
  else if (p.length !== 1) fail(`pre-tokenizer splits x U+${cp.toString(16)} x into ${p.length}`);
}
if (!cleanWhitespace.includes(32)) cleanWhitespace.unshift(32);
cleanWhitespace.sort((x, y) => x - y);
console.error(`probed ${MAX + 1} code points in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// Nonspacing marks: NFD-stable characters that accent stripping deletes.
const mn: number[] = [];
for (const [cp, s] of stripOut) if (!nfdMap.has(cp) && s === '') mn.push(cp);
mn.sort((x, y) => x - y);
const mnSet = new Set(mn);

// Hangul syllables decompose algorithmically; check that HF's NFD agrees and drop them from the table.
const S_BASE = 0xac00,
  L_BASE = 0x1100,
  V_BASE = 0x1161,
  T_BASE = 0x11a7,
  V_COUNT = 21,
  T_COUNT = 28;
for (let cp = S_BASE; cp < S_BASE + 11172; cp++) {
  const si = cp - S_BASE;
  const want = [
    L_BASE + Math.floor(si / (V_COUNT * T_COUNT)),
    V_BASE + Math.floor((si % (V_COUNT * T_COUNT)) / T_COUNT),
  ];
  if (si % T_COUNT !== 0) want.push(T_BASE + (si % T_COUNT));
  const got = nfdMap.get(cp);
  if (!got || got.join() !== want.join()) fail(`Hangul U+${cp.toString(16)} decomposes to ${got}`);
  nfdMap.delete(cp);
}

// Combining classes as HF's NFD knows them: a character is a non-starter when NFD reorders it against
// U+0334 (class 1) or U+0301 (class 230); classes are then ranked by the reorderings themselves.
const reorders = (a: number, b: number) => nfd.normalizeString(ch(a) + ch(b)) !== ch(a) + ch(b);
const marks: number[] = [];
for (let cp = 0; cp <= MAX; cp++) {
  if (isSurrogate(cp) || nfdMap.has(cp) || (cp >= S_BASE && cp < S_BASE + 11172)) continue;
  if (reorders(cp, 0x334) || reorders(0x301, cp)) marks.push(cp);
}
const sorted = [...marks].sort((a, b) => (reorders(a, b) ? 1 : reorders(b, a) ? -1 : 0));
const rank = new Map<number, number>();
let r = 1;
for (let i = 0; i < sorted.length; i++) {
  if (i > 0 && reorders(sorted[i]!, sorted[i - 1]!)) r++;
  rank.set(sorted[i]!, r);
}
for (const a of marks) {
  for (const b of marks) {
    if (reorders(a, b) !== rank.get(a)! > rank.get(b)!)
      fail(`combining class ranks disagree with HF NFD for U+${a.toString(16)} U+${b.toString(16)}`);
  }
}
const cccRanges: number[] = [];
for (const cp of [...marks].sort((x, y) => x - y)) {
  const n = cccRanges.length;
  const rk = rank.get(cp)!;
  if (n > 0 && cccRanges[n - 2] === cp - 1 && cccRanges[n - 1] === rk) cccRanges[n - 2] = cp;
  else cccRanges.push(cp, cp, rk);
}
console.error(
  `${marks.length} non-starters in ${r} classes, ${mn.length} nonspacing marks, ${nfdMap.size} decompositions`,
);

// Accent stripping of a single character must be NFD followed by dropping the nonspacing marks.
for (let cp = 0; cp <= MAX; cp++) {
  if (isSurrogate(cp)) continue;
  const d = nfdMap.get(cp) ?? (cp >= S_BASE && cp < S_BASE + 11172 ? cps(nfd.normalizeString(ch(cp))) : [cp]);
  const want = String.fromCodePoint(...d.filter((x) => !mnSet.has(x)));
  const got = stripOut.get(cp) ?? ch(cp);
  if (want !== got)
    fail(`strip_accents(U+${cp.toString(16)}) = ${JSON.stringify(got)}, model gives ${JSON.stringify(want)}`);
}

// CJK ranges are written out in bert.rs; confirm them.
const CJK = [
  0x3400, 0x4dbf, 0x4e00, 0x9fff, 0xf900, 0xfaff, 0x20000, 0x2a6df, 0x2a700, 0x2b73f, 0x2b740, 0x2b81f, 0x2b920,
  0x2ceaf, 0x2f800, 0x2fa1f,
];
const cjkRanges = toRanges(cjkList);
const merged: number[] = [];
for (let i = 0; i < CJK.length; i += 2) {
  const n = merged.length;
  if (n > 0 && merged[n - 1] === CJK[i]! - 1) merged[n - 1] = CJK[i + 1]!;
  else merged.push(CJK[i]!, CJK[i + 1]!);
}
if (cjkRanges.join() !== merged.join()) fail(`CJK ranges differ: ${cjkRanges.map((x) => x.toString(16))}`);

// Lowercase: runs of single-character mappings [start, count, step, delta] plus the multi-character ones.
const lowerRuns: number[] = [];
const lowerMulti: number[] = [];
let run: { start: number; count: number; step: number; delta: number } | null = null;
const flush = () => {
  if (run) lowerRuns.push(run.start, run.count, run.step, run.delta);
  run = null;
};
for (const cp of [...lowerMap.keys()].sort((x, y) => x - y)) {
  const m = lowerMap.get(cp)!;
  if (m.length !== 1) {
    lowerMulti.push(cp, m.length, ...m);
    continue;
  }
  const delta = m[0]! - cp;
  if (run) {
    const r0: { start: number; count: number; step: number; delta: number } = run;
    const last = r0.start + (r0.count - 1) * r0.step;
    const step = cp - last;
    if (r0.delta === delta && (r0.count === 1 ? step === 1 || step === 2 : step === r0.step)) {
      if (r0.count === 1) r0.step = step;
      r0.count++;
      continue;
    }
  }
  flush();
  run = { start: cp, count: 1, step: 1, delta };
}
flush();

const nfdFlat: number[] = [];
for (const cp of [...nfdMap.keys()].sort((x, y) => x - y)) nfdFlat.push(cp, nfdMap.get(cp)!.length, ...nfdMap.get(cp)!);

function arr(name: string, doc: string, values: number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += 16)
    lines.push(
      '  ' +
        values
          .slice(i, i + 16)
          .map((v) => (v < 0 ? '-0x' + (-v).toString(16) : '0x' + v.toString(16)))
          .join(',') +
        ',',
    );
  return `/** ${doc} */\nexport const ${name}: readonly number[] = [\n${lines.join('\n')}\n];\n`;
}

const out = [
  `// Unicode data of HuggingFace tokenizers ${hfVersion} (Rust), as observed code point by code point.`,
  '// Generated by scripts/gen-unicode-tables.ts; do not edit by hand.',
  '',
  arr(
    'REMOVED_RANGES',
    'Removed by clean_text (NUL, U+FFFD, Cc/Cf/Co except \\t \\n \\r): inclusive [start, end] pairs.',
    toRanges(removed),
  ),
  arr('CLEAN_WHITESPACE', 'Turned into U+0020 by clean_text.', cleanWhitespace),
  arr('SPLIT_WHITESPACE', 'Rust char::is_whitespace: where BertPreTokenizer splits (and drops).', rustWhitespace),
  arr(
    'PUNCTUATION_RANGES',
    'BertPreTokenizer punctuation (ASCII punctuation + unicode_categories P*): inclusive ranges.',
    toRanges(punctuation),
  ),
  arr('CJK_RANGES', 'handle_chinese_chars ideographs: inclusive ranges.', merged),
  arr('NONSPACING_MARK_RANGES', 'Mn as strip_accents knows it: inclusive ranges.', toRanges(mn)),
  arr(
    'COMBINING_CLASS_RANGES',
    'Canonical combining classes of HF NFD as order-preserving ranks: [start, end, rank] triples.',
    cccRanges,
  ),
  arr(
    'NFD_DECOMPOSITIONS',
    'Full canonical decompositions (Hangul syllables excluded, they are algorithmic): [cp, n, ...n code points].',
    nfdFlat,
  ),
  arr('LOWERCASE_RUNS', 'Single-character lowercase mappings: [start, count, step, delta] runs.', lowerRuns),
  arr('LOWERCASE_MULTI', 'Multi-character lowercase mappings: [cp, n, ...n code points].', lowerMulti),
].join('\n');
writeFileSync(new URL('../src/tokenizer/unicode-tables.ts', import.meta.url), out);
console.error(`wrote src/tokenizer/unicode-tables.ts (${(out.length / 1024).toFixed(0)} KiB)`);
