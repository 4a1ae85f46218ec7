// The `bert` program and `bert tokenize`: help, exit codes, one-line errors, JSON lines from arguments and stdin,
// the embedded default tokenizer found from src/ (tsx) and from the built dist/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { BertTokenizer } from '../../src/tokenizer/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dist = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const MINI = fileURLToPath(new URL('../../../shared/models/bert-mini-imdb-hf', import.meta.url));

function bert(args: string[], input?: string, entry = src): { code: number; stdout: string; stderr: string } {
  const pre = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const r = spawnSync(process.execPath, [...pre, entry, ...args], {
    cwd: root,
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as {
          text: string;
          tokens: string[];
          ids: number[];
          offsets: [number, number][];
          typeIds?: number[];
        },
    );

describe('bert', () => {
  test('--help lists the commands, exit 0; no command or an unknown one is a usage error (2)', () => {
    const help = bert(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: bert <command>/);
    assert.match(help.stdout, /tokenize +WordPiece tokens/);
    const none = bert([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: bert <command>/);
    const unknown = bert(['tokenise']);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr.trim(),
      'bert: unknown command "tokenise"; did you mean "tokenize"? (bert --help lists them)',
    );
    assert.match(bert(['--version']).stdout, /^\d+\.\d+\.\d+/);
    assert.match(bert(['help', 'tokenize']).stdout, /Usage: bert tokenize/);
  });
});

describe('bert tokenize', () => {
  test('--help, exit 0', () => {
    const r = bert(['tokenize', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: bert tokenize \[options\] \[TEXT \.\.\.\]/);
    assert.match(r.stdout, /--model DIR/);
  });

  test('texts as arguments, on the embedded default tokenizer: what the library gives for bert-base-uncased', () => {
    const texts = ['This movie was absolutely fantastic!', 'naïve [MASK] 😀 x'];
    const r = bert(['tokenize', ...texts]);
    assert.equal(r.code, 0, r.stderr);
    const ref = BertTokenizer.fromPretrained(MINI);
    const out = lines(r.stdout);
    assert.equal(out.length, 2);
    out.forEach((o, i) => {
      const e = ref.encode(texts[i]!, null, { returnOffsets: true });
      assert.equal(o.text, texts[i]);
      assert.deepEqual(o.ids, e.inputIds);
      assert.deepEqual(o.tokens, ref.convertIdsToTokens(e.inputIds));
      assert.deepEqual(o.offsets, e.offsets);
      assert.equal(o.typeIds, undefined);
    });
    assert.deepEqual(out[0]!.tokens, ['[CLS]', 'this', 'movie', 'was', 'absolutely', 'fantastic', '!', '[SEP]']);
  });

  test('stdin lines, --model, --pair, --max-length, --no-special-tokens', () => {
    const r = bert(
      ['tokenize', '--model', MINI, '--max-length', '6', '--pair', 'and a pair'],
      'first line here, quite long\r\nsecond\n\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.deepEqual(
      out.map((o) => o.text),
      ['first line here, quite long', 'second', ''],
    );
    // HF's longest_first: 6 - 3 special tokens leaves 3, split 2 + 1 with the longer text first.
    assert.deepEqual(out[0]!.tokens, ['[CLS]', 'first', 'line', '[SEP]', 'and', '[SEP]']);
    assert.deepEqual(out[1]!.tokens, ['[CLS]', 'second', '[SEP]', 'and', 'a', '[SEP]']);
    assert.deepEqual(out[1]!.typeIds, [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(out[2]!.tokens, ['[CLS]', '[SEP]', 'and', 'a', 'pair', '[SEP]']);
    const plain = bert(['tokenize', '--no-special-tokens', 'Hello, World']);
    assert.deepEqual(lines(plain.stdout)[0]!.tokens, ['hello', ',', 'world']);
    assert.deepEqual(lines(plain.stdout)[0]!.offsets, [
      [0, 5],
      [5, 6],
      [7, 12],
    ]);
  });

  test('usage errors exit 2 with the usage; runtime errors exit 1 on one line without a stack', () => {
    for (const args of [
      ['tokenize', '--bogus', 'x'],
      ['tokenize', '--max-length', 'ten', 'x'],
      ['tokenize', '--max-length', '0', 'x'],
    ]) {
      const r = bert(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^bert tokenize: .*\n\nUsage: bert tokenize/);
    }
    const missing = bert(['tokenize', '--model', '/no/such/folder', 'x']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'bert tokenize: tokenizer folder /no/such/folder does not exist\n');
    const badJson = bert(['tokenize', '--model', fileURLToPath(new URL('../../package.json', import.meta.url)), 'x']);
    assert.equal(badJson.code, 1);
    assert.match(
      badJson.stderr,
      /^bert tokenize: .*package\.json is a file; give the folder that holds tokenizer\.json or vocab\.txt\n$/,
    );
    assert.doesNotMatch(missing.stderr + badJson.stderr, /\n\s+at /);
  });

  test(
    'the built command (dist/cli/main.js) finds the embedded tokenizer too',
    { skip: !existsSync(dist) && 'dist/ not built (npm test builds it)' },
    () => {
      const r = bert(['tokenize', 'Hello world'], undefined, dist);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(lines(r.stdout)[0]!.ids, [101, 7592, 2088, 102]);
    },
  );
});
