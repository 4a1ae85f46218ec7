// pipeline() on the HF fixture models: outputs against HF's reference logits where the input matches a reference
// row, transformers.js output shapes, and the off-thread pool and server on a real model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from '../../src/pipelines/pipeline.js';
import { createPipelinePool } from '../../src/pipelines/pool.js';
import type { TokenEntity } from '../../src/pipelines/aggregation.js';
import { createServer } from '../../src/server/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { request } from '../server/helpers.js';
import { at } from '../helpers/at.js';

const TINY = '../shared/fixtures/hf-tiny';
const TOKENIZER = `${TINY}/tokenizer`;
const MINI = '../shared/models/bert-mini-imdb-hf';
const quiet = { warn: () => {} };

const reference = readSafetensors(`${TINY}/reference.safetensors`).tensors;
function ref(name: string): Float32Array {
  const entry = reference.get(name);
  if (!entry) throw new Error(`reference.safetensors has no ${name}`);
  return Float32Array.from(entry.data as ArrayLike<number>);
}

/** Reference row 1 is the pair ("what a was [MASK] of two hours [MASK]", "i want [MASK] money back !"), 17 tokens. */
const Q = 'what a was [MASK] of two hours [MASK]';
const C = 'i want [MASK] money back !';
const ROW1_IDS = [9, 138, 50, 85, 11, 81, 132, 931, 11, 10, 58, 299, 11, 853, 151, 12, 10];

function softmaxOf(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** A model folder with the tokenizer files copied in, as a hub download or save_pretrained would have it. */
function withTokenizer(model: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'bert-pipe-'));
  for (const name of readdirSync(model)) copyFileSync(join(model, name), join(dir, name));
  for (const name of readdirSync(TOKENIZER)) copyFileSync(join(TOKENIZER, name), join(dir, name));
  return dir;
}

