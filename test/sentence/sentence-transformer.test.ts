// SentenceTransformer and CrossEncoder against sentence-transformers itself: the folders and expected outputs in
// test/fixtures/sentence-transformers (scripts/fixtures/sentence_transformers_fixtures.py).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { tryNativeKernels } from '../../src/native/index.js';
import { BATCH_TOKENS } from '../../src/model/linear-dtype.js';

const DIR = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;

interface ModelExpectation {
  layout: string;
  pooling_mode: string | string[];
  max_seq_length: number;
  similarity_fn_name: string;
  embeddings: number[][];
  embeddings_normalized: number[][];
  embeddings_truncated_8: number[][];
  embeddings_explicit_prompt?: number[][];
  similarity: number[][];
  input_ids: number[][];
  [key: string]: unknown;
}
interface Expected {
  texts: string[];
  models: Record<string, ModelExpectation>;
  cross_encoders: {
    query: string;
    documents: string[];
    models: Record<
      string,
      {
        num_labels: number;
        scores: number[] | number[][];
        logits: number[] | number[][];
        rank: { corpus_id: number; score: number }[];
      }
    >;
  };
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
const kernels = [jsKernels, ...(tryNativeKernels() ? [tryNativeKernels()!] : [])];

/** max abs diff <= 1e-4 and cosine >= 0.99999 per row. */
function assertClose(actual: ArrayLike<number>[], reference: number[][], what: string): void {
  assert.equal(actual.length, reference.length, `${what}: rows`);
  reference.forEach((ref, i) => {
    const got = actual[i]!;
    assert.equal(got.length, ref.length, `${what}[${i}]: dimensions`);
    let maxDiff = 0,
      dot = 0,
      na = 0,
      nb = 0;
    for (let k = 0; k < ref.length; k++) {
      const a = got[k]!,
        b = ref[k]!;
      maxDiff = Math.max(maxDiff, Math.abs(a - b));
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    assert.ok(maxDiff <= 1e-4, `${what}[${i}]: max abs diff ${maxDiff}`);
    const cos = dot / Math.sqrt(na * nb);
    if (na > 1e-12 && nb > 1e-12) assert.ok(cos >= 0.99999, `${what}[${i}]: cosine ${cos}`);
  });
}

for (const [name, exp] of Object.entries(expected.models)) {
  test(`SentenceTransformer ${name} (${exp.layout} layout, pooling ${String(exp.pooling_mode)}) equals sentence-transformers`, async () => {
    for (const k of kernels) {
      const model = await SentenceTransformer.fromPretrained(join(DIR, name), { kernels: k, warn: () => {} });
      assert.equal(model.maxSeqLength, exp.max_seq_length);
      assert.equal(model.similarityFnName, exp.similarity_fn_name);
      // The token ids sentence-transformers' preprocess gives the texts (no prompt), truncation included.
      const ids = expected.texts.map(
        (t) => model.tokenizer.encode(t, null, { maxLength: model.maxSeqLength, truncation: 'longest_first' }).inputIds,
      );
      exp.input_ids.forEach((row, i) => assert.deepEqual(ids[i], row.slice(0, ids[i]!.length), `${name} ids ${i}`));
      const e = model.encode(expected.texts, { batchSize: 3 });
      assertClose(e, exp.embeddings, `${name} [${k.name}] embeddings`);
      assertClose(model.encode(expected.texts, { normalize: true }), exp.embeddings_normalized, `${name} normalized`);
      assertClose(model.encode(expected.texts, { truncateDim: 8 }), exp.embeddings_truncated_8, `${name} truncated`);
      for (const [key, value] of Object.entries(exp)) {
        const m = /^embeddings_prompt_(.+)$/.exec(key);
        if (m) assertClose(model.encode(expected.texts, { promptName: m[1] }), value as number[][], `${name} ${key}`);
      }
      if (exp.embeddings_explicit_prompt)
        assertClose(model.encode(expected.texts, { prompt: 'custom: ' }), exp.embeddings_explicit_prompt, name);
      const all = model.encode(expected.texts);
      const sim = model.similarity(all.slice(0, 3), all.slice(3));
      sim.forEach((row, i) =>
        Array.from(row).forEach((v, j) => {
          const ref = exp.similarity[i]![j]!;
          assert.ok(Math.abs(v - ref) <= 1e-4 * Math.max(1, Math.abs(ref)), `${name} similarity[${i}][${j}]`);
        }),
      );
    }
  });
}

test('encode gives the same embeddings whatever the batch size (length-sorted batching)', async () => {
  const warnings: string[] = [];
  const model = await SentenceTransformer.fromPretrained(join(DIR, 'mean_legacy'), { warn: (m) => warnings.push(m) });
  // The folder's BERT pooler weights go unused by design: no warning about them.
  assert.deepEqual(warnings, []);
  assertClose(model.encode(expected.texts, { batchSize: 1 }), expected.models['mean_legacy']!.embeddings, 'batch 1');
  assertClose(model.encode(expected.texts, { batchSize: 7 }), expected.models['mean_legacy']!.embeddings, 'batch 7');
});

test('encode and CrossEncoder.logits cut long lists at BATCH_TOKENS padded tokens, results as one text a call', async () => {
  // Texts of varying length, most truncated at the model's maximum.
  const words = expected.texts.join(' ').split(/\s+/);
  const texts = Array.from({ length: 60 }, (_, i) => words.slice(0, 5 + ((i * 37) % 90)).join(' '));
  const shapes: Array<[number, number]> = [];
  const spy = (bert: { forward: (...args: never[]) => unknown }): void => {
    const original = bert.forward.bind(bert) as (...args: unknown[]) => unknown;
    (bert as { forward: unknown }).forward = (...args: unknown[]) => {
      const shape = (args[0] as { inputIds: { shape: [number, number] } }).inputIds.shape;
      shapes.push([shape[0], shape[1]]);
      return original(...args);
    };
  };
  const st = await SentenceTransformer.fromPretrained(join(DIR, 'mean_legacy'), { warn: () => {} });
  const alone = texts.map((t) => st.encode([t])[0]!);
  spy(st.bert);
  const listed = st.encode(texts, { batchSize: 64 });
  const stShapes = shapes.splice(0);
  const ce = await CrossEncoder.fromPretrained(join(DIR, Object.keys(expected.cross_encoders.models)[0]!), {
    warn: () => {},
  });
  const pairs = texts.map((t) => [expected.cross_encoders.query, t] as const);
  const ceAlone = pairs.map((p) => ce.logits([p])[0]!);
  spy(ce.model);
  const ceListed = ce.logits(pairs, 64);
  for (const [what, seen] of [
    ['encode', stShapes],
    ['CrossEncoder.logits', shapes],
  ] as const) {
    // Batches of 64 at the longest length seen would pass the budget (the fixtures' max_seq_length is 12-24 tokens).
    assert.ok(seen.some(([b]) => b > 1) && 64 * Math.max(...seen.map(([, t]) => t)) > BATCH_TOKENS, what);
    for (const [b, t] of seen) assert.ok(b === 1 || b * t <= BATCH_TOKENS, `${what}: a call of ${b}x${t} tokens`);
  }
  assertClose(
    listed,
    alone.map((v) => Array.from(v)),
    'encode list vs one text a call',
  );
  assertClose(ceListed, ceAlone, 'CrossEncoder list vs one pair a call');
});

test('an unknown module type, prompt name or activation is a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    cpSync(join(DIR, 'max'), dir, { recursive: true });
    const modules = JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')) as { type: string }[];
    modules[1]!.type = 'sentence_transformers.models.WeightedLayerPooling';
    writeFileSync(join(dir, 'modules.json'), JSON.stringify(modules));
    await assert.rejects(SentenceTransformer.fromPretrained(dir), /WeightedLayerPooling.*not supported/);
    const model = await SentenceTransformer.fromPretrained(join(DIR, 'cls_dense_tanh'), { warn: () => {} });
    assert.throws(() => model.encode(['x'], { promptName: 'nope' }), /promptName "nope".*query/);
    cpSync(join(DIR, 'cls_dense_tanh'), dir, { recursive: true });
    writeFileSync(join(dir, 'modules.json'), readFileSync(join(DIR, 'cls_dense_tanh', 'modules.json')));
    const dense = join(dir, '2_Dense', 'config.json');
    const cfg = JSON.parse(readFileSync(dense, 'utf8')) as Record<string, unknown>;
    cfg['activation_function'] = 'my.custom.Act';
    writeFileSync(dense, JSON.stringify(cfg));
    await assert.rejects(SentenceTransformer.fromPretrained(dir), /my\.custom\.Act.*not supported/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [name, exp] of Object.entries(expected.cross_encoders.models)) {
  test(`CrossEncoder ${name} (${exp.num_labels} label(s)) equals sentence-transformers`, async () => {
    const { query, documents } = expected.cross_encoders;
    for (const k of kernels) {
      const ce = await CrossEncoder.fromPretrained(join(DIR, name), { kernels: k, warn: () => {} });
      const pairs = documents.map((d) => [query, d] as const);
      const rows = (x: number[] | number[][]): number[][] => x.map((v) => (Array.isArray(v) ? v : [v]));
      assertClose(rows(ce.predict(pairs)), rows(exp.scores), `${name} scores`);
      assertClose(rows(ce.predict(pairs, { activation: 'identity' })), rows(exp.logits), `${name} logits`);
      if (exp.num_labels === 1) {
        const ranked = ce.rank(query, documents, { topK: 3 });
        assert.deepEqual(
          ranked.map((r) => r.corpusId),
          exp.rank.map((r) => r.corpus_id),
        );
        ranked.forEach((r, i) => assert.ok(Math.abs(r.score - exp.rank[i]!.score) <= 1e-4));
      } else assert.throws(() => ce.rank(query, documents), /one label/);
    }
  });
}

test('CrossEncoder reads the oldest activation key (sbert_ce_default_activation_function) and defaults by labels', async () => {
  const { query, documents, models } = expected.cross_encoders;
  const pairs = documents.map((d) => [query, d] as const);
  const dir = mkdtempSync(join(tmpdir(), 'ce-'));
  try {
    cpSync(join(DIR, 'cross_encoder_identity'), dir, { recursive: true });
    const file = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete config['sentence_transformers'];
    writeFileSync(
      file,
      JSON.stringify({ ...config, sbert_ce_default_activation_function: 'torch.nn.modules.linear.Identity' }),
    );
    const identity = await CrossEncoder.fromPretrained(dir, { warn: () => {} });
    assert.equal(identity.activation, 'identity');
    assertClose(
      [identity.predict(pairs) as number[]],
      [models['cross_encoder_identity']!.scores as number[]],
      'oldest key',
    );
    // Without any activation recorded: sigmoid for one label, as sentence-transformers.
    writeFileSync(file, JSON.stringify(config));
    const plain = await CrossEncoder.fromPretrained(dir, { warn: () => {} });
    assert.equal(plain.activation, 'sigmoid');
    const sigmoid = (models['cross_encoder_identity']!.scores as number[]).map((x) => 1 / (1 + Math.exp(-x)));
    assertClose([plain.predict(pairs) as number[]], [sigmoid], 'default');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
