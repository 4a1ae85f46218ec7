// The API against HF: batches and padding, flat batches, decode, tokenize, added tokens with every option,
// templates, save() read back by HF and by us, fromVocab, special-token roles.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Tokenizer, WordPiece } from 'tokenizers';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { parseVocabTxt } from '../../src/tokenizer/config.js';
import {
  MINI_DIR,
  SHARED,
  TINY_DIR,
  allFolders,
  configured,
  diffEncoding,
  hfTokenizer,
  pipelineFolders,
  readImdb,
  shortText,
} from './helpers/oracle.js';
import { TORTURE } from './helpers/torture.js';
import { seeded } from '../helpers/seeded.js';
import { tempDir } from '../helpers/temp.js';

const tmp = tempDir('api');
const SAMPLE = [...readImdb('test').slice(0, 200), ...TORTURE];

describe('batches and padding against HF encodeBatch', () => {
  for (const [name, dir] of Object.entries(allFolders())) {
    test(name, async () => {
      const ours = BertTokenizer.fromPretrained(dir);
      const base = await hfTokenizer(dir);
      const padId = ours.padTokenId!;
      const texts = SAMPLE.slice(0, 120);
      const pairs = texts.map((_, i) => SAMPLE[(i * 13 + 5) % SAMPLE.length]!);
      const failures: string[] = [];
      const check = (
        label: string,
        want: Awaited<ReturnType<typeof base.encodeBatch>>,
        got: ReturnType<typeof ours.encodeBatch>,
        withPairs: boolean,
      ) => {
        assert.equal(got.length, want.length);
        for (let i = 0; i < want.length && failures.length < 5; i++) {
          const d = diffEncoding(want[i]!, got[i]!, texts[i]!, withPairs ? pairs[i] : null);
          if (d) failures.push(`${label} item ${i} ${shortText(texts[i]!, 40)}: ${d}`);
        }
      };
      // padding to the longest of the batch, no truncation
      base.disableTruncation();
      base.setPadding({ padId, padToken: '[PAD]' });
      check(
        'longest',
        await base.encodeBatch(texts),
        ours.encodeBatch(texts, null, { padding: 'longest', returnOffsets: true }),
        false,
      );
      // (the binding's encodeBatch takes no pairs: each pair is padded to the longest of the batch by hand)
      const oursPairs = ours.encodeBatch(texts, pairs, { padding: true, returnOffsets: true });
      base.setPadding({ padId, padToken: '[PAD]', maxLength: oursPairs[0]!.inputIds.length });
      check('longest pairs', await Promise.all(texts.map((t, i) => base.encode(t, pairs[i]!))), oursPairs, true);
      // max_length with truncation
      configured(base, { maxLength: 64, strategy: 'LongestFirst', padTo: 64, padId });
      check(
        'max_length 64',
        await base.encodeBatch(texts),
        ours.encodeBatch(texts, null, { padding: 'max_length', maxLength: 64, truncation: true, returnOffsets: true }),
        false,
      );
      check(
        'max_length 64 pairs',
        await Promise.all(texts.map((t, i) => base.encode(t, pairs[i]!))),
        ours.encodeBatch(texts, pairs, {
          padding: 'max_length',
          maxLength: 64,
          truncation: 'longest_first',
          returnOffsets: true,
        }),
        true,
      );
      configured(base, {});
      assert.deepEqual(failures, []);
    });
  }
});

