// The inference commands (predict, fill-mask, ner, qa, embed, serve, attention) run in-process on fixture models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { predictCommand } from '../../src/cli/commands/predict.js';
import { fillMaskCommand } from '../../src/cli/commands/fill-mask.js';
import { nerCommand } from '../../src/cli/commands/ner.js';
import { qaCommand } from '../../src/cli/commands/qa.js';
import { embedCommand } from '../../src/cli/commands/embed.js';
import { serveCommand } from '../../src/cli/commands/serve.js';
import { attentionCommand } from '../../src/cli/commands/attention.js';
import { request } from '../server/helpers.js';
import { at } from '../helpers/at.js';

const TINY = '../shared/fixtures/hf-tiny';
const work = mkdtempSync(join(tmpdir(), 'bert-cli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function modelDir(name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  copyDir(`${TINY}/${name}`, dir);
  copyDir(`${TINY}/tokenizer`, dir);
  return dir;
}
function copyDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) copyFileSync(join(from, name), join(to, name));
}

/**
 * Captures what a command writes to stderr while it runs (usage errors and warnings go there). stdout is left
 * alone: the test runner reports through it, and swallowing that would hide test results.
 */
async function capture(fn: () => Promise<number>): Promise<{ code: number; stderr: string }> {
  const err = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => (
    (stderr += String(chunk)),
    true
  )) as typeof process.stderr.write;
  try {
    return { code: await fn(), stderr };
  } finally {
    process.stderr.write = err;
  }
}

function jsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('every command prints --help and exits 0; a usage error exits 2', { timeout: 60_000 }, async () => {
  // --help writes to stdout, so the commands run in a child process whose stdout we own.
  const script = `
    const names = ['predict', 'fill-mask', 'ner', 'qa', 'embed', 'serve', 'attention'];
    const results = [];
    for (const name of names) {
      const mod = await import('./src/cli/commands/' + name + '.ts');
      let out = '', err = '';
      const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
      process.stdout.write = (c) => ((out += c), true);
      process.stderr.write = (c) => ((err += c), true);
      const help = await mod.default(['--help']);
      const helpOut = out;
      out = ''; err = '';
      const bad = await mod.default(['--no-such-flag']);
      process.stdout.write = o; process.stderr.write = e;
      results.push({ name, help, helpOut, bad, badErr: err });
    }
    console.log(JSON.stringify(results));`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const results = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
    name: string;
    help: number;
    helpOut: string;
    bad: number;
    badErr: string;
  }[];
  assert.equal(results.length, 7);
  for (const r of results) {
    assert.equal(r.help, 0, r.name);
    assert.match(r.helpOut, new RegExp(`^Usage: bert ${r.name} `));
    assert.equal(r.bad, 2, r.name);
    assert.match(r.badErr, /unknown option --no-such-flag/);
  }
  const noModel = await capture(() => predictCommand(['some text']));
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /--model DIR is required/);
  const missing = await capture(() => predictCommand(['--model', join(work, 'nope'), 'text']));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope/);
});

test(
  'predict: texts as arguments and a JSONL file in, JSON lines out with the extra fields kept',
  { timeout: 60_000 },
  async () => {
    const model = modelDir('seq_cls3');
    const out1 = join(work, 'p1.jsonl');
    assert.equal(
      (await capture(() => predictCommand(['--model', model, '--output', out1, 'the movie was good', 'bad']))).code,
      0,
    );
    const lines = jsonLines(out1);
    assert.equal(lines.length, 2);
    const first = at(lines, 0);
    assert.equal(first.text, 'the movie was good');
    assert.ok(['negative', 'neutral', 'positive'].includes(first.label as string));
    assert.equal(typeof first.score, 'number');
    const input = join(work, 'in.jsonl');
    writeFileSync(input, ['"plain string"', JSON.stringify({ id: 7, text: 'good', text_pair: 'bad' }), ''].join('\n'));
    const out2 = join(work, 'p2.jsonl');
    assert.equal(
      (await capture(() => predictCommand(['--model', model, '--input', input, '--output', out2, '--top-k', '0'])))
        .code,
      0,
    );
    const lines2 = jsonLines(out2);
    assert.equal(lines2.length, 2);
    assert.equal(at(lines2, 1).id, 7);
    assert.equal((at(lines2, 1).predictions as unknown[]).length, 3);
    writeFileSync(input, '{"text": 3}\n');
    const bad = await capture(() => predictCommand(['--model', model, '--input', input, '--output', out2]));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /in\.jsonl:1: each line must be a JSON string or an object with a string "text"/);
  },
);

