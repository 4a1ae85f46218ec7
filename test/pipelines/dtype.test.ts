// dtype ('fp32' | 'q8' | 'bf16') through every user surface: pipeline(), the pools, the CLI's --dtype, the server's
// /health, SentenceTransformer / CrossEncoder. The hf-tiny fixtures (HF-written, random weights) in q8 answer as fp32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from '../../src/pipelines/pipeline.js';
import { InputError } from '../../src/model/errors.js';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import { createModelServer } from '../../src/server/model-server.js';
import { predictCommand } from '../../src/cli/commands/predict.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import type { LabelScore, TokenEntity } from '../../src/pipelines/types.js';
import { request } from '../server/helpers.js';

const TINY = '../shared/fixtures/hf-tiny';
const TOKENIZER = `${TINY}/tokenizer`;
const SENTENCE = new URL('../fixtures/sentence-transformers/cls_dense_tanh', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'bert-dtype-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const TEXTS = ['hello world', 'the cat sat on the mat', 'good movie', 'this is terrible', 'a b c d e f g', 'I love it'];

/**
 * How far a q8 probability may move from fp32's. q8 rounds each weight to 1/254 of its row's largest magnitude and
 * each activation row to 1/254 of its largest; over these 2-layer, 32-wide models the logits then move by ~1e-3
 * (measured: probabilities by at most 3e-4), and a probability moves at most half as much as the logits (softmax's
 * derivative is at most 1/2). 0.01 leaves 30x headroom while a wrong scale, a transposed weight or an fp32
 * fallback-in-disguise (identical outputs, checked separately) would not pass.
 */
const TOLERANCE = 0.01;

function modelDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const from of [`${TINY}/${name}`, TOKENIZER])
    for (const f of readdirSync(from)) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

test('pipeline(text-classification, { dtype: q8 }) answers as fp32: same top label, scores within 0.01', async () => {
  const options = { tokenizer: TOKENIZER };
  const fp32 = await pipeline('text-classification', `${TINY}/seq_cls3`, options);
  const q8 = await pipeline('text-classification', `${TINY}/seq_cls3`, { ...options, dtype: 'q8' });
  assert.equal(fp32.dtype, 'fp32');
  assert.equal(q8.dtype, 'q8');
  const a = (await fp32.predictEach(TEXTS, { topK: 3 })) as LabelScore[][];
  const b = (await q8.predictEach(TEXTS, { topK: 3 })) as LabelScore[][];
  let worst = 0;
  for (const [i, row] of a.entries()) {
    assert.equal(b[i]![0]!.label, row[0]!.label, `top label of "${TEXTS[i]}"`);
    for (const { label, score } of row)
      worst = Math.max(worst, Math.abs(score - b[i]!.find((x) => x.label === label)!.score));
  }
  assert.ok(worst < TOLERANCE, `max score difference ${worst}`);
  assert.ok(worst > 0, 'q8 computed something other than fp32 (it is not fp32 under another name)');
});

test('pipeline(ner, { dtype: q8 }) labels the tokens as fp32 (near-ties aside), scores within 0.01', async () => {
  const fp32 = await pipeline('ner', `${TINY}/token_cls5`, { tokenizer: TOKENIZER });
  const q8 = await pipeline('ner', `${TINY}/token_cls5`, { tokenizer: TOKENIZER, dtype: 'q8' });
  const a = (await fp32.predictEach(TEXTS, { aggregationStrategy: 'none' })) as TokenEntity[][];
  const b = (await q8.predictEach(TEXTS, { aggregationStrategy: 'none' })) as TokenEntity[][];
  let tokens = 0;
  let same = 0;
  for (const [i, row] of a.entries()) {
    assert.equal(b[i]!.length, row.length);
    for (const [j, t] of row.entries()) {
      const u = b[i]![j]!;
      tokens++;
      if (u.entity === t.entity) same++;
      // The top probability is continuous in the logits, so it stays close even where a near-tie flips the label.
      assert.ok(Math.abs(u.score - t.score) < TOLERANCE, `token ${j} of "${TEXTS[i]}": ${t.score} vs ${u.score}`);
    }
  }
  // Random 5-label weights put some tokens within 1e-3 of a tie (one of 30 flips here); the rest must agree.
  assert.ok(same / tokens >= 0.9, `${same} of ${tokens} token labels agree`);
});

