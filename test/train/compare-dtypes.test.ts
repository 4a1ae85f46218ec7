// The quantization report: compareDtypes() and `bert evaluate --dtype q8 --compare fp32` on the hf-tiny seq_cls3 /
// token_cls5 fixtures (HF-written, random weights) with small labelled files made here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareDtypes } from '../../src/train/compare-dtypes.js';
import { evaluate } from '../../src/train/evaluate.js';
import { InputError } from '../../src/model/errors.js';

const TINY = '../shared/fixtures/hf-tiny';
const work = mkdtempSync(join(tmpdir(), 'bert-compare-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function modelDir(name: string, config: Record<string, unknown> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const from of [`${TINY}/${name}`, `${TINY}/tokenizer`])
    for (const f of readdirSync(from)) copyFileSync(join(from, f), join(dir, f));
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...json, ...config }));
  return dir;
}

const WORDS = ['john', 'lives', 'in', 'paris', 'the', 'cat', 'sat', 'on', 'mat', 'good', 'movie', 'bad', 'day'];
const texts = Array.from({ length: 24 }, (_, i) =>
  Array.from({ length: 3 + (i % 7) }, (_, k) => WORDS[(i * 5 + k * 3) % WORDS.length]).join(' '),
);

const seqModel = modelDir('seq_cls3');
const seqData = join(work, 'seq.jsonl');
const LABELS = ['negative', 'neutral', 'positive'];
writeFileSync(seqData, texts.map((text, i) => JSON.stringify({ text, label: LABELS[i % 3] })).join('\n') + '\n');

// token_cls5 with IOB2 names, so entity F1 is about real spans.
const TAGS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
const tokModel = modelDir('token_cls5', {
  id2label: Object.fromEntries(TAGS.map((t, i) => [String(i), t])),
  label2id: Object.fromEntries(TAGS.map((t, i) => [t, i])),
});
const tokData = join(work, 'tok.jsonl');
writeFileSync(
  tokData,
  texts
    .map((t) => t.split(' '))
    .map((tokens) =>
      JSON.stringify({ tokens, ner_tags: tokens.map((w) => (w === 'john' ? 'B-PER' : w === 'paris' ? 'B-LOC' : 'O')) }),
    )
    .join('\n') + '\n',
);

/**
 * Largest logit change q8 may cause on these models. Symmetric int8 rounds each weight and activation by at most
 * half a step, 1/254 of its row's largest magnitude; in these 2-layer, 32-wide models (logits of magnitude ~0.1-1) that
 * moved the logits by at most ~3e-3 when measured. 0.05 is 15x that and still far below what a wrong scale or a
 * misplaced weight gives (differences of the logits' own size).
 */
const MAX_LOGIT_DIFF = 0.05;

test('compareDtypes on text classification: q8 agrees with fp32 and scores the same, with fp32 evaluate()s metrics', async () => {
  const c = await compareDtypes({ model: seqModel, data: seqData, maxLength: 32, dtype: 'q8', warn: () => {} });
  assert.equal(c.task, 'text-classification');
  assert.deepEqual([c.dtype, c.baseline, c.unit, c.compared, c.metric], ['q8', 'fp32', 'examples', 24, 'accuracy']);
  // Every text's top label is "positive" by a margin of ~0.1 in probability: q8 cannot flip it.
  assert.equal(c.agreement, 1);
  assert.equal(c.change, 0);
  assert.ok(c.maxAbsLogitDiff > 0 && c.maxAbsLogitDiff < MAX_LOGIT_DIFF, `max |d| ${c.maxAbsLogitDiff}`);
  const fp32 = await evaluate({ model: seqModel, data: seqData, maxLength: 32, warn: () => {} });
  assert.equal(c.baselineValue, fp32.metrics['accuracy']);
  assert.equal(c.baselineValue, 8 / 24); // "positive" is right on every third text
  // The difference is the one between the two runs' own logits.
  const q8 = await evaluate({ model: seqModel, data: seqData, maxLength: 32, dtype: 'q8', warn: () => {} });
  assert.ok(fp32.task === 'text-classification' && q8.task === 'text-classification');
  let worst = 0;
  fp32.logits.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - q8.logits[i]!))));
  assert.equal(c.maxAbsLogitDiff, worst);
});

test('compareDtypes on token classification: per labelled word, entity F1 of each', async () => {
  const c = await compareDtypes({
    model: tokModel,
    data: tokData,
    maxLength: 32,
    dtype: 'q8',
    baseline: 'fp32',
    warn: () => {},
  });
  assert.equal(c.task, 'token-classification');
  assert.equal(c.unit, 'tokens');
  assert.equal(c.compared, texts.join(' ').split(' ').length); // one position per word (first WordPiece)
  assert.equal(c.metric, 'f1');
  // Random weights leave some words within 1e-3 of a tie between two labels, where q8 may pick the other.
  assert.ok(c.agreement !== null && c.agreement >= 0.9, `agreement ${c.agreement}`);
  assert.ok(c.maxAbsLogitDiff > 0 && c.maxAbsLogitDiff < MAX_LOGIT_DIFF, `max |d| ${c.maxAbsLogitDiff}`);
  assert.equal(c.change, c.value - c.baselineValue);
  const fp32 = await evaluate({ model: tokModel, data: tokData, maxLength: 32, warn: () => {} });
  assert.equal(c.baselineValue, fp32.metrics['f1']);
});

test('compareDtypes refuses a bad dtype and a task it cannot compare', async () => {
  await assert.rejects(
    compareDtypes({ model: seqModel, data: seqData, dtype: 'int4' as never }),
    (e: unknown) => e instanceof InputError && /dtype must be one of fp32, q8, bf16, got "int4"/.test(e.message),
  );
  const squad = join(work, 'squad.jsonl');
  const context = 'John lives in Paris.';
  writeFileSync(
    squad,
    JSON.stringify({ id: 'a', question: 'where?', context, answers: { text: ['Paris'], answer_start: [14] } }) + '\n',
  );
  await assert.rejects(
    compareDtypes({ model: modelDir('qa'), data: squad, dtype: 'q8', warn: () => {} }),
    (e: unknown) => e instanceof InputError && /compares text-classification and token-classification/.test(e.message),
  );
});

test('bert evaluate --dtype q8 --compare fp32 prints the report (text and --json); a bad --compare exits 2', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'evaluate', '--max-length', '32', ...args], {
      encoding: 'utf8',
      timeout: 120_000,
    });
  const text = run('--model', seqModel, '--data', seqData, '--dtype', 'q8', '--compare', 'fp32');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /q8 vs fp32 on 24 examples/);
  assert.match(text.stdout, /top-1 agreement +100\.00%/);
  assert.match(text.stdout, /accuracy +fp32 33\.33% +q8 33\.33% +change \+0\.00 points/);
  assert.match(text.stdout, /max \|logit diff\| +\d/);
  const json = run('--model', tokModel, '--data', tokData, '--compare', 'fp32', '--json');
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(report['dtype'], 'q8'); // --dtype defaults to q8 when comparing
  assert.equal(report['metric'], 'f1');
  const bad = run('--model', seqModel, '--data', seqData, '--compare', 'fp16');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--compare must be fp32, q8, bf16, got "fp16"/);
});
