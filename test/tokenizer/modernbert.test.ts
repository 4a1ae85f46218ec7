// A tokenizer.json shaped as ModernBERT's (byte-level BPE, NFC, [CLS] $A [SEP] template, [MASK] with lstrip, no token
// types) loads and encodes as transformers does (fixtures by scripts/fixtures/modernbert_tokenizer.py) and as the
// `tokenizers` binding does on IMDb reviews.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { BertTokenizer } from '../../src/tokenizer/index.js';

const DIR = 'test/tokenizer/fixtures/modernbert';

interface Expected {
  special: Record<string, number>;
  single: { text: string; input_ids: number[]; attention_mask: number[] }[];
  pair: { text: string; pair: string; input_ids: number[]; attention_mask: number[] }[];
  batch: { texts: string[]; input_ids: number[][]; attention_mask: number[][] };
}

const expected = JSON.parse(readFileSync(`${DIR}/expected.json`, 'utf8')) as Expected;

test('a ModernBERT-style tokenizer.json encodes texts, pairs and padded batches as transformers does', () => {
  const tok = BertTokenizer.fromPretrained(DIR);
  assert.deepEqual(
    [tok.clsTokenId, tok.sepTokenId, tok.padTokenId, tok.maskTokenId, tok.unkTokenId],
    ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]'].map((t) => expected.special[t]),
  );
  for (const e of expected.single) {
    const got = tok.encode(e.text);
    assert.deepEqual(got.inputIds, e.input_ids, e.text);
    assert.deepEqual(got.attentionMask, e.attention_mask, e.text);
  }
  for (const e of expected.pair) assert.deepEqual(tok.encode(e.text, e.pair).inputIds, e.input_ids, e.text);
  const batch = tok.encodeBatch(expected.batch.texts, null, { padding: 'longest' });
  assert.deepEqual(
    batch.map((b) => b.inputIds),
    expected.batch.input_ids,
  );
  assert.deepEqual(
    batch.map((b) => b.attentionMask),
    expected.batch.attention_mask,
  );
  // model_input_names has no token_type_ids: the callable tokenizer leaves them out, as transformers does.
  const called = tok('Hello world!') as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(called).sort(), ['attention_mask', 'input_ids']);
});

test('the ModernBERT-style tokenizer.json encodes as the tokenizers binding does, NFC offsets included', async () => {
  const tok = BertTokenizer.fromPretrained(DIR);
  const base = Tokenizer.fromFile(`${DIR}/tokenizer.json`);
  const texts = [
    ...expected.single.map((e) => e.text),
    'Café, naïve résumé — “ok” [MASK]  x',
    'tabs\tand\nnewlines',
    'Cafe\u0301 x\u0301\u0302y \ufb01ne',
    'A\u030a\u0301b',
  ];
  for (const text of texts) {
    const want = await base.encode(text);
    const got = tok.encode(text, null, { returnOffsets: true });
    assert.deepEqual(got.inputIds, want.getIds(), text);
    assert.deepEqual(got.offsets, want.getOffsets(), text);
  }
});
