// Question answering (SQuAD files) and multiple choice (SWAG files) through finetune() and the one Trainer, end to
// end on hf-tiny: loss down, exact match / F1 and accuracy reported, evaluate and the pipeline agreeing with
// training's evaluation; the SQuAD metric against transformers' copy of the official script; the readers and
// run_qa's window labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { finetune } from '../../src/train/finetune.js';
import { evaluate } from '../../src/train/evaluate.js';
import { squadScore, normalizeAnswer } from '../../src/train/metrics.js';
import { readSquad, readSwag, qaTrainFeatures } from '../../src/data/squad.js';
import { loadFinetuneTokenizer } from '../../src/train/text-encoding.js';
import { pipeline } from '../../src/pipelines/pipeline.js';
import { ProgressReporter } from '../../src/train/progress.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { Rng } from '../../src/data/rng.js';
import { cliArgs } from '../helpers/cli-args.js';

const FIX = '../shared/fixtures/hf-tiny';
const TOK = join(FIX, 'tokenizer');
const dir = mkdtempSync(join(tmpdir(), 'bert-ts-qa-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const FILLER = 'the movie was shot with a captain and a professor who walked up the hill near the bridge'.split(' ');
const PEOPLE = ['richard', 'mary', 'jack', 'martin', 'joseph'];
const PLACES = ['paris', 'texas', 'chicago', 'mexico', 'italy', 'ireland'];

/** SQuAD v1.1 JSON (the official layout): "where does X live?" answered by the place after "lives in". */
function squadFile(n: number, seed: number, longEvery = 0): string {
  const r = new Rng(seed);
  const paragraphs = [];
  for (let i = 0; i < n; i++) {
    const name = PEOPLE[r.int(PEOPLE.length)]!;
    const place = PLACES[r.int(PLACES.length)]!;
    const filler = (k: number) => Array.from({ length: k }, () => FILLER[r.int(FILLER.length)]!).join(' ');
    // Every longEvery-th context is longer than one window, so its answer is in some windows and not others.
    const head = filler(longEvery && i % longEvery === 0 ? 50 : 2 + r.int(6));
    const context = `${head} ${name} lives in ${place} . ${filler(3 + r.int(5))}`;
    const start = context.indexOf(` ${place} .`) + 1;
    paragraphs.push({
      context,
      qas: [
        { id: `q${seed}-${i}`, question: `where does ${name} live ?`, answers: [{ text: place, answer_start: start }] },
      ],
    });
  }
  return JSON.stringify({ version: '1.1', data: [{ title: 'synthetic', paragraphs }] });
}

test('SQuAD exact match and F1 as the official script (transformers squad_metrics)', () => {
  const fixture = JSON.parse(readFileSync('test/train/fixtures/squad-metric.json', 'utf8')) as {
    cases: { prediction: string; golds: string[]; exact: number; f1: number; normalized: string }[];
  };
  for (const c of fixture.cases) {
    const got = squadScore(c.prediction, c.golds);
    assert.equal(normalizeAnswer(c.prediction), c.normalized, JSON.stringify(c.prediction));
    assert.equal(got.exact, c.exact, JSON.stringify(c));
    assert.ok(Math.abs(got.f1 - c.f1) < 1e-12, JSON.stringify(c));
  }
});

test('readers: SQuAD JSON / JSONL (v2 unanswerable), SWAG CSV; run_qa window labels', async () => {
  const v2 = join(dir, 'v2.jsonl');
  writeFileSync(
    v2,
    [
      {
        id: 'a',
        context: 'John lives in Paris.',
        question: 'Where?',
        answers: { text: ['Paris'], answer_start: [14] },
      },
      { id: 'b', context: 'John lives in Paris.', question: 'Who?', answers: { text: [], answer_start: [] } },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n'),
  );
  const ex = await readSquad(v2);
  assert.deepEqual(
    ex.map((e) => e.answers),
    [[{ text: 'Paris', start: 14 }], []],
  );
  writeFileSync(
    v2,
    JSON.stringify({ id: 'c', context: 'abc', question: 'q', answers: { text: ['x'], answer_start: [0] } }),
  );
  await assert.rejects(readSquad(v2), /"x" is not at answer_start 0/);
  const swag = join(dir, 'swag.csv');
  writeFileSync(swag, 'sent1,sent2,ending0,ending1,label\n"He sat","He",ate.,"slept, then",1\n');
  assert.deepEqual(await readSwag(swag), [{ context: 'He sat', choices: ['He ate.', 'He slept, then'], label: 1 }]);
  // A long context in windows of 24 tokens sharing 8: the answer's tokens where the window holds it, else [CLS].
  const squad = join(dir, 'long.json');
  writeFileSync(squad, squadFile(1, 5, 1));
  const [long] = await readSquad(squad);
  const tok = await loadFinetuneTokenizer(TOK);
  const features = qaTrainFeatures(tok, long!, 24, 8);
  assert.ok(features.length > 2);
  const answered = features.filter((f) => f.startPosition > 0);
  assert.ok(answered.length >= 1 && answered.length < features.length);
  for (const f of answered) {
    const ids = f.inputIds.slice(f.startPosition, f.endPosition + 1);
    assert.deepEqual(ids, tok.tokenize(long!.answers[0]!.text).ids);
  }
});

test(
  'finetune question answering on SQuAD JSON: loss down, EM / F1; evaluate and the pipeline agree',
  { timeout: 240_000 },
  async () => {
    const train = join(dir, 'train.json');
    const dev = join(dir, 'dev.json');
    writeFileSync(train, squadFile(96, 1, 8));
    writeFileSync(dev, squadFile(24, 2, 6));
    const out = join(dir, 'qa-model');
    const log = join(dir, 'qa-log.jsonl');
    const result = await finetune({
      task: 'question-answering',
      model: join(FIX, 'bert_model'),
      tokenizer: TOK,
      train,
      eval: dev,
      output: out,
      log,
      epochs: 6,
      batchSize: 8,
      lr: 3e-3,
      seed: 3,
      docStride: 16,
      kernels: jsKernels,
      progress: new ProgressReporter({ stream: { isTTY: false, write: () => true }, logFile: log }),
    });
    assert.equal(result.interrupted, false);
    if (result.interrupted) return;
    const s = result.summary;
    assert.equal(s.task, 'question-answering');
    assert.equal(s.architecture, 'BertForQuestionAnswering');
    assert.ok(s.train_examples > 96, `${s.train_examples} windows`);
    const losses = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; loss?: number })
      .filter((e) => e.event === 'step')
      .map((e) => e.loss!);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(
      mean(losses.slice(-5)) < 0.5 * mean(losses.slice(0, 5)),
      `loss ${mean(losses.slice(0, 5))} -> ${mean(losses.slice(-5))}`,
    );
    assert.ok(s.best_eval && s.best_eval['exact_match']! > 50, JSON.stringify(s.best_eval));
    assert.equal(s.metric, 'f1');

    // evaluate() reproduces training's best evaluation; the pipeline, with the same window settings, gives the same answers.
    const ev = await evaluate({ model: out, data: dev, docStride: 16, kernels: jsKernels, warn: () => {} });
    assert.equal(ev.task, 'question-answering');
    if (ev.task !== 'question-answering') return;
    assert.ok(Math.abs(ev.report.f1 - s.best_eval['f1']!) < 1e-9);
    assert.ok(Math.abs(ev.report.exact_match - s.best_eval['exact_match']!) < 1e-9);
    const qa = await pipeline('question-answering', out, { quiet: true, kernels: jsKernels });
    const questions = await readSquad(dev);
    const answers = (await qa(questions, { max_answer_len: 30, doc_stride: 16, max_seq_len: 64 })) as {
      answer: string;
    }[];
    assert.deepEqual(
      answers.map((a) => a.answer),
      questions.map((q) => ev.report.predictions[q.id]),
    );

    // bert evaluate prints exact match / F1.
    const cli = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/train/helpers/run-command.ts',
        'evaluate',
        ...cliArgs({ model: out, data: dev, backend: 'js' }),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /exact match \d+\.\d\d {2}F1 \d+\.\d\d {2}\(24 questions/);
  },
);

test('bert finetune --task multiple-choice on SWAG CSV: accuracy; evaluate agrees', { timeout: 240_000 }, async () => {
  const r = new Rng(9);
  const rows = ['video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label'];
  for (let i = 0; i < 80; i++) {
    const place = PLACES[r.int(PLACES.length)]!;
    const label = r.int(4);
    const endings = Array.from({ length: 4 }, (_, k) =>
      k === label ? `in ${place} .` : `near the ${FILLER[r.int(FILLER.length)]} .`,
    );
    rows.push(`v${i},${i},x,${PEOPLE[r.int(PEOPLE.length)]} lives,he lives,gold,${endings.join(',')},${label}`);
  }
  const train = join(dir, 'swag-train.csv');
  const dev = join(dir, 'swag-dev.csv');
  writeFileSync(train, rows.slice(0, 61).join('\n') + '\n');
  writeFileSync(dev, [rows[0], ...rows.slice(61)].join('\n') + '\n');
  const out = join(dir, 'mc-model');
  const args = cliArgs({
    task: 'multiple-choice',
    model: join(FIX, 'bert_model'),
    tokenizer: TOK,
    train,
    eval: dev,
    output: out,
    epochs: 5,
    'batch-size': 8,
    lr: '3e-3',
    'max-length': 24,
    backend: 'js',
  });
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/train/helpers/run-command.ts', 'finetune', ...args],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
    architecture: string;
    best_metric: number;
    metric: string;
  };
  assert.equal(summary.architecture, 'BertForMultipleChoice');
  assert.equal(summary.metric, 'accuracy');
  assert.ok(summary.best_metric > 0.7, `accuracy ${summary.best_metric}`);
  const ev = await evaluate({ model: out, data: dev, maxLength: 24, kernels: jsKernels, warn: () => {} });
  assert.equal(ev.task, 'multiple-choice');
  assert.ok(Math.abs((ev.metrics['accuracy'] as number) - summary.best_metric) < 1e-9);
});
