// `bert finetune` / `bert evaluate` refuse bad flags and bad data with clear messages before any training starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finetuneCommand } from '../../src/cli/commands/finetune.js';
import { evaluateCommand } from '../../src/cli/commands/evaluate.js';
import { cliArgs } from '../helpers/cli-args.js';
import { tempDir } from '../helpers/temp.js';

const TINY = '../shared/fixtures/hf-tiny/seq_cls3';
const dir = tempDir('cli');
const train = join(dir, 'train.jsonl');
writeFileSync(train, '{"text":"good movie","label":1}\n{"text":"bad movie","label":0}\n');

/**
 * Runs a command capturing stderr (where every error goes). stdout is left alone: node's test runner reports
 * through it, and these calls all fail before printing results.
 */
async function capture(
  fn: (argv: string[]) => Promise<number>,
  argv: string[],
): Promise<{ code: number; err: string }> {
  let err = '';
  const ew = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(argv), err };
  } finally {
    process.stderr.write = ew;
  }
}

const ft = (...a: string[]) =>
  capture(finetuneCommand, ['--model', TINY, '--train', train, '--output', join(dir, 'out'), '--backend', 'js', ...a]);

test('finetune: usage errors (exit 2) name the flag', async () => {
  let r = await capture(finetuneCommand, ['--train', train, '--output', join(dir, 'o')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--model is required/);
  r = await ft('--max-length', '100');
  assert.equal(r.code, 2);
  assert.match(r.err, /--max-length 100 exceeds the model's max_position_embeddings 64/);
  r = await ft('--optimizer', 'sgd');
  assert.match(r.err, /--optimizer must be adamw, adam or bert-adam, got "sgd"/);
  r = await ft('--schedule', 'step');
  assert.match(r.err, /--schedule must be constant, linear or cosine/);
  r = await ft('--lr', 'fast');
  assert.match(r.err, /--lr must be a number, got "fast"/);
  r = await ft('--optimizer', 'adam', '--weight-decay', '0.01');
  assert.match(r.err, /adam takes no --weight-decay/);
  r = await ft('--warmup-ratio', '1.5');
  assert.match(r.err, /--warmup-ratio must be in \[0, 1\)/);
  r = await ft('--labels', 'a,a');
  assert.match(r.err, /--labels must be distinct/);
  r = await ft('--bogus');
  assert.equal(r.code, 2);
  assert.match(r.err, /bogus/);
  r = await ft('--early-stopping', '2');
  assert.match(r.err, /--early-stopping needs --eval/);
});

test('finetune: a folder holding a checkpoint needs --resume; --resume needs a checkpoint', async () => {
  const out = join(dir, 'has-ckpt');
  mkdirSync(join(out, 'checkpoints', 'step-0000005'), { recursive: true });
  writeFileSync(join(out, 'checkpoints', 'latest.json'), '{"dir":"step-0000005","step":5,"version":1}\n');
  let r = await capture(finetuneCommand, ['--model', TINY, '--train', train, '--output', out, '--max-length', '64']);
  assert.equal(r.code, 2);
  assert.match(r.err, /already holds a training checkpoint .*add --resume/);
  r = await capture(finetuneCommand, [
    '--model',
    TINY,
    '--train',
    train,
    '--output',
    join(dir, 'empty'),
    '--resume',
    '--max-length',
    '64',
  ]);
  assert.match(r.err, /--resume: .* holds no checkpoint/);
});

test('finetune: data errors (exit 1) point at file:line before the model is loaded', async () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"text":"fine","label":1}\n{"text":"no label here"}\n');
  let r = await capture(
    finetuneCommand,
    cliArgs({ model: TINY, train: bad, output: join(dir, 'o2'), 'max-length': '64' }),
  );
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.jsonl:2: row has no label/);
  const str = join(dir, 'str.jsonl');
  writeFileSync(str, '{"text":"fine","label":"great"}\n');
  r = await capture(
    finetuneCommand,
    cliArgs({
      model: '../shared/fixtures/hf-tiny/token_cls5',
      train: str,
      output: join(dir, 'o3'),
      'max-length': '64',
    }),
  );
  // String labels become label2id (sorted); a single class cannot be classified.
  assert.equal(r.code, 1);
  assert.match(r.err, /str\.jsonl: only one class \("great"\) among the labels; classification needs at least two/);
  // seq_cls3 has named labels (negative/neutral/positive): a label outside them is unknown.
  r = await capture(finetuneCommand, cliArgs({ model: TINY, train: str, output: join(dir, 'o4'), 'max-length': '64' }));
  assert.match(r.err, /str\.jsonl:1: unknown label "great" \(known: negative, neutral, positive\)/);
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  r = await capture(
    finetuneCommand,
    cliArgs({ model: TINY, train: empty, output: join(dir, 'o5'), 'max-length': '64' }),
  );
  assert.match(r.err, /empty\.jsonl: file is empty/);
  r = await capture(
    finetuneCommand,
    cliArgs({ model: join(dir, 'nope'), train: train, output: join(dir, 'o6'), 'max-length': '64' }),
  );
  assert.match(r.err, /not a model folder/);
});

test('evaluate: usage errors', async () => {
  let r = await capture(evaluateCommand, ['--model', TINY]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--model and --data are required/);
  r = await capture(evaluateCommand, ['--model', TINY, '--data', train, '--max-length', '65']);
  assert.match(r.err, /--max-length 65 must be in \[2, 64\]/);
});
