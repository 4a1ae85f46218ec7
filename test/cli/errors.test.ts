// The CLI's one error scheme: exit 0 done / 1 runtime error / 2 usage error (README), "did you mean" for a mistyped
// command or flag, and library InputErrors about options worded with the command's flags.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { UsageError, flagOf, nearestName, reportError } from '../../src/cli/command.js';
import { InputError } from '../../src/model/errors.js';
import { tempDir } from '../helpers/temp.js';

/** Runs `bert ARGS` in-process, capturing stderr. */
async function bert(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), err };
  } finally {
    process.stderr.write = write;
  }
}

const TINY = '../shared/fixtures/hf-tiny/seq_cls3';
const dir = tempDir('cli-errors');
const data = join(dir, 'train.jsonl');
writeFileSync(data, '{"text":"good","label":1}\n');

describe('did you mean', () => {
  test('a mistyped command gets the nearest command, exit 2', async () => {
    const r = await bert('finetun', '--model', TINY);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'bert: unknown command "finetun"; did you mean "finetune"? (bert --help lists them)\n');
    const far = await bert('xyzzy');
    assert.equal(far.code, 2);
    assert.equal(far.err, 'bert: unknown command "xyzzy" (bert --help lists them)\n');
  });

  test('a mistyped flag gets the nearest flag instead of node:util text, exit 2, then the usage', async () => {
    const r = await bert('finetune', '--max-lenght', '64', '--model', TINY);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^bert finetune: unknown option --max-lenght; did you mean --max-length\?\n\nUsage: bert finetune/,
    );
    const e = await bert('evaluate', '--modle', TINY);
    assert.match(e.err, /^bert evaluate: unknown option --modle; did you mean --model\?/);
    const p = await bert('predict', '--top_k', '2', 'text');
    assert.match(p.err, /^bert predict: unknown option --top_k; did you mean --top-k\?/);
    const none = await bert('tokenize', '--frobnicate', 'x');
    assert.match(none.err, /^bert tokenize: unknown option --frobnicate\n/);
    assert.doesNotMatch(none.err + r.err, /Unknown option '|To specify a positional argument/);
  });

  test('nearestName: transpositions, one-letter slips and unique prefixes; nothing for a far name', () => {
    const known = ['max-length', 'model', 'batch-size', 'backend'];
    assert.equal(nearestName('max-lenght', known), 'max-length');
    assert.equal(nearestName('modle', known), 'model');
    assert.equal(nearestName('batch', known), 'batch-size');
    assert.equal(nearestName('seed', known), undefined);
  });
});

describe('exit codes', () => {
  test('train-vocab: a bad flag value is a usage error (2), as its usage says', async () => {
    const r = await bert('train-vocab', '--input', data, '--output', join(dir, 'v'), '--vocab-size', 'ten');
    assert.equal(r.code, 2);
    assert.match(r.err, /^bert train-vocab: --vocab-size must be an integer >= 1, got "ten"/);
    const format = await bert('train-vocab', '--input', data, '--output', join(dir, 'v'), '--format', 'xml');
    assert.equal(format.code, 2);
    assert.match(format.err, /^bert train-vocab: --format must be jsonl or text, got xml\n/);
    const missing = await bert('train-vocab', '--input', join(dir, 'nope.txt'), '--output', join(dir, 'v'));
    assert.equal(missing.code, 1);
    assert.equal(missing.err, `bert train-vocab: ${join(dir, 'nope.txt')}: file not found\n`);
  });

  test("a library option refused (InputError) is a usage error worded with the command's flags", async () => {
    const r = await bert('evaluate', '--model', TINY, '--data', data, '--max-length', '65');
    assert.equal(r.code, 2);
    assert.match(r.err, /^bert evaluate: --max-length 65 must be in \[2, 64\]/);
    const f = await bert(
      'finetune',
      '--model',
      TINY,
      '--train',
      data,
      '--output',
      join(dir, 'o'),
      '--evals-steps',
      '2',
    );
    assert.match(f.err, /did you mean --eval-steps\?/);
    const g = await bert('finetune', '--model', TINY, '--train', data, '--output', join(dir, 'o'), '--eval-steps', '2');
    assert.equal(g.code, 2);
    assert.match(g.err, /^bert finetune: --eval-steps needs --eval\n/);
  });

  test('a runtime error is exit 1 on one line, without usage or stack', async () => {
    const r = await bert('finetune', '--model', join(dir, 'nope'), '--train', data, '--output', join(dir, 'o2'));
    assert.equal(r.code, 1);
    assert.match(r.err, /^bert finetune: .*nope: not a model folder/);
    assert.equal(r.err.split('\n').length, 2, r.err);
  });

  test('reportError is the one map: UsageError and option InputErrors 2, data InputErrors and others 1', () => {
    const write = process.stderr.write.bind(process.stderr);
    let err = '';
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      assert.equal(reportError('x', new UsageError('bad flag')), 2);
      const option = new InputError('finetune', (n) => `${n('maxGradNorm')} must be >= 0, got -1`);
      assert.equal(option.message, 'finetune: maxGradNorm must be >= 0, got -1', 'the library names no flag');
      assert.equal(reportError('finetune', option), 2);
      assert.equal(reportError('x', new InputError('data.csv:3', 'row has no text')), 1);
      assert.equal(reportError('x', new Error('boom')), 1);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(
      err,
      'bert x: bad flag\nbert finetune: --max-grad-norm must be >= 0, got -1\nbert x: data.csv:3: row has no text\nbert x: boom\n',
    );
    assert.equal(flagOf('evalBatchSize'), '--eval-batch-size');
  });
});