test(
  'predict and serve take the task from the model; a head that cannot do --task is refused',
  { timeout: 60_000 },
  async () => {
    const model = modelDir('token_cls5');
    const out = join(work, 'tok.jsonl');
    assert.equal(
      (await capture(() => predictCommand(['--model', model, '--output', out, 'John lives in Paris']))).code,
      0,
    );
    const line = at(jsonLines(out), 0);
    assert.ok(Array.isArray(line.entities), JSON.stringify(line));
    assert.equal(line.label, undefined);
    const refused = await capture(() =>
      predictCommand(['--model', model, '--task', 'text-classification', '--output', out, 'x']),
    );
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /BertForTokenClassification model \(token-classification\), so it cannot do text-classification/,
    );
    // A pre-trained encoder gets a new classifier, with a load warning that --quiet drops.
    const base = modelDir('bert_model');
    const loud = await capture(() =>
      predictCommand(['--model', base, '--task', 'text-classification', '--output', out, 'x']),
    );
    assert.equal(loud.code, 0, loud.stderr);
    assert.match(loud.stderr, /warning: .*newly initialized/);
    const silent = await capture(() =>
      predictCommand(['--model', base, '--task', 'text-classification', '--output', out, '--quiet', 'x']),
    );
    assert.equal(silent.code, 0, silent.stderr);
    assert.equal(silent.stderr, '');
    const qa = await capture(() => predictCommand(['--model', modelDir('qa'), '--output', out, 'x']));
    assert.equal(qa.code, 2);
    assert.match(qa.stderr, /is a question-answering model: bert predict does .*; use bert qa/);
    await withServe(['--model', model], async (port) => {
      assert.equal(((await request(port, 'GET', '/health')).json() as { task: string }).task, 'token-classification');
      const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'John lives in Paris' }));
      assert.equal(reply.status, 200);
      assert.ok(Array.isArray(reply.json()));
    });
  },
);

test('fill-mask, ner, qa and embed write their JSON lines', { timeout: 60_000 }, async () => {
  const out = join(work, 'o.jsonl');
  assert.equal(
    (
      await capture(() =>
        fillMaskCommand(['--model', modelDir('masked_lm'), '--output', out, '--top-k', '3', 'the movie was [MASK].']),
      )
    ).code,
    0,
  );
  assert.equal((at(jsonLines(out), 0).predictions as unknown[]).length, 3);

  assert.equal(
    (
      await capture(() =>
        nerCommand([
          '--model',
          modelDir('token_cls5'),
          '--output',
          out,
          '--ignore-labels',
          '',
          'hugging face in new york',
        ]),
      )
    ).code,
    0,
  );
  const entities = at(jsonLines(out), 0).entities as { entity_group: string; start: number; end: number }[];
  assert.ok(entities.length >= 1 && entities.every((e) => typeof e.entity_group === 'string'));

  const context = 'i want my money back !';
  assert.equal(
    (
      await capture(() =>
        qaCommand(['--model', modelDir('qa'), '--output', out, '--question', 'what do i want?', '--context', context]),
      )
    ).code,
    0,
  );
  const answer = at(jsonLines(out), 0);
  assert.equal(answer.question, 'what do i want?');
  assert.equal(answer.answer, context.slice(answer.start as number, answer.end as number));

  assert.equal(
    (await capture(() => embedCommand(['--model', modelDir('bert_model'), '--output', out, 'a', 'b c']))).code,
    0,
  );
  const vectors = jsonLines(out).map((l) => l.embedding as number[]);
  assert.equal(vectors.length, 2);
  const vector = at(vectors, 0);
  assert.equal(vector.length, 32);
  assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-9);
});