test('without special tokens, truncation uses the whole maxLength, as HF', async () => {
  const ours = BertTokenizer.fromPretrained(TINY_DIR);
  const base = await hfTokenizer(TINY_DIR);
  const failures: string[] = [];
  for (const strategy of ['LongestFirst', 'OnlyFirst', 'OnlySecond'] as const) {
    const truncation = ({ LongestFirst: 'longest_first', OnlyFirst: 'only_first', OnlySecond: 'only_second' } as const)[
      strategy
    ];
    for (const maxLength of [1, 2, 7, 30]) {
      const hf = configured(base, { maxLength, strategy });
      for (let i = 0; i < 30; i++) {
        const a = SAMPLE[i]!,
          b = SAMPLE[SAMPLE.length - 1 - i]!;
        for (const pair of [null, b]) {
          let want = null,
            got = null;
          try {
            want = await hf.encode(a, pair, { addSpecialTokens: false });
          } catch {
            // both must fail
          }
          try {
            got = ours.encode(a, pair, { addSpecialTokens: false, maxLength, truncation, returnOffsets: true });
          } catch {
            // both must fail
          }
          const d =
            !want !== !got
              ? `HF ${want ? 'ok' : 'error'}, ours ${got ? 'ok' : 'error'}`
              : want && got
                ? diffEncoding(want, got, a, pair)
                : null;
          if (d && failures.length < 5)
            failures.push(`${strategy} ${maxLength} ${pair ? 'pair' : 'single'} ${shortText(a, 30)}: ${d}`);
        }
      }
    }
  }
  configured(base, {});
  assert.deepEqual(failures, []);
});

test('encodeBatchFlat holds encodeBatch row by row in [batch, seqLen] typed arrays', () => {
  const ours = BertTokenizer.fromPretrained(TINY_DIR);
  const texts = SAMPLE.slice(0, 40),
    pairs = SAMPLE.slice(40, 80);
  for (const options of [
    { returnOffsets: true },
    { padding: 'max_length', maxLength: 48, truncation: 'longest_first', returnOffsets: true },
  ] as const) {
    const rows = ours.encodeBatch(texts, pairs, { padding: 'longest', ...options });
    const flat = ours.encodeBatchFlat(texts, pairs, options);
    assert.equal(flat.batch, texts.length);
    assert.equal(flat.seqLen, rows[0]!.inputIds.length);
    assert.ok(flat.inputIds instanceof Int32Array && flat.offsets instanceof Int32Array);
    rows.forEach((r, b) => {
      const row = (a: Int32Array) => Array.from(a.subarray(b * flat.seqLen, (b + 1) * flat.seqLen));
      assert.deepEqual(row(flat.inputIds), r.inputIds);
      assert.deepEqual(row(flat.tokenTypeIds), r.tokenTypeIds);
      assert.deepEqual(row(flat.attentionMask), r.attentionMask);
      assert.deepEqual(row(flat.specialTokensMask), r.specialTokensMask);
      assert.deepEqual(
        Array.from(flat.offsets!.subarray(2 * b * flat.seqLen, 2 * (b + 1) * flat.seqLen)),
        r.offsets!.flat(),
      );
    });
  }
  assert.equal(ours.encodeBatchFlat([], null).batch, 0);
});

