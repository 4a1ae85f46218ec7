// End to end on hf-tiny: `bert finetune` writes a HF model folder that `bert evaluate --json` and fromPretrained read back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BertForSequenceClassification, BertForTokenClassification } from '../../src/model/bert.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/data/rng.js';
import { cliArgs } from '../helpers/cli-args.js';
import { tempDir } from '../helpers/temp.js';

const FIX = '../shared/fixtures/hf-tiny';
const TOK = join(FIX, 'tokenizer');
const dir = tempDir('e2e');
const FILLER =
  'the movie was shot in paris with a captain and a professor who walked up the hill near the bridge'.split(' ');

/** Reviews whose sentiment word (good / bad / fine / wrong) decides the label. */
function reviews(n: number, seed: number): string {
  const r = new Rng(seed);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = r.int(2);
    const words = Array.from({ length: 6 + r.int(8) }, () => FILLER[r.int(FILLER.length)]!);
    words.splice(r.int(words.length), 0, label ? (r.int(2) ? 'good' : 'fine') : r.int(2) ? 'bad' : 'wrong');
    rows.push(JSON.stringify({ text: words.join(' ') + '<br /><br />', label: label ? 'positive' : 'negative' }));
  }
  return rows.join('\n') + '\n';
}

/** Runs a command in a child process (stdout belongs to the test reporter in this one). */
function runCapture(name: 'finetune' | 'evaluate', argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/train/helpers/run-command.ts', name, ...argv], {
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('finetune text classification -> HF folder -> evaluate --json', { timeout: 120_000 }, async () => {
  const train = join(dir, 'train.jsonl');
  const dev = join(dir, 'dev.jsonl');
  writeFileSync(train, reviews(160, 1));
  writeFileSync(dev, reviews(60, 2));
  const out = join(dir, 'model');
  const log = join(dir, 'train-log.jsonl');
  const args = cliArgs({
    model: join(FIX, 'seq_cls3'),
    tokenizer: TOK,
    train,
    eval: dev,
    labels: 'negative,positive',
    'max-length': '32',
    epochs: '4',
    'batch-size': '8',
    lr: '3e-3',
    optimizer: 'adamw',
    'weight-decay': '0.01',
    schedule: 'linear',
    'warmup-ratio': '0.1',
    seed: '7',
    'eval-steps': '20',
    output: out,
    log,
    backend: 'js',
  });
  const r = runCapture('finetune', args);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out.trim().split('\n').at(-1)!) as { steps: number; best_metric: number };
  assert.equal(summary.steps, 80);
  assert.ok(summary.best_metric > 0.85, `dev accuracy ${summary.best_metric}`);
  // A HF model folder: config with the new labels, weights under HF names, tokenizer files, curve and log.
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(config['id2label'], { 0: 'negative', 1: 'positive' });
  assert.deepEqual(config['label2id'], { negative: 0, positive: 1 });
  assert.deepEqual(config['architectures'], ['BertForSequenceClassification']);
  assert.deepEqual(readSafetensors(join(out, 'model.safetensors')).tensors.get('classifier.weight')!.shape, [2, 32]);
  for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'training_curve.svg', 'eval_results.json'])
    assert.ok(existsSync(join(out, f)), f);
  assert.ok(readFileSync(log, 'utf8').includes('"event":"eval"'));
  const model = await BertForSequenceClassification.fromPretrained(out, { warn: () => {} });
  assert.equal(model.config.numLabels, 2);

  // evaluate --json: last stdout line has accuracy, f1, examples; string labels map through the saved label2id.
  const ev = runCapture('evaluate', ['--model', out, '--data', dev, '--max-length', '32', '--json', '--backend', 'js']);
  assert.equal(ev.code, 0, ev.err);
  const metrics = JSON.parse(ev.out.trim().split('\n').at(-1)!) as { accuracy: number; f1: number; examples: number };
  assert.equal(metrics.examples, 60);
  assert.ok(
    Math.abs(metrics.accuracy - summary.best_metric) < 1e-9,
    'evaluate reproduces the best dev accuracy of training',
  );
  assert.ok(metrics.f1 > 0.8);

  // Resuming into this folder with another model is refused before training.
  const bad = runCapture('finetune', [
    ...args.map((a) => (a === join(FIX, 'seq_cls3') ? join(FIX, 'qa') : a)),
    '--resume',
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /cannot resume with different settings \(model: checkpoint/);
});

test(
  'finetune token classification (CoNLL JSONL, first-WordPiece labels) -> evaluate --json entity F1',
  { timeout: 120_000 },
  async () => {
    const r = new Rng(3);
    const people = ['richard', 'mary', 'jack', 'smith', 'martin', 'joseph'];
    const places = ['paris', 'texas', 'chicago', 'mexico', 'italy', 'ireland'];
    const rows: string[] = [];
    for (let i = 0; i < 120; i++) {
      const tokens: string[] = [];
      const tags: string[] = [];
      for (let w = 0; w < 7; w++) {
        const k = r.int(4);
        if (k === 0) {
          tokens.push(people[r.int(6)]!, 'smith');
          tags.push('B-PER', 'I-PER');
        } else if (k === 1) {
          tokens.push(places[r.int(6)]!);
          tags.push('B-LOC');
        } else {
          tokens.push(FILLER[r.int(FILLER.length)]!);
          tags.push('O');
        }
      }
      rows.push(JSON.stringify({ tokens, ner_tags: tags }));
    }
    const train = join(dir, 'ner-train.jsonl');
    const dev = join(dir, 'ner-dev.jsonl');
    writeFileSync(train, rows.slice(0, 90).join('\n') + '\n');
    writeFileSync(dev, rows.slice(90).join('\n') + '\n');
    const out = join(dir, 'ner');
    const res = runCapture(
      'finetune',
      cliArgs({
        task: 'token-classification',
        model: join(FIX, 'token_cls5'),
        tokenizer: TOK,
        train,
        eval: dev,
        'max-length': '48',
        epochs: '6',
        'batch-size': '8',
        lr: '3e-3',
        seed: '1',
        output: out,
        backend: 'js',
      }),
    );
    assert.equal(res.code, 0, res.err);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { id2label: Record<string, string> };
    // Every tag is a CoNLL-2003 tag, so the CoNLL-2003 label order is used (9 labels).
    assert.equal(Object.keys(config.id2label).length, 9);
    assert.equal(config.id2label['1'], 'B-PER');
    const ev = runCapture('evaluate', [
      '--model',
      out,
      '--data',
      dev,
      '--max-length',
      '48',
      '--json',
      '--backend',
      'js',
    ]);
    assert.equal(ev.code, 0, ev.err);
    const m = JSON.parse(ev.out.trim().split('\n').at(-1)!) as {
      f1: number;
      precision: number;
      recall: number;
      accuracy: number;
      examples: number;
      true_entities: number;
    };
    assert.equal(m.examples, 30);
    assert.ok(m.true_entities > 50);
    assert.ok(m.f1 > 0.8, `entity F1 ${m.f1}`);
    const model = await BertForTokenClassification.fromPretrained(out, { warn: () => {} });
    assert.equal(model.config.numLabels, 9);
  },
);