/** Runs `bert serve args` on a free port, calls `body` with the port, then stops it with SIGINT (exit code 0). */
async function withServe(args: string[], body: (port: number) => Promise<void>): Promise<void> {
  const err = process.stderr.write.bind(process.stderr);
  let logged = '';
  process.stderr.write = ((chunk: string | Uint8Array) => (
    (logged += String(chunk)),
    true
  )) as typeof process.stderr.write;
  let running: Promise<number> | undefined;
  try {
    running = serveCommand([...args, '--port', '0']);
    const deadline = Date.now() + 30_000;
    while (!/"event":"listening"/.test(logged) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const url = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(logged);
    assert.ok(url, `no listening line in: ${logged}`);
    await body(Number(url[1]));
  } finally {
    process.emit('SIGINT');
    const code = await running;
    process.stderr.write = err;
    assert.equal(code, 0);
  }
}

test('serve: starts on a free port, answers /predict and /health, stops on SIGINT', { timeout: 60_000 }, async () => {
  await withServe(['--model', modelDir('seq_cls3'), '--max-batch', '4'], async (port) => {
    const health = await request(port, 'GET', '/health');
    assert.equal((health.json() as { task: string }).task, 'text-classification');
    const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: ['good', 'bad'] }));
    assert.equal(reply.status, 200);
    // The pipeline's shape for a list: one {label, score} per text at top_k 1.
    const body = reply.json() as { label: string; score: number }[];
    assert.equal(body.length, 2);
    assert.ok(body.every((r) => !Array.isArray(r) && typeof r.label === 'string'));
    // Parameters reach the worker pool's pipeline.
    const two = await request(port, 'POST', '/predict', JSON.stringify({ inputs: ['good'], parameters: { top_k: 2 } }));
    assert.deepEqual(
      (two.json() as unknown[][]).map((r) => r.length),
      [2],
    );
    const unknown = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'good', parameters: { k: 2 } }));
    assert.equal(unknown.status, 400);
  });
});

test('serve --task question-answering takes {question, context} objects', { timeout: 60_000 }, async () => {
  await withServe(['--model', modelDir('qa'), '--task', 'question-answering'], async (port) => {
    const context = 'i want my money back !';
    const one = await request(
      port,
      'POST',
      '/predict',
      JSON.stringify({ inputs: { question: 'what do i want?', context } }),
    );
    assert.equal(one.status, 200, one.body);
    const answer = one.json() as { answer: string; start: number; end: number; score: number };
    assert.equal(answer.answer, context.slice(answer.start, answer.end));
    const two = await request(
      port,
      'POST',
      '/predict',
      JSON.stringify({
        inputs: [
          { question: 'q', context },
          { question: 'r', context },
        ],
      }),
    );
    assert.equal((two.json() as unknown[]).length, 2);
    const bad = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'just a string' }));
    assert.equal(bad.status, 400);
    assert.equal(
      (bad.json() as { error: { message: string } }).error.message,
      '"inputs" must be an object {"question": string, "context": string}',
    );
  });
});

test(
  'serve picks /rerank for a cross-encoder folder and /embed for a sentence-transformers one',
  { timeout: 60_000 },
  async () => {
    const st = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
    await withServe(['--model', join(st, 'cross_encoder'), '--max-texts', '3'], async (port) => {
      assert.equal(((await request(port, 'GET', '/health')).json() as { task: string }).task, 'text-ranking');
      const body = { query: 'capital of france', documents: ['Berlin is in Germany.', 'Paris is in France.'] };
      const ranked = (await request(port, 'POST', '/rerank', JSON.stringify(body))).json() as { corpus_id: number }[];
      assert.deepEqual(ranked.map((r) => r.corpus_id).sort(), [0, 1]);
      const many = { ...body, documents: ['a', 'b', 'c', 'd'] };
      assert.equal((await request(port, 'POST', '/rerank', JSON.stringify(many))).status, 400);
    });
    await withServe(['--model', join(st, 'max')], async (port) => {
      const reply = await request(port, 'POST', '/embed', JSON.stringify({ inputs: ['a man', 'a dog'] }));
      assert.deepEqual(
        (reply.json() as number[][]).map((v) => v.length),
        [32, 32],
      );
    });
    const refused = await capture(() =>
      serveCommand(['--model', join(st, 'max'), '--task', 'text-ranking', '--port', '0']),
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /cannot serve POST \/rerank; serve it with --task sentence-embedding/);
  },
);