test(
  'text-classification: the reference pair gets softmax(HF logits), topK and batch shapes as HF',
  { timeout: 60_000 },
  async () => {
    const dir = withTokenizer(`${TINY}/seq_cls3`);
    try {
      const classify = await pipeline('sentiment-analysis', dir, quiet);
      assert.equal(classify.task, 'text-classification');
      assert.deepEqual(classify.tokenizer.encode(Q, C, 64).inputIds, ROW1_IDS);
      const logits = Array.from(ref('seq_cls3.out.logits').subarray(3, 6));
      const probs = softmaxOf(logits);
      const all = await classify({ text: Q, text_pair: C }, { topK: null });
      const expected = ['negative', 'neutral', 'positive']
        .map((label, i) => ({ label, score: at(probs, i) }))
        .sort((a, b) => b.score - a.score);
      assert.equal(all.length, 3);
      all.forEach((r, i) => {
        const want = at(expected, i);
        assert.equal(r.label, want.label);
        assert.ok(Math.abs(r.score - want.score) < 1e-4, `${r.label}: ${r.score} vs ${want.score}`);
      });
      // One text: [{label, score}]; several: one {label, score} each; several with topK 2: a list each.
      const one = await classify('the movie was good');
      assert.equal(one.length, 1);
      assert.deepEqual(Object.keys(at(one, 0)).sort(), ['label', 'score']);
      const many = (await classify(['the movie was good', 'bad', 'the acting was superb and the plot'])) as {
        label: string;
      }[];
      assert.equal(many.length, 3);
      assert.ok(many.every((r) => typeof r.label === 'string' && !Array.isArray(r)));
      const many2 = (await classify(['good', 'bad'], { topK: 2 })) as { label: string }[][];
      assert.ok(many2.every((r) => Array.isArray(r) && r.length === 2));
      // topK null on a list: every label of every text, a list per text (as transformers.js), never flattened.
      const manyAll = (await classify(['good', 'bad'], { topK: null })) as { label: string }[][];
      assert.ok(manyAll.length === 2 && manyAll.every((r) => Array.isArray(r) && r.length === 3));
      // Batching does not change results: the same text alone and padded inside a batch.
      const alone = await classify('bad', { topK: null });
      const inBatch = at(
        (await classify(['the acting was superb and the plot was long', 'bad'], { topK: 3 })) as {
          label: string;
          score: number;
        }[][],
        1,
      );
      alone.forEach((r, i) => assert.ok(Math.abs(r.score - at(inBatch, i).score) < 1e-5));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'text-classification: sigmoid for multi-label, raw score for regression (problem_type)',
  { timeout: 60_000 },
  async () => {
    const multi = await pipeline('text-classification', `${TINY}/seq_multilabel`, { tokenizer: TOKENIZER, ...quiet });
    const logits = Array.from(ref('seq_multilabel.out.logits').subarray(4, 8));
    const scores = await multi({ text: Q, text_pair: C }, { topK: null });
    assert.equal(scores.length, 4);
    for (const { label, score } of scores) {
      const i = Number(label.replace('LABEL_', ''));
      assert.ok(Math.abs(score - 1 / (1 + Math.exp(-at(logits, i)))) < 1e-4, `${label}`);
    }
    assert.ok(Math.abs(scores.reduce((a, r) => a + r.score, 0) - 1) > 0.1, 'sigmoid scores do not sum to 1');
    const regression = await pipeline('text-classification', `${TINY}/seq_regression`, {
      tokenizer: TOKENIZER,
      ...quiet,
    });
    const [value] = await regression({ text: Q, text_pair: C });
    assert.ok(value, 'one score for one input');
    assert.ok(Math.abs(value.score - at(ref('seq_regression.out.logits'), 1)) < 1e-4);
  },
);

test("question-answering: the reference pair's HF logits give the hand-worked span", { timeout: 60_000 }, async () => {
  const qa = await pipeline('question-answering', `${TINY}/qa`, { tokenizer: TOKENIZER, ...quiet });
  const start = Array.from(ref('qa.out.start_logits').subarray(24, 24 + 17));
  const end = Array.from(ref('qa.out.end_logits').subarray(24, 24 + 17));
  // Allowed: [CLS] (0) and the context tokens 10..15. Best start 10 ("i", logit .613), best end after it 13
  // ("money", .291): the answer is "i want [MASK] money", characters 0..19 of the context.
  const allowed = [0, 10, 11, 12, 13, 14, 15];
  const ps = softmaxOf(allowed.map((i) => at(start, i)));
  const pe = softmaxOf(allowed.map((i) => at(end, i)));
  const expectedScore = at(ps, allowed.indexOf(10)) * at(pe, allowed.indexOf(13));
  const answer = await qa({ question: Q, context: C });
  assert.ok(!Array.isArray(answer));
  assert.equal(answer.answer, 'i want [MASK] money');
  assert.equal(answer.start, 0);
  assert.equal(answer.end, 19);
  assert.ok(Math.abs(answer.score - expectedScore) < 1e-4, `${answer.score} vs ${expectedScore}`);
  // (question, context) call form and topK > 1 (a list, best first).
  const top3 = (await qa(Q, C, { topK: 3 })) as { score: number; answer: string; start: number; end: number }[];
  assert.equal(top3.length, 3);
  const [first, second, third] = top3;
  assert.ok(first && second && third);
  assert.equal(first.answer, answer.answer);
  assert.ok(first.score >= second.score && second.score >= third.score);
  // maxAnswerLen 1: single-token answers only.
  const short = (await qa({ question: Q, context: C }, { maxAnswerLen: 1 })) as { answer: string };
  assert.ok(!short.answer.includes(' '), short.answer);
});

test(
  'question-answering: a long context is read in overlapping windows; answers are exact substrings',
  { timeout: 60_000 },
  async () => {
    const qa = await pipeline('question-answering', `${TINY}/qa`, { tokenizer: TOKENIZER, ...quiet });
    const context = Array.from({ length: 12 }, (_, i) => `the movie number ${i} was good and the acting was bad.`).join(
      ' ',
    );
    const answers = (await qa({ question: 'what was bad?', context }, { topK: 5, maxSeqLen: 32, docStride: 8 })) as {
      score: number;
      start: number;
      end: number;
      answer: string;
    }[];
    assert.equal(answers.length, 5);
    for (const a of answers) {
      assert.equal(a.answer, context.slice(a.start, a.end));
      assert.ok(a.score > 0 && a.score <= 1);
    }
    // Answers come from several windows: at least one starts beyond the first window's reach (~27 tokens).
    const batch = await qa.predictEach(
      [
        { question: 'what was bad?', context },
        { question: Q, context: C },
      ],
      { maxSeqLen: 32, docStride: 8 },
    );
    assert.equal(batch.length, 2);
    assert.equal((batch[1] as { answer: string }).answer, 'i want [MASK] money');
    await assert.rejects(
      qa({ question: 'q', context }, { maxSeqLen: 32, docStride: 40 }),
      /docStride 40 must be smaller/,
    );
  },
);

test(
  'token-classification: every word piece scored, offsets into the text, aggregation shapes',
  { timeout: 60_000 },
  async () => {
    const ner = await pipeline('ner', `${TINY}/token_cls5`, { tokenizer: TOKENIZER, ...quiet });
    const text = 'The acting was superb, Hugging Face!';
    const tokens = await ner(text, { ignoreLabels: [] });
    assert.ok(tokens.length > 5);
    for (const t of tokens as TokenEntity[]) {
      assert.match(t.entity, /^LABEL_[0-4]$/);
      assert.ok(t.score > 0.2 && t.score <= 1);
      assert.ok(t.index >= 1);
      const covered = text.slice(t.start, t.end).toLowerCase();
      assert.equal(t.word.replace(/^##/, ''), covered, `${t.word} at ${t.start}..${t.end}`);
    }
    for (const strategy of ['simple', 'first', 'average', 'max'] as const) {
      const groups = (await ner(text, { aggregationStrategy: strategy, ignoreLabels: [] })) as {
        entity_group: string;
        word: string;
        start: number;
        end: number;
      }[];
      assert.ok(groups.length >= 1);
      for (const g of groups) {
        assert.ok(!('index' in g));
        assert.match(g.entity_group, /^LABEL_[0-4]$/);
        assert.ok(g.start < g.end && g.end <= text.length);
      }
      // Word strategies never split a word: every group boundary is at a word boundary of the text.
      if (strategy !== 'simple')
        for (const g of groups)
          assert.ok(g.end === text.length || !/\w/.test(text.charAt(g.end)) || !/\w/.test(text.charAt(g.end - 1)));
    }
    const batch = await ner(['a b', 'hugging face'], { aggregationStrategy: 'simple', ignoreLabels: [] });
    assert.equal(batch.length, 2);
  },
);

test(
  'token-classification with a stride reads a long text in windows and keeps each piece once',
  { timeout: 60_000 },
  async () => {
    const ner = await pipeline('ner', `${TINY}/token_cls5`, { tokenizer: TOKENIZER, maxLength: 24, ...quiet });
    const text = Array.from({ length: 15 }, (_, i) => `the movie ${i} was superb and the acting bad.`).join(' ');
    const pieces = ner.tokenizer.tokenize(text).ids.length;
    assert.ok(pieces > 100, `${pieces} pieces`);
    const truncated = (await ner(text, { ignoreLabels: [] })) as { start: number }[];
    assert.equal(truncated.length, 22, 'without a stride the text is cut to maxLength - 2 pieces');
    const windowed = (await ner(text, { ignoreLabels: [], stride: 6 })) as {
      start: number;
      end: number;
      word: string;
    }[];
    assert.equal(windowed.length, pieces, 'every word piece once, duplicates from overlaps merged');
    windowed.forEach((e, i) => {
      if (i > 0) assert.ok(e.start >= at(windowed, i - 1).end);
      assert.equal(e.word.replace(/^##/, ''), text.slice(e.start, e.end).toLowerCase());
    });
    const grouped = (await ner(text, { aggregationStrategy: 'first', ignoreLabels: [], stride: 6 })) as {
      start: number;
      end: number;
    }[];
    grouped.forEach((g, i) => i > 0 && assert.ok(g.start >= at(grouped, i - 1).end));
    await assert.rejects(ner(text, { stride: 22 }), /stride must be an integer in \[0, 22\)/);
  },
);

test(
  'fill-mask: topK predictions with token_str and sequence, targets, several masks',
  { timeout: 60_000 },
  async () => {
    const fill = await pipeline('fill-mask', MINI, quiet);
    const preds = (await fill('the movie was [MASK].', { topK: 5 })) as {
      score: number;
      token: number;
      token_str: string;
      sequence: string;
    }[];
    assert.equal(preds.length, 5);
    for (const [i, p] of preds.entries()) {
      assert.deepEqual(Object.keys(p).sort(), ['score', 'sequence', 'token', 'token_str']);
      if (i > 0) assert.ok(at(preds, i - 1).score >= p.score);
      assert.equal(p.token_str, fill.tokenizer.idToToken(p.token)); // HF: decode([id]) keeps a leading ##
      assert.ok(p.sequence.startsWith('the movie was'), p.sequence);
      assert.ok(!p.sequence.includes('[CLS]') && !p.sequence.includes('[MASK]'));
    }
    assert.ok(preds.reduce((a, p) => a + p.score, 0) <= 1 + 1e-9);
    const best = at(preds, 0);
    // Targets: only the given words, with the probabilities they have in the full distribution.
    const targeted = (await fill('the movie was [MASK].', {
      targets: ['good', 'bad', best.token_str],
    })) as typeof preds;
    assert.equal(targeted.length, 3);
    assert.deepEqual(new Set(targeted.map((t) => t.token_str)), new Set(['good', 'bad', best.token_str]));
    const same = targeted.find((t) => t.token === best.token)!;
    assert.ok(Math.abs(same.score - best.score) < 1e-12);
    // Two masks: a list per mask, the other [MASK] kept in each sequence.
    const two = (await fill('the [MASK] was [MASK].', { topK: 2 })) as (typeof preds)[];
    assert.equal(two.length, 2);
    assert.ok(two.every((row) => row.length === 2 && row.every((p) => p.sequence.includes('[MASK]'))));
    await assert.rejects(fill('no mask here'), /no mask token \(\[MASK\]\) found/);
  },
);

test('feature-extraction: token vectors, cls and mean pooling, normalisation', { timeout: 60_000 }, async () => {
  const extract = await pipeline('feature-extraction', `${TINY}/bert_model`, { tokenizer: TOKENIZER, ...quiet });
  const tokens = (await extract('the movie was good', { return_tensor: false })) as number[][];
  const H = 32;
  assert.ok(tokens.length >= 6 && tokens.every((v) => v.length === H));
  const cls = (await extract('the movie was good', { pooling: 'cls', returnTensor: false })) as number[];
  assert.deepEqual(cls, tokens[0]);
  const mean = (await extract('the movie was good', { pooling: 'mean', returnTensor: false })) as number[];
  for (let h = 0; h < H; h++) {
    const m = tokens.reduce((a, v) => a + at(v, h), 0) / tokens.length;
    assert.ok(Math.abs(at(mean, h) - m) < 1e-6);
  }
  const unit = (await extract('the movie was good', {
    pooling: 'mean',
    normalize: true,
    returnTensor: false,
  })) as number[];
  assert.ok(Math.abs(Math.hypot(...unit) - 1) < 1e-9);
  // Padding inside a batch does not change a text's vector.
  const short = at(
    (await extract(['good', 'the movie was long and the acting was bad'], {
      pooling: 'mean',
      returnTensor: false,
    })) as number[][],
    0,
  );
  const alone = (await extract('good', { pooling: 'mean', returnTensor: false })) as number[];
  short.forEach((x, h) => assert.ok(Math.abs(x - at(alone, h)) < 1e-5));
});

test(
  'a list runs in batches of similar length and is answered in its order: each text as alone',
  { timeout: 60_000 },
  async () => {
    // Lengths out of order, batches of 2: the batches are [long, long], [medium, medium], [short].
    const texts = [
      'good [MASK]',
      'the movie was long and the acting was [MASK] and bad',
      'a [MASK] plot',
      'the acting was [MASK] but the plot was long',
      'it was [MASK] and fun',
    ];
    const close = (a: unknown, b: unknown, what: string): void => {
      if (typeof a === 'number') return assert.ok(Math.abs(a - (b as number)) < 1e-5, `${what}: ${a} vs ${b}`);
      if (Array.isArray(a)) return a.forEach((x, i) => close(x, (b as unknown[])[i], `${what}[${i}]`));
      if (a && typeof a === 'object') {
        for (const [k, v] of Object.entries(a)) close(v, (b as Record<string, unknown>)[k], `${what}.${k}`);
        return;
      }
      assert.equal(a, b, what);
    };
    const extract = await pipeline('feature-extraction', `${TINY}/bert_model`, {
      tokenizer: TOKENIZER,
      batchSize: 2,
      ...quiet,
    });
    const fill = await pipeline('fill-mask', `${TINY}/masked_lm`, { tokenizer: TOKENIZER, batchSize: 2, ...quiet });
    const ner = await pipeline('ner', `${TINY}/token_cls5`, { tokenizer: TOKENIZER, batchSize: 2, ...quiet });
    const listed = {
      extract: await extract(texts, { pooling: 'mean', returnTensor: false }),
      fill: await fill(texts),
      ner: await ner(texts),
    };
    for (const [i, text] of texts.entries()) {
      close(
        listed.extract[i],
        await extract(text, { pooling: 'mean', returnTensor: false }),
        `feature-extraction ${i}`,
      );
      close(listed.fill[i], await fill(text), `fill-mask ${i}`);
      close(listed.ner[i], await ner(text), `ner ${i}`);
    }
  },
);

test('feature-extraction returns a transformers.js-style tensor by default', { timeout: 60_000 }, async () => {
  const extract = await pipeline('feature-extraction', `${TINY}/bert_model`, { tokenizer: TOKENIZER, quiet: true });
  const texts = ['good', 'the movie was long'];
  const rows = (await extract(texts, { return_tensor: false })) as number[][][];
  const tokens = await extract(texts);
  const T = Math.max(...rows.map((r) => r.length));
  assert.equal(tokens.type, 'float32');
  assert.deepEqual(tokens.dims, [2, T, 32]);
  // Each text's token vectors, then zero vectors for its padding positions.
  const nested = tokens.tolist() as number[][][];
  rows.forEach((r, b) => {
    r.forEach((v, t) => v.forEach((x, h) => assert.ok(Math.abs(x - nested[b]![t]![h]!) < 1e-6)));
    for (let t = r.length; t < T; t++) assert.ok(nested[b]![t]!.every((x) => x === 0));
  });
  const one = await extract('good', { pooling: 'mean', normalize: true });
  assert.deepEqual(one.dims, [1, 32]);
  assert.ok(Math.abs(Math.hypot(...one.data) - 1) < 1e-5);
  await extract.dispose();
  await assert.rejects(extract('good'), /disposed/);
});

test('unknown task and missing model are clear errors', { timeout: 60_000 }, async () => {
  await assert.rejects(pipeline('summarization' as 'ner', `${TINY}/qa`), /unknown task "summarization"/);
  // Without a model: HF's default for the task through the hub cache, offline here, so an error naming it.
  const offline = process.env['HF_HUB_OFFLINE'];
  const cache = process.env['HF_HUB_CACHE'];
  process.env['HF_HUB_OFFLINE'] = '1';
  process.env['HF_HUB_CACHE'] = mkdtempSync(join(tmpdir(), 'bert-ts-empty-cache-'));
  try {
    await assert.rejects(pipeline('ner'), /dbmdz\/bert-large-cased-finetuned-conll03-english.*local model folder/);
    await assert.rejects(
      pipeline('sentiment-analysis'),
      /distilbert\/distilbert-base-uncased-finetuned-sst-2-english.*local model folder/,
    );
  } finally {
    rmSync(process.env['HF_HUB_CACHE'], { recursive: true, force: true });
    if (offline === undefined) delete process.env['HF_HUB_OFFLINE'];
    else process.env['HF_HUB_OFFLINE'] = offline;
    if (cache === undefined) delete process.env['HF_HUB_CACHE'];
    else process.env['HF_HUB_CACHE'] = cache;
  }
  await assert.rejects(pipeline('ner', './no/such/folder'), /no\/such\/folder/);
});

test('the pipeline pool answers in a worker thread, and the server serves it', { timeout: 60_000 }, async () => {
  const args = { task: 'text-classification' as const, model: `${TINY}/seq_cls3`, options: { tokenizer: TOKENIZER } };
  const pool = await createPipelinePool(args);
  const server = createServer({ predictBatch: (texts: string[]) => pool.predictEach(texts), maxWaitMs: 2 });
  const { port } = await server.listen();
  try {
    assert.deepEqual(pool.info.labels, ['negative', 'neutral', 'positive']);
    const direct = await pipeline('text-classification', `${TINY}/seq_cls3`, { tokenizer: TOKENIZER, ...quiet });
    const texts = ['the movie was good', 'bad', 'the acting was superb'];
    const expected = await direct.predictEach(texts);
    // Padding to a different batch length changes float rounding in the GEMMs slightly: compare to 1e-5.
    const same = (actual: unknown, wanted: { label: string; score: number }[]): void => {
      const got = actual as { label: string; score: number }[];
      assert.equal(got.length, wanted.length);
      got.forEach((r, i) => {
        const want = at(wanted, i);
        assert.equal(r.label, want.label);
        assert.ok(Math.abs(r.score - want.score) < 1e-5);
      });
    };
    const pooled = await pool.predictEach(texts);
    pooled.forEach((r, i) => same(r, at(expected, i)));
    const reply = await request(port, 'POST', '/predict', JSON.stringify({ inputs: texts }));
    assert.equal(reply.status, 200);
    (reply.json() as unknown[]).forEach((r, i) => same(r, at(expected, i)));
    const one = await request(port, 'POST', '/predict', JSON.stringify({ inputs: 'bad' }));
    same(one.json(), at(expected, 1));
  } finally {
    await server.close();
    await pool.close();
  }
});

test(
  'through the pool and the server, an input the pipeline refuses is a 400 for that request only',
  { timeout: 60_000 },
  async () => {
    const pool = await createPipelinePool({
      task: 'fill-mask',
      model: `${TINY}/masked_lm`,
      options: { tokenizer: TOKENIZER },
      callOptions: { topK: 2 },
    });
    const server = createServer({ predictBatch: (texts: string[]) => pool.predictEach(texts), maxWaitMs: 30 });
    const { port } = await server.listen();
    try {
      const send = (text: string): ReturnType<typeof request> =>
        request(port, 'POST', '/predict', JSON.stringify({ inputs: text }));
      const [good, bad] = await Promise.all([send('the movie was [MASK].'), send('there is no mask here')]);
      assert.equal(good.status, 200);
      assert.equal((good.json() as unknown[]).length, 2);
      assert.equal(bad.status, 400, bad.body);
      assert.match(bad.body, /"code":"invalid_input".*no mask token \(\[MASK\]\) found/);
    } finally {
      await server.close();
      await pool.close();
    }
  },
);