test('a bad dtype is an InputError naming the choices, before anything loads; bf16 runs or says what is missing', async () => {
  await assert.rejects(
    pipeline('text-classification', `${TINY}/seq_cls3`, { tokenizer: TOKENIZER, dtype: 'int4' as never }),
    (e: unknown) => e instanceof InputError && /dtype must be one of fp32, q8, bf16, got "int4"/.test(e.message),
  );
  await assert.rejects(
    createModelServer({ model: `${TINY}/seq_cls3`, dtype: 'fp16' as never }),
    (e: unknown) => e instanceof InputError && /^serve: dtype must be one of fp32, q8, bf16/.test(e.message),
  );
  await assert.rejects(
    SentenceTransformer.fromPretrained(SENTENCE, { dtype: 'q4' as never, warn: () => {} }),
    (e: unknown) => e instanceof InputError && /fp32, q8, bf16/.test(e.message),
  );
  try {
    const bf16 = await pipeline('text-classification', `${TINY}/seq_cls3`, { tokenizer: TOKENIZER, dtype: 'bf16' });
    const [top] = (await bf16.predictEach(['good movie'])) as LabelScore[][];
    assert.equal(top![0]!.label, 'positive');
  } catch (e) {
    // A CPU without AVX512-BF16 / AMX: the model's own error, which names a dtype that runs.
    assert.match((e as Error).message, /dtype 'bf16' cannot run on this machine.*use dtype 'fp32'/);
  }
});

test('SentenceTransformer.fromPretrained({ dtype: q8 }) embeds close to fp32 (cosine >= 0.999)', async () => {
  const fp32 = await SentenceTransformer.fromPretrained(SENTENCE, { warn: () => {} });
  const q8 = await SentenceTransformer.fromPretrained(SENTENCE, { warn: () => {}, dtype: 'q8' });
  assert.equal(q8.bert.dtype, 'q8');
  const [a, b] = [fp32.encode(TEXTS), q8.encode(TEXTS)];
  // Unit vectors of 16 numbers: the cosine measures the whole change (measured 0.9995-0.9999 here).
  a.forEach((v, i) => {
    const cos = v.reduce((sum, x, k) => sum + x * b[i]![k]!, 0);
    assert.ok(cos >= 0.999 && cos < 1 - 1e-9, `text ${i}: cosine ${cos}`);
  });
});

test('CrossEncoder.fromPretrained({ dtype: q8 }) scores pairs close to fp32', async () => {
  const folder = new URL('../fixtures/sentence-transformers/cross_encoder', import.meta.url).pathname;
  const pairs: [string, string][] = TEXTS.map((t, i) => [t, TEXTS[(i + 1) % TEXTS.length]!]);
  const fp32 = await CrossEncoder.fromPretrained(folder, { warn: () => {} });
  const q8 = await CrossEncoder.fromPretrained(folder, { warn: () => {}, dtype: 'q8' });
  assert.equal(q8.model.dtype, 'q8');
  const [a, b] = [fp32.predict(pairs) as number[], q8.predict(pairs) as number[]];
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
  assert.ok(worst > 0 && worst < TOLERANCE, `max score difference ${worst}`);
});

test('bert predict --dtype q8 reaches the model; a bad --dtype is a usage error (exit 2) naming the choices', async () => {
  const model = modelDir('seq_cls3');
  const outputs: Record<string, unknown>[][] = [];
  for (const dtype of ['fp32', 'q8']) {
    const out = join(work, `predict-${dtype}.jsonl`);
    const code = await predictCommand(['--model', model, '--dtype', dtype, '--output', out, '--top-k', '3', ...TEXTS]);
    assert.equal(code, 0);
    outputs.push(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }
  assert.notDeepEqual(outputs[0], outputs[1]); // q8 reached the model: the scores moved (a little)
  const top = (rows: Record<string, unknown>[]) => rows.map((r) => (r.predictions as LabelScore[])[0]!.label);
  assert.deepEqual(top(outputs[1]!), top(outputs[0]!));

  const err = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  let codes: number[];
  try {
    codes = [
      await predictCommand(['--model', model, '--dtype', 'int8', 'text']),
      await serveCommand(['--model', model, '--dtype', 'fp16']),
    ];
  } finally {
    process.stderr.write = err;
  }
  assert.deepEqual(codes, [2, 2]);
  assert.match(stderr, /--dtype must be fp32, q8, bf16, got "int8"/);
  assert.match(stderr, /--dtype must be fp32, q8, bf16, got "fp16"/);
});

test('createModelServer({ dtype: q8 }): the workers load q8, /health reports it, /predict answers', async () => {
  for (const [model, dtype] of [
    [modelDir('seq_cls3'), 'q8'],
    [SENTENCE, 'q8'],
  ] as const) {
    const server = await createModelServer({ model, dtype });
    try {
      const { port } = await server.listen(0, '127.0.0.1');
      assert.equal(server.dtype, dtype);
      const health = (await request(port, 'GET', '/health')).json() as Record<string, unknown>;
      assert.equal(health.dtype, dtype, JSON.stringify(health));
      const reply = await request(port, 'POST', server.route, JSON.stringify({ inputs: 'good movie' }));
      assert.equal(reply.status, 200, reply.body);
    } finally {
      await server.close();
    }
  }
});