test(
  'attention: writes a self-contained HTML page with one heatmap per layer and head',
  { timeout: 60_000 },
  async () => {
    const out = join(work, 'att.html');
    const run = await capture(() =>
      attentionCommand(['--model', modelDir('bert_model'), '--output', out, 'the movie was good']),
    );
    assert.equal(run.code, 0, run.stderr);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 2 * 4); // 2 layers x 4 heads
    assert.ok(!/<script|src=|href=/.test(html), 'no external resources or scripts');
    assert.match(html, /layer 2 · head 4/);
    // Each heatmap row is a probability distribution: the weights in its titles sum to ~1.
    const firstRow = [...html.matchAll(/<title>\[CLS\] → [^:]+: ([0-9.]+)<\/title>/g)]
      .slice(0, 6)
      .map((m) => Number(m[1]));
    assert.ok(Math.abs(firstRow.reduce((a, b) => a + b, 0) - 1) < 0.01, `${firstRow}`);
  },
);

/** Equal results up to float rounding (batches padded differently change the last bits of a score). */
function assertSameResults(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', where);
    assert.ok(Math.abs((actual as number) - expected) <= 1e-5, `${where}: ${String(actual)} vs ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${where}: lengths differ`);
    expected.forEach((e, i) => assertSameResults((actual as unknown[])[i], e, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), where);
    for (const [k, e] of Object.entries(expected))
      assertSameResults((actual as Record<string, unknown>)[k], e, `${where}.${k}`);
  } else assert.equal(actual, expected, where);
}

test(
  'the API, the CLI and the server answer the same inputs with the same options alike',
  { timeout: 120_000 },
  async () => {
    const { pipeline } = await import('../../src/pipelines/pipeline.js');
    const quiet = { warn: () => {} };
    const out = join(work, 'same.jsonl');
    const cases = [
      {
        model: 'seq_cls3',
        task: 'text-classification' as const,
        texts: ['the movie was good', 'bad'],
        api: { top_k: 2, function_to_apply: 'sigmoid' },
        cli: (dir: string, texts: string[]) =>
          predictCommand(['--model', dir, '--output', out, '--top-k', '2', '--function', 'sigmoid', ...texts]),
        field: 'predictions',
      },
      {
        model: 'token_cls5',
        task: 'token-classification' as const,
        texts: ['hugging face in new york', 'paris'],
        api: { aggregation_strategy: 'first', ignore_labels: [] },
        cli: (dir: string, texts: string[]) =>
          nerCommand(['--model', dir, '--output', out, '--aggregation', 'first', '--ignore-labels', '', ...texts]),
        field: 'entities',
      },
      {
        model: 'masked_lm',
        task: 'fill-mask' as const,
        texts: ['the movie was [MASK].', 'a [MASK] film'],
        api: { top_k: 3 },
        cli: (dir: string, texts: string[]) =>
          fillMaskCommand(['--model', dir, '--output', out, '--top-k', '3', ...texts]),
        field: 'predictions',
      },
    ];
    for (const c of cases) {
      const dir = modelDir(c.model);
      const run = await pipeline(c.task, dir, quiet);
      const api = await (run as unknown as (t: string[], o: object) => Promise<unknown>)(c.texts, c.api);
      await run.dispose();
      assert.equal((await capture(() => c.cli(dir, c.texts))).code, 0, `${c.task}: CLI`);
      const cli = jsonLines(out).map((line) => line[c.field]);
      assertSameResults(cli, api, `${c.task}: CLI vs API`);
      await withServe(['--model', dir], async (port) => {
        const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: c.texts, parameters: c.api }));
        assert.equal(reply.status, 200, `${c.task}: server`);
        assertSameResults(reply.json(), api, `${c.task}: server vs API`);
      });
    }
  },
);
