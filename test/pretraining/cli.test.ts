// The pre-training commands end to end: train-vocab -> create-pretraining-data -> pretrain, and their usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pretrainCommand, parseDuration } from '../../src/cli/commands/pretrain.js';
import { capture } from './capture.js';
import { cliArgs } from '../helpers/cli-args.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cli');

test('pretrain: usage errors are exit 2 with a message; missing data is exit 1 naming the folder', async () => {
  let r = await capture(pretrainCommand, ['--config', 'mini']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--data, --vocab, --steps and --output are required/);
  r = await capture(pretrainCommand, cliArgs({ config: 'mini', data: dir, vocab: dir, steps: 'ten', output: dir }));
  assert.equal(r.code, 2);
  assert.match(r.err, /--steps must be a positive integer, got "ten"/);
  // The same run over a folder without data: what is refused first depends on the vocabulary.
  const [nodata, out] = [join(dir, 'nodata'), join(dir, 'o')];
  const missingData = ['--config', 'mini', '--data', nodata, '--vocab', dir, '--steps', '5', '--output', out];
  writeFileSync(join(dir, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a'].join('\n') + '\n');
  r = await capture(pretrainCommand, missingData);
  assert.equal(r.code, 1);
  assert.match(r.err, /nodata\/dataset.json: not found/);
  writeFileSync(join(dir, 'vocab.txt'), ['a', 'b'].join('\n') + '\n');
  r = await capture(pretrainCommand, missingData);
  assert.equal(r.code, 1);
  assert.match(r.err, /vocab.txt: has no \[CLS\] token/);
});

test('parseDuration', () => {
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('600s'), 600);
  assert.equal(parseDuration('45'), 45);
  assert.throws(() => parseDuration('an hour'), /use a number with s, m or h/);
});
