// Bad input: a clear TokenizerError naming what is wrong, never a crash, a stack from deep inside, or a hang.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BertTokenizer, TokenizerError } from '../../src/tokenizer/index.js';
import { MINI_DIR, TINY_DIR, readImdb } from './helpers/oracle.js';
import { tempDir } from '../helpers/temp.js';

const tmp = tempDir('errors');
const tok = BertTokenizer.fromPretrained(MINI_DIR);
const tinyJson = readFileSync(join(TINY_DIR, 'tokenizer.json'), 'utf8');

/** Asserts a TokenizerError whose message matches every pattern. */
function throwsClearly(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TokenizerError, `expected a TokenizerError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

describe('texts', () => {
  test('a non-string text or pair', () => {
    for (const bad of [123, null, undefined, {}, ['a'], Symbol('x'), Buffer.from('x')]) {
      throwsClearly(() => tok.encode(bad as unknown as string), /text must be a string/);
    }
    throwsClearly(() => tok.encode('a', 5 as unknown as string), /pair must be a string/);
    throwsClearly(() => tok.tokenize(7 as unknown as string), /must be a string, got number/);
    throwsClearly(() => tok.encodeBatch('abc' as unknown as string[]), /texts must be an array/);
    throwsClearly(() => tok.encodeBatch(['a', 3 as unknown as string]), /batch item 1: .*must be a string/);
    throwsClearly(() => tok.encodeBatch(['a', 'b'], ['x']), /2 texts but 1 pairs/);
  });

  test('lone surrogates are refused with their position', () => {
    throwsClearly(() => tok.encode('ab\ud800cd'), /lone surrogate U\+D800 at UTF-16 index 2/, /toWellFormed/);
    throwsClearly(() => tok.encode('\udc00'), /lone surrogate U\+DC00 at UTF-16 index 0/);
    throwsClearly(() => tok.encode('end\ud83d'), /index 3/);
    throwsClearly(() => tok.encode('fine', 'x\udfff'), /lone surrogate/);
    // A well-formed pair is fine, and toWellFormed() makes the text acceptable.
    assert.deepEqual(tok.tokenize('😀'), ['[UNK]']);
    const wellFormed = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
    assert.deepEqual(tok.tokenize(wellFormed('ab\ud800cd')), tok.tokenize('ab\ufffdcd'));
  });

  test('10 MB texts finish in bounded time (run under the test timeout)', { timeout: 120_000 }, () => {
    const reviews = readImdb('test').slice(0, 2000).join(' ');
    const prose = reviews.repeat(Math.ceil(10e6 / reviews.length)).slice(0, 10e6);
    const e = tok.encode(prose, null, { returnOffsets: true });
    assert.ok(e.inputIds.length > 2e6);
    // One 10-million-character word: a single [UNK] (longer than 100 characters), found without quadratic work.
    assert.deepEqual(tok.encode('a'.repeat(10e6)).inputIds, [101, 100, 102]);
    // 10 MB of combining marks after one letter (one huge canonical-reordering run), and of ideographs.
    const zalgo = 'e' + '\u0301\u0316\u0327\u{1d165}\u{1d16d}'.repeat(1.5e6);
    assert.equal(tok.encode(zalgo).inputIds.length, 3);
    assert.equal(tok.encode('中'.repeat(5e6)).inputIds.length, 5e6 + 2);
    // Truncation stops early: the first 512 tokens of 10 MB cost nearly nothing more than 512 tokens.
    assert.equal(tok.encode(prose, null, { maxLength: 512 }).inputIds.length, 512);
  });
});

describe('options', () => {
  test('invalid option values', () => {
    throwsClearly(() => tok.encode('a', null, { maxLength: -1 }), /maxLength must be a non-negative integer/);
    throwsClearly(() => tok.encode('a', null, { maxLength: 1.5 }), /maxLength/);
    throwsClearly(() => tok.encode('a', null, { truncation: 'first' as never }), /truncation must be/);
    throwsClearly(() => tok.encode('a', null, { padding: 'left' as never }), /padding must be/);
    throwsClearly(() => tok.encode('a', null, { addSpecialTokens: 'yes' as never }), /addSpecialTokens/);
    throwsClearly(() => tok.encode('a', null, 'x' as never), /options must be an object/);
  });

  test('impossible truncation', () => {
    throwsClearly(
      () => tok.encode('a b c', 'd e', { maxLength: 2, truncation: true }),
      /maxLength 2 is smaller than the 3 special tokens/,
    );
    throwsClearly(
      () => tok.encode('a b c d e f', null, { maxLength: 4, truncation: 'only_second' }),
      /only_second.*needs a second sequence/,
    );
    throwsClearly(
      () => tok.encode('a b', 'c d e f g h', { maxLength: 6, truncation: 'only_first' }),
      /cannot truncate the first sequence \(2 tokens\)/,
    );
    const noMax = BertTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a']);
    throwsClearly(() => noMax.encode('a', null, { truncation: true }), /needs maxLength/);
    throwsClearly(() => noMax.encode('a', null, { padding: 'max_length' }), /needs maxLength/);
    const tiny = JSON.parse(tinyJson) as {
      model: { vocab: Record<string, number> };
      added_tokens: { content: string }[];
    };
    delete tiny.model.vocab['[PAD]'];
    tiny.added_tokens = tiny.added_tokens.filter((t) => t.content !== '[PAD]');
    const noPad = BertTokenizer.fromTokenizerJson(JSON.stringify(tiny));
    throwsClearly(() => noPad.encodeBatch(['a', 'a a'], null, { padding: 'longest' }), /pad token/);
    throwsClearly(
      () => tok.encodeBatchFlat(['a b c d e'], null, { padding: 'max_length', maxLength: 4, truncation: false }),
      /more than maxLength 4: enable truncation/,
    );
  });

  test('decode and conversions', () => {
    throwsClearly(() => tok.decode('101' as unknown as number[]), /ids must be an array/);
    throwsClearly(() => tok.decode(['x' as unknown as number]), /must be numbers/);
    throwsClearly(() => tok.convertIdsToTokens([1e9]), /1000000000 is not a token id/);
    throwsClearly(() => tok.convertTokensToIds(5 as unknown as string), /expected a token or an array/);
  });
});

describe('folders and files', () => {
  test('a missing folder, or one without a vocabulary', () => {
    throwsClearly(() => BertTokenizer.fromPretrained(join(tmp, 'nope')), /does not exist/);
    throwsClearly(() => BertTokenizer.fromPretrained(folder('empty', {})), /neither tokenizer.json nor vocab.txt/);
    throwsClearly(
      () => BertTokenizer.fromPretrained(folder('blank-vocab', { 'vocab.txt': '' })),
      /vocabulary is empty/,
    );
    throwsClearly(() => BertTokenizer.fromPretrained(''), /non-empty string/);
  });

  test('a vocabulary without its unk token', () => {
    throwsClearly(
      () => BertTokenizer.fromPretrained(folder('no-unk', { 'vocab.txt': '[PAD]\n[CLS]\n[SEP]\nhello\n' })),
      /no entry for the unk token "\[UNK\]"/,
    );
    throwsClearly(
      () =>
        BertTokenizer.fromPretrained(
          folder('other-unk', {
            'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n',
            'tokenizer_config.json': '{"unk_token": "<unk>"}',
          }),
        ),
      /"<unk>"/,
    );
    const doc = JSON.parse(tinyJson) as { model: { vocab: Record<string, number> } };
    delete doc.model.vocab['[UNK]'];
    throwsClearly(() => BertTokenizer.fromTokenizerJson(JSON.stringify(doc)), /no entry for the unk token/);
  });

  test('malformed tokenizer.json and tokenizer_config.json', () => {
    throwsClearly(
      () => BertTokenizer.fromPretrained(folder('bad-json', { 'tokenizer.json': '{"model": {' })),
      /tokenizer.json: not valid JSON/,
    );
    throwsClearly(() => BertTokenizer.fromTokenizerJson('[1, 2]'), /expected an object, got an array/);
    throwsClearly(() => BertTokenizer.fromTokenizerJson('{}'), /model: expected an object, got nothing/);
    const doc = () => JSON.parse(tinyJson) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const cases: [(d: Record<string, any>) => void, RegExp][] = [
      // eslint-disable-line @typescript-eslint/no-explicit-any
      [
        (d) => (d['model']['vocab']['hello'] = 'one'),
        /model\.vocab\["hello"\]: expected a non-negative integer id, got string/,
      ],
      [(d) => (d['model']['vocab'] = []), /model\.vocab: expected an object/],
      [(d) => (d['model']['max_input_chars_per_word'] = -3), /max_input_chars_per_word/],
      [(d) => (d['normalizer']['lowercase'] = 'yes'), /normalizer\.lowercase: expected true or false/],
      [(d) => (d['added_tokens'][0]['content'] = 5), /added_tokens\[0\]\.content: expected a string/],
      [
        (d) => (d['post_processor']['single'][0] = { SpecialToken: { id: '[NOPE]', type_id: 0 } }),
        /"\[NOPE\]" is not in post_processor\.special_tokens/,
      ],
      [
        (d) => (d['post_processor']['pair'] = d['post_processor']['single']),
        /pair template must contain sequences A and B/,
      ],
      [(d) => (d['post_processor']['special_tokens']['[CLS]']['ids'] = ['x']), /ids: expected an array of ids/],
    ];
    for (const [mutate, pattern] of cases) {
      const d = doc();
      mutate(d);
      throwsClearly(() => BertTokenizer.fromTokenizerJson(JSON.stringify(d)), pattern);
    }
    const cfgDir = folder('bad-config', {
      'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n',
      'tokenizer_config.json': '{"do_lower_case": "no"}',
    });
    throwsClearly(
      () => BertTokenizer.fromPretrained(cfgDir),
      /tokenizer_config\.json: do_lower_case: expected true or false/,
    );
    const cfgDir2 = folder('bad-config2', {
      'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n',
      'tokenizer_config.json': '{"model_max_length": "512"',
    });
    throwsClearly(() => BertTokenizer.fromPretrained(cfgDir2), /tokenizer_config\.json: not valid JSON/);
  });

  test('tokenizers of other kinds say what is unsupported', () => {
    const base = JSON.parse(tinyJson) as Record<string, unknown>;
    const bpe = {
      ...base,
      normalizer: null,
      post_processor: null,
      decoder: null,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', vocab: { a: 0, '<unk>': 1 }, merges: [] },
      pre_tokenizer: { type: 'ByteLevel' },
    };
    // A BPE / Unigram file loads; what is refused is named by key and value.
    BertTokenizer.fromTokenizerJson(JSON.stringify(bpe));
    const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...bpe, ...patch });
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ model: { ...bpe.model, dropout: 0.1 } })),
      /model\.dropout: BPE dropout number 0\.1 is not supported/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ model: { ...bpe.model, merges: ['a b'] } })),
      /merge 0 .* needs "b", which is not in the vocabulary/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ model: { type: 'WordLevel', vocab: { a: 0 } } })),
      /model\.type: "WordLevel" is not supported: bert-ts reads WordPiece, BPE and Unigram/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ normalizer: { type: 'ByteLevel' } })),
      /normalizer\.type: normalizer string "ByteLevel" is not supported with a BPE or Unigram model/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ pre_tokenizer: { type: 'Split' } })),
      /pre_tokenizer\.type: pre-tokenizer string "Split" is not supported/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(with_({ post_processor: { type: 'Foo' } })),
      /post_processor\.type: post-processor string "Foo" is not supported/,
    );
    throwsClearly(() => BertTokenizer.fromTokenizerJson(with_({ decoder: { type: 'CTC' } })), /decoder\.type: decoder/);
    const unigram = { ...bpe, pre_tokenizer: null, model: { type: 'Unigram', unk_id: 5, vocab: [['<unk>', 0]] } };
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(JSON.stringify(unigram)),
      /model\.unk_id: 5 is past the 1 pieces/,
    );
    const untyped = { ...base, model: { vocab: { a: 0 }, merges: [] } };
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(JSON.stringify(untyped)),
      /model\.type: nothing \(missing\) is not supported/,
    );
    // A WordPiece file keeps its own components.
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(JSON.stringify({ ...base, normalizer: { type: 'NFKC' } })),
      /normalizer\.type: string "NFKC" is not supported/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(JSON.stringify({ ...base, pre_tokenizer: { type: 'ByteLevel' } })),
      /pre_tokenizer: string "ByteLevel" is not supported/,
    );
    throwsClearly(
      () => BertTokenizer.fromTokenizerJson(JSON.stringify({ ...base, post_processor: { type: 'RobertaProcessing' } })),
      /post_processor\.type: string "RobertaProcessing"/,
    );
    throwsClearly(
      () =>
        BertTokenizer.fromPretrained(folder('bpe', { 'tokenizer.json': with_({ normalizer: { type: 'ByteLevel' } }) })),
      /bpe[/\\]tokenizer\.json: normalizer\.type: normalizer string "ByteLevel"/,
    );
  });

  test('save to a place that cannot be a folder', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    throwsClearly(() => tok.save(join(file, 'sub')), /cannot create folder/);
  });
});
