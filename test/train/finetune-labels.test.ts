// Labels as a HF user expects (issue 14): string labels become a sorted label2id saved in config.json and printed at
// the start; an integer label outside [0, num_labels) is an error; a class absent from the training data is a warning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { InputError } from '../../src/model/errors.js';
import { tempDir } from '../helpers/temp.js';

const FIX = '../shared/fixtures/hf-tiny';
const dir = tempDir('labels');

/** A quiet, one-epoch run on the js kernels; returns the progress lines (labels, warnings) with the result. */
async function run(options: Partial<FinetuneOptions> & Pick<FinetuneOptions, 'train' | 'output'>) {
  const lines: string[] = [];
  const progress = new ProgressReporter({ stream: { write: (s) => (lines.push(s), true) }, tty: false });
  const result = await finetune({
    model: `${FIX}/bert_model`,
    tokenizer: `${FIX}/tokenizer`,
    maxLength: 16,
    epochs: 1,
    batchSize: 4,
    kernels: jsKernels,
    progress,
    ...options,
  });
  return { result, log: lines.join('') };
}

test('string labels in a CSV column named by labelColumn become a sorted label2id, saved and printed first', async () => {
  const train = join(dir, 'verdicts.csv');
  writeFileSync(train, 'review,verdict\ngreat film,pos\nawful film,neg\nloved it,pos\nhated it,neg\n');
  const output = join(dir, 'str-out');
  const { result, log } = await run({ train, output, labelColumn: 'verdict' });
  assert.equal(result.interrupted, false);
  const config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')) as Record<string, unknown>;
  // HF run_glue: label_list = sorted(set(labels)); label_to_id = {v: i for i, v in enumerate(label_list)}.
  assert.deepEqual(config['id2label'], { 0: 'neg', 1: 'pos' });
  assert.deepEqual(config['label2id'], { neg: 0, pos: 1 });
  assert.equal(config['num_labels'] ?? Object.keys(config['id2label'] as object).length, 2);
  const labelsAt = log.indexOf('labels (2): 0=neg, 1=pos');
  assert.ok(labelsAt >= 0, log);
  assert.ok(labelsAt < log.indexOf('fine-tuning '), 'printed before training starts');
});

test('an integer label outside [0, numLabels) is an error naming the row; no model is written', async () => {
  const train = join(dir, 'ints.jsonl');
  writeFileSync(train, '{"text":"a","label":0}\n{"text":"b","label":1}\n{"text":"c","label":5}\n');
  await assert.rejects(
    run({ train, output: join(dir, 'int-out'), numLabels: 2 }),
    /ints\.jsonl:3: label id 5 is out of range for 2 labels/,
  );
  // A model with named labels fixes the count the same way (seq_cls3: negative, neutral, positive).
  await assert.rejects(
    run({ model: `${FIX}/seq_cls3`, train, output: join(dir, 'int-out2') }),
    /ints\.jsonl:3: label id 5 is out of range for 3 labels/,
  );
  await assert.rejects(run({ train, output: join(dir, 'int-out3'), numLabels: 0 }), (e: unknown) => {
    return e instanceof InputError && e.options.includes('numLabels');
  });
});

test('a class that never occurs in the training data is a warning naming it', async () => {
  const train = join(dir, 'two-of-three.jsonl');
  writeFileSync(train, '{"text":"bad","label":"negative"}\n{"text":"good","label":"positive"}\n');
  const { log } = await run({ model: `${FIX}/seq_cls3`, train, output: join(dir, 'absent-out') });
  assert.match(log, /labels \(3\): 0=negative, 1=neutral, 2=positive/);
  assert.match(log, /warning: 1 of 3 classes never occur in the training data \(neutral\)/);
  // Integer labels with a gap (0, 1, 5 and no numLabels): six classes, and the four absent ones are named.
  const gap = join(dir, 'gap.jsonl');
  writeFileSync(gap, '{"text":"a","label":0}\n{"text":"b","label":1}\n{"text":"c","label":5}\n');
  const r = await run({ train: gap, output: join(dir, 'gap-out') });
  assert.match(r.log, /warning: 3 of 6 classes never occur in the training data \(LABEL_2, LABEL_3, LABEL_4\)/);
});
