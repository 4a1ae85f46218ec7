// The embedding losses against sentence-transformers on a fixed batch (loss and d loss / d embeddings, 1e-5
// relative), GradCache against the one-pass loss, and MNRL back-propagated through whole models against PyTorch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SentenceTransformer } from '../../src/model/sentence/index.js';
import {
  binaryCrossEntropyWithLogits,
  cachedMultipleNegativesRankingLoss,
  coSentLoss,
  embeddingLossStep,
  matryoshkaLoss,
  multipleNegativesRankingLoss,
  type EmbeddingColumn,
} from '../../src/train/losses/index.js';

const DIR = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
interface LossCase {
  loss: number;
  grads: number[][][];
}
interface Expected {
  models: Record<
    string,
    { training_grads: { loss: number; columns: string[][]; grads: Record<string, number[]> }; layout: string }
  >;
  losses: {
    anchor: number[][];
    positive: number[][];
    negative: number[][];
    cosent_scores: number[];
    mnrl: LossCase;
    mnrl_hard_negative: LossCase;
    mnrl_dot_scale1: LossCase;
    cosent: LossCase;
    matryoshka_mnrl: LossCase & { dims: number[]; weights: number[] };
    bce: { logits: number[]; labels: number[]; loss: number; grad: number[] };
  };
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
const L = expected.losses;

const column = (rows: number[][]): EmbeddingColumn => ({
  data: Float32Array.from(rows.flat()),
  rows: rows.length,
  dim: rows[0]!.length,
});

/** |a - b| <= tol * max |b| over the whole tensor (the fixtures' gradient tolerance). */
function assertTensorClose(actual: ArrayLike<number>, reference: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, reference.length, `${what}: length`);
  const scale = Math.max(...reference.map(Math.abs), 1e-30);
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - reference[i]!) / scale);
  assert.ok(worst <= tol, `${what}: relative error ${worst} > ${tol}`);
}

function assertLoss(actual: number, reference: number, what: string): void {
  assert.ok(Math.abs(actual - reference) <= 1e-5 * Math.abs(reference), `${what}: loss ${actual} vs ${reference}`);
}

function check(result: { loss: number; grads: Float32Array[] }, ref: LossCase, what: string): void {
  assertLoss(result.loss, ref.loss, what);
  ref.grads.forEach((g, c) => assertTensorClose(result.grads[c]!, g.flat(), 1e-5, `${what} grad ${c}`));
}

test('MultipleNegativesRankingLoss equals sentence-transformers (cosine scale 20, hard negatives, dot scale 1)', () => {
  const a = column(L.anchor),
    p = column(L.positive),
    n = column(L.negative);
  check(multipleNegativesRankingLoss([a, p]), L.mnrl, 'mnrl');
  check(multipleNegativesRankingLoss([a, p, n]), L.mnrl_hard_negative, 'mnrl + negatives');
  check(multipleNegativesRankingLoss([a, p], { scale: 1, similarity: 'dot' }), L.mnrl_dot_scale1, 'mnrl dot');
});

test('CoSENTLoss equals sentence-transformers', () => {
  check(coSentLoss([column(L.anchor), column(L.positive)], L.cosent_scores), L.cosent, 'cosent');
});

test('MatryoshkaLoss over MNRL equals sentence-transformers', () => {
  const m = L.matryoshka_mnrl;
  const result = matryoshkaLoss(
    (cols) => multipleNegativesRankingLoss(cols),
    [column(L.anchor), column(L.positive)],
    m.dims,
    m.weights,
  );
  check(result, m, 'matryoshka');
});

test('cross-encoder BinaryCrossEntropyLoss equals torch BCEWithLogitsLoss', () => {
  const { loss, grad } = binaryCrossEntropyWithLogits(L.bce.logits, L.bce.labels);
  assertLoss(loss, L.bce.loss, 'bce');
  assertTensorClose(grad, L.bce.grad, 1e-5, 'bce grad');
});

/** Gradients of the parameters the fixture lists, by the fixture's names ('2.linear.weight' = module 2). */
function namedGrads(model: SentenceTransformer, names: string[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const name of names) {
    const m = /^(\d+)\.(linear\..*)$/.exec(name);
    if (m) out.set(name, model.moduleStore.gradView(`${model.modules[Number(m[1])]!.path}.${m[2]}`).slice());
    else out.set(name, model.bert.gradients.get(name)!.slice());
  }
  return out;
}

for (const [name, exp] of Object.entries(expected.models)) {
  test(`MNRL back-propagated through ${name} (pooling, Dense, Normalize, BERT) equals PyTorch`, async () => {
    const model = await SentenceTransformer.fromPretrained(join(DIR, name), { warn: () => {} });
    const t = exp.training_grads;
    const mnrl = (cols: readonly EmbeddingColumn[]) => multipleNegativesRankingLoss(cols);
    model.bert.zeroGrad();
    model.moduleStore.grad.fill(0);
    // The fixture embeds each column separately (no prompt); the one-pass driver pads them together.
    const loss = embeddingLossStep({ forward: (texts, o) => model.forward(texts, o) }, t.columns, mnrl);
    assertLoss(loss, t.loss, `${name} loss`);
    const names = Object.keys(t.grads);
    const got = namedGrads(model, names);
    for (const n of names) assertTensorClose(got.get(n)!, t.grads[n]!, 1e-4, `${name} ${n}`);

    // GradCache with mini-batches of 2 gives the same loss and gradients.
    model.bert.zeroGrad();
    model.moduleStore.grad.fill(0);
    const cached = cachedMultipleNegativesRankingLoss(model, t.columns, { miniBatchSize: 2 });
    assertLoss(cached, t.loss, `${name} cached loss`);
    const gotCached = namedGrads(model, names);
    for (const n of names) assertTensorClose(gotCached.get(n)!, t.grads[n]!, 1e-4, `${name} cached ${n}`);
  });
}

test('a backward after another forward is refused (layers keep the last activations only)', async () => {
  const model = await SentenceTransformer.fromPretrained(join(DIR, 'max'), { warn: () => {} });
  const first = model.forward(['a man'], { grad: true });
  model.forward(['a dog'], { grad: true });
  assert.throws(() => first.backward(new Float32Array(first.dim)), /older forward/);
});