test('decode equals HF decode (WordPiece decoder, clean-up, unknown ids skipped, special tokens skipped)', async () => {
  const failures: string[] = [];
  for (const dir of [MINI_DIR, TINY_DIR, allFolders()['chinese cased vocab.txt']!]) {
    const ours = BertTokenizer.fromPretrained(dir);
    const hf = await hfTokenizer(dir);
    const rand = seeded(42);
    const special = [ours.clsTokenId!, ours.sepTokenId!, ours.padTokenId!, ours.maskTokenId!, ours.unkTokenId];
    const idLists: number[][] = SAMPLE.slice(0, 150).map((t) => ours.encode(t).inputIds);
    for (let i = 0; i < 300; i++) {
      const ids: number[] = [];
      const n = Math.floor(rand() * 30);
      for (let k = 0; k < n; k++) {
        const r = rand();
        ids.push(
          r < 0.1
            ? special[Math.floor(rand() * special.length)]!
            : r < 0.13
              ? ours.vocabSize + Math.floor(rand() * 10)
              : Math.floor(rand() * ours.vocabSize),
        );
      }
      idLists.push(ids);
    }
    idLists.push([], [999_999_999]);
    for (const ids of idLists) {
      for (const skip of [false, true]) {
        const want = await hf.decode(ids, skip);
        const got = ours.decode(ids, { skipSpecialTokens: skip });
        if (want !== got && failures.length < 5)
          failures.push(
            `${dir} ${JSON.stringify(ids.slice(0, 12))} skip ${skip}: HF ${JSON.stringify(want)} vs ${JSON.stringify(got)}`,
          );
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('tokenize equals HF tokens without special tokens; token/id conversions', async () => {
  const ours = BertTokenizer.fromPretrained(MINI_DIR);
  const hf = configured(await hfTokenizer(MINI_DIR), {});
  for (const t of SAMPLE.slice(0, 100))
    assert.deepEqual(ours.tokenize(t), (await hf.encode(t, null, { addSpecialTokens: false })).getTokens());
  assert.deepEqual(ours.tokenize('Unaffable [MASK]!'), ['una', '##ffa', '##ble', '[MASK]', '!']);
  assert.equal(ours.convertTokensToIds('[MASK]'), 103);
  assert.deepEqual(ours.convertTokensToIds(['hello', 'no-such-token', '##s']), [7592, 100, 2015]);
  assert.deepEqual(ours.convertIdsToTokens([101, 7592, 2015, 102]), ['[CLS]', 'hello', '##s', '[SEP]']);
  assert.equal(ours.tokenToId('no-such-token'), undefined);
  assert.equal(ours.idToTokenString(30521), hf.idToToken(30521));
});

test('special-token roles and ids come from the folder (hf-tiny has [CLS]=9, [SEP]=10, [MASK]=11)', async () => {
  const tiny = BertTokenizer.fromPretrained(TINY_DIR);
  const hf = await hfTokenizer(TINY_DIR);
  assert.deepEqual(
    [tiny.padTokenId, tiny.unkTokenId, tiny.clsTokenId, tiny.sepTokenId, tiny.maskTokenId],
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => hf.tokenToId(t)),
  );
  assert.deepEqual([tiny.clsTokenId, tiny.sepTokenId, tiny.maskTokenId, tiny.unkTokenId], [9, 10, 11, 8]);
  assert.equal(tiny.vocabSize, hf.getVocabSize(true));
  assert.equal(tiny.modelMaxLength, 512);
  assert.deepEqual(tiny.encode('the cat').inputIds.at(0), 9);
  const chinese = BertTokenizer.fromPretrained(allFolders()['chinese cased vocab.txt']!);
  assert.deepEqual(chinese.normalizerOptions, {
    cleanText: true,
    handleChineseChars: true,
    stripAccents: null,
    lowercase: false,
  });
});

/** hf-tiny's tokenizer.json with added tokens of every kind. */
function addedTokensJson(): string {
  const doc = JSON.parse(readFileSync(join(TINY_DIR, 'tokenizer.json'), 'utf8')) as { added_tokens: object[] };
  const t = (
    content: string,
    o: Partial<Record<'single_word' | 'lstrip' | 'rstrip' | 'normalized' | 'special', boolean>>,
  ) => ({
    id: 0,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: false,
    ...o,
  });
  doc.added_tokens.push(
    t('<mask>', { lstrip: true, rstrip: true, normalized: false, special: true }),
    t('ony', { single_word: true }),
    t('New York', {}),
    t('the', { normalized: false }),
    t('ABC', {}),
    t('Ünï', {}),
    t('😀', { normalized: false }),
    t('中文', {}),
    t('<sep2>', { single_word: true, normalized: false, special: true }),
    t('ab', { rstrip: true, normalized: false }),
  );
  return JSON.stringify(doc);
}

test('added tokens with lstrip, rstrip, single_word, normalized and new ids match HF', async () => {
  const json = addedTokensJson();
  const hf = Tokenizer.fromString(json);
  const ours = BertTokenizer.fromTokenizerJson(json);
  const texts = [
    'Hi <mask> there\t<mask>\t<mask>\u2000 x<mask>y',
    'Anthony ony tony ony. ony, (ony)',
    'I love New York and new york! NEW YORK newyork New  York',
    'the theater then the, THE',
    'ABC abc Abc xabc abcd',
    'Üni uni UNI Ünï',
    '😀😀 smile😀 ☺',
    '我爱中文 中文 中 文',
    'a<sep2>b <sep2> <sep2>x',
    'ab ab  abab cab ab\u3000c',
    '[MASK] <mask>[MASK]',
    ...TORTURE,
  ];
  const failures: string[] = [];
  const encs = await hf.encodeBatch(texts);
  texts.forEach((t, i) => {
    const d = diffEncoding(encs[i]!, ours.encode(t, null, { returnOffsets: true }), t);
    if (d && failures.length < 5) failures.push(`${shortText(t, 60)}: ${d}`);
  });
  for (let i = 0; i < 11; i++) {
    const a = texts[i]!,
      b = texts[(i + 3) % 11]!;
    const d = diffEncoding(await hf.encode(a, b), ours.encode(a, b, { returnOffsets: true }), a, b);
    if (d && failures.length < 5) failures.push(`pair ${i}: ${d}`);
    const want = await hf.decode((await hf.encode(a)).getIds(), true);
    const got = ours.decode(ours.encode(a).inputIds, { skipSpecialTokens: true });
    if (want !== got && failures.length < 5)
      failures.push(`decode ${i}: HF ${JSON.stringify(want)} vs ${JSON.stringify(got)}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(ours.vocabSize, hf.getVocabSize(true));
  for (const t of ['<mask>', 'ony', 'the', '😀', '<sep2>']) assert.equal(ours.tokenToId(t), hf.tokenToId(t), t);
});

test('templates: BertProcessing, unusual TemplateProcessing, no post-processor, no normalizer and no decoder', async () => {
  const doc = JSON.parse(readFileSync(join(TINY_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const variants: Record<string, unknown>[] = [
    { post_processor: { type: 'BertProcessing', sep: ['[SEP]', 10], cls: ['[CLS]', 9] } },
    {
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ Sequence: { id: 'A', type_id: 1 } }, { SpecialToken: { id: 'END', type_id: 2 } }],
        pair: [
          { SpecialToken: { id: 'END', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 1 } },
          { SpecialToken: { id: 'END', type_id: 1 } },
        ],
        special_tokens: { END: { id: 'END', ids: [10, 11], tokens: ['[SEP]', '[MASK]'] } },
      },
    },
    { post_processor: null },
    { normalizer: null, decoder: null },
    {
      normalizer: {
        type: 'BertNormalizer',
        clean_text: false,
        handle_chinese_chars: false,
        strip_accents: true,
        lowercase: false,
      },
    },
  ];
  const failures: string[] = [];
  for (const v of variants) {
    const json = JSON.stringify({ ...doc, ...v });
    const hf = Tokenizer.fromString(json);
    const ours = BertTokenizer.fromTokenizerJson(json);
    for (let i = 0; i < 40; i++) {
      const a = SAMPLE[i + 200]!,
        b = SAMPLE[(i * 5) % SAMPLE.length]!;
      for (const pair of [null, b]) {
        const d = diffEncoding(await hf.encode(a, pair), ours.encode(a, pair, { returnOffsets: true }), a, pair);
        if (d && failures.length < 5) failures.push(`${JSON.stringify(v).slice(0, 60)} ${shortText(a, 30)}: ${d}`);
      }
      const ids = ours.encode(a).inputIds;
      const want = await hf.decode(ids, false),
        got = ours.decode(ids);
      if (want !== got && failures.length < 5)
        failures.push(`${JSON.stringify(v).slice(0, 60)} decode: HF ${JSON.stringify(want)} vs ${JSON.stringify(got)}`);
    }
    // Truncation counts the template's special tokens (two for END here).
    const hfT = Tokenizer.fromString(json);
    hfT.setTruncation(12);
    const a = SAMPLE[0]!,
      b = SAMPLE[1]!;
    const d = diffEncoding(
      await hfT.encode(a, b),
      ours.encode(a, b, { maxLength: 12, truncation: true, returnOffsets: true }),
      a,
      b,
    );
    if (d && failures.length < 5) failures.push(`${JSON.stringify(v).slice(0, 60)} truncated: ${d}`);
  }
  assert.deepEqual(failures, []);
});

describe('save() writes BPE / Unigram tokenizer.json back: HF and bert-ts load it identically', () => {
  for (const [name, dir] of Object.entries(pipelineFolders())) {
    test(name, async () => {
      const ours = BertTokenizer.fromPretrained(dir);
      const out = join(tmp, `saved-${name}`);
      ours.save(out);
      const hfSaved = Tokenizer.fromFile(join(out, 'tokenizer.json'));
      const reloaded = BertTokenizer.fromPretrained(out);
      const texts = SAMPLE.slice(0, 100);
      const want = await hfSaved.encodeBatch(texts);
      const failures: string[] = [];
      texts.forEach((t, i) => {
        const d = diffEncoding(want[i]!, reloaded.encode(t, null, { returnOffsets: true }), t);
        if (d && failures.length < 5) failures.push(`${shortText(t, 40)}: ${d}`);
      });
      assert.deepEqual(failures, []);
      const cfg = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(cfg['tokenizer_class'], 'PreTrainedTokenizerFast');
      // decode as HF decodes (ByteLevel / Metaspace / ByteFallback decoders)
      for (const t of texts.slice(0, 30)) {
        const ids = ours.encode(t).inputIds;
        assert.equal(ours.decode(ids, { skipSpecialTokens: true }), await hfSaved.decode(ids, true), shortText(t));
      }
    });
  }
});

describe('save() writes files HF and bert-ts load back identically', () => {
  const pipelines = new Set(Object.keys(pipelineFolders()));
  for (const [name, dir] of Object.entries(allFolders()).filter(([n]) => !pipelines.has(n))) {
    test(name, async () => {
      const ours = BertTokenizer.fromPretrained(dir);
      const out = join(tmp, name.replace(/\W+/g, '-'));
      ours.save(out);
      const original = configured(await hfTokenizer(dir), {});
      const hfSaved = Tokenizer.fromFile(join(out, 'tokenizer.json'));
      const reloaded = BertTokenizer.fromPretrained(out);
      // vocab.txt only (tokenizer.json removed): the transformers slow-tokenizer path.
      const vocabOnly = join(out, 'vocab-only');
      mkdirSync(vocabOnly);
      copyFileSync(join(out, 'vocab.txt'), join(vocabOnly, 'vocab.txt'));
      copyFileSync(join(out, 'tokenizer_config.json'), join(vocabOnly, 'tokenizer_config.json'));
      const fromVocabTxt = BertTokenizer.fromPretrained(vocabOnly);
      const failures: string[] = [];
      const texts = SAMPLE.slice(0, 150);
      const want = await original.encodeBatch(texts);
      const saved = await hfSaved.encodeBatch(texts);
      texts.forEach((t, i) => {
        for (const [label, hfEnc, enc] of [
          ['HF reads saved tokenizer.json', saved[i]!, ours.encode(t, null, { returnOffsets: true })],
          ['bert-ts reads saved folder', want[i]!, reloaded.encode(t, null, { returnOffsets: true })],
          ['bert-ts reads saved vocab.txt + config', want[i]!, fromVocabTxt.encode(t, null, { returnOffsets: true })],
        ] as const) {
          const d = diffEncoding(hfEnc, enc, t);
          if (d && failures.length < 5) failures.push(`${label} ${shortText(t, 40)}: ${d}`);
        }
      });
      assert.deepEqual(failures, []);
      // HF's own WordPiece file reader gets the same vocabulary back; so does ours.
      const hfModel = new Tokenizer(await WordPiece.fromFile(join(out, 'vocab.txt'), { unkToken: ours.unkToken }));
      assert.deepEqual(hfModel.getVocab(false), Object.fromEntries(ours.vocab));
      assert.deepEqual([...parseVocabTxt(readFileSync(join(out, 'vocab.txt'), 'utf8'))], [...ours.vocab]);
      if (!dir.endsWith('hf') && !dir.endsWith('tokenizer')) {
        // A vocab.txt folder is written back byte for byte (bert-base-chinese's duplicate lines included).
        assert.equal(readFileSync(join(out, 'vocab.txt'), 'utf8'), readFileSync(join(dir, 'vocab.txt'), 'utf8'));
      }
      const cfg = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(cfg['do_lower_case'], ours.normalizerOptions?.lowercase);
      assert.equal(cfg['cls_token'], '[CLS]');
      assert.equal(reloaded.modelMaxLength, ours.modelMaxLength);
    });
  }
});

test('fromVocab builds what transformers builds from a vocab.txt', async () => {
  const tokens = readFileSync(join(SHARED, 'vocab/bert-base-uncased/vocab.txt'), 'utf8').split('\n').slice(0, -1);
  const ours = BertTokenizer.fromVocab(tokens, { modelMaxLength: 512 });
  const hf = configured(await hfTokenizer(allFolders()['uncased vocab.txt']!), {});
  const encs = await hf.encodeBatch(SAMPLE);
  const failures: string[] = [];
  SAMPLE.forEach((t, i) => {
    const d = diffEncoding(encs[i]!, ours.encode(t, null, { returnOffsets: true }), t);
    if (d && failures.length < 5) failures.push(`${shortText(t, 40)}: ${d}`);
  });
  assert.deepEqual(failures, []);
  const cased = BertTokenizer.fromVocab(tokens, { lowercase: false });
  assert.deepEqual(cased.tokenize('Hello'), ['[UNK]']);
});

test('options: maxLength alone truncates; padding max_length alone does not; long texts pass untruncated', () => {
  const ours = BertTokenizer.fromPretrained(MINI_DIR);
  const long = SAMPLE.find((t) => ours.encode(t).inputIds.length > 600)!;
  assert.ok(ours.encode(long).inputIds.length > 600);
  assert.equal(ours.encode(long, null, { maxLength: 100 }).inputIds.length, 100);
  assert.equal(ours.encode(long, null, { truncation: true }).inputIds.length, 512);
  assert.ok(ours.encode(long, null, { padding: 'max_length', maxLength: 100 }).inputIds.length > 600);
  const short = ours.encode('hi', null, { padding: 'max_length', maxLength: 6, returnOffsets: true });
  assert.deepEqual(short, {
    inputIds: [101, 7632, 102, 0, 0, 0],
    tokenTypeIds: [0, 0, 0, 0, 0, 0],
    attentionMask: [1, 1, 1, 0, 0, 0],
    specialTokensMask: [1, 0, 1, 1, 1, 1],
    offsets: [
      [0, 0],
      [0, 2],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
  });
  assert.deepEqual(ours.encode('hi', null, { addSpecialTokens: false }).inputIds, [7632]);
  assert.equal(ours.encode('hi').offsets, undefined);
  // Offsets index the caller's string in UTF-16 units, astral characters included.
  const text = '😀 naïve Zoë 𠀀x';
  const e = ours.encode(text, null, { returnOffsets: true, addSpecialTokens: false });
  assert.deepEqual(
    e.offsets!.map(([s, t]) => text.slice(s, t)),
    ['😀', 'naïve', 'Zoë', '𠀀', 'x'],
  );
});
