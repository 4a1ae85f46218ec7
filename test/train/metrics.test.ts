// Metrics against scikit-learn / scipy / seqeval documented results and hand-worked examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy,
  argmaxRows,
  classificationReport,
  multiLabelReport,
  regressionReport,
  averageRanks,
  extractEntities,
  entityReport,
} from '../../src/train/metrics.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('classificationReport matches the scikit-learn f1_score docs example', () => {
  // sklearn docs: y_true=[0,1,2,0,1,2], y_pred=[0,2,1,0,0,1]: f1 macro 0.2666..., weighted 0.2666...; precision
  // macro 0.2222...; recall macro 0.3333...; per-class f1 [0.8, 0, 0].
  const r = classificationReport([0, 2, 1, 0, 0, 1], [0, 1, 2, 0, 1, 2], 3);
  close(r.macro.f1, 0.26666666666666666);
  close(r.weighted.f1, 0.26666666666666666);
  close(r.macro.precision, 0.2222222222222222);
  close(r.macro.recall, 0.3333333333333333);
  assert.deepEqual(
    r.perClass.map((c) => Number(c.f1.toFixed(6))),
    [0.8, 0, 0],
  );
  assert.deepEqual(
    r.perClass.map((c) => c.support),
    [2, 2, 2],
  );
  close(r.accuracy, 2 / 6);
  // confusion[true][pred] (sklearn confusion_matrix orientation).
  assert.deepEqual(r.confusion, [
    [2, 0, 0],
    [1, 0, 1],
    [0, 2, 0],
  ]);
  assert.throws(() => classificationReport([0, 3], [0, 1], 3), /outside 0\.\.2/);
  assert.throws(() => accuracy([0], [0, 1]), /1 predictions but 2 labels/);
});

test('argmaxRows picks the first maximum per row', () => {
  assert.deepEqual(argmaxRows(new Float32Array([0.1, 0.9, -1, 2, 2, 0]), 2, 3), [1, 0]);
});

test('multiLabelReport matches scikit-learn on its docs example', () => {
  // sklearn f1_score docs: per-label f1 [0.667, 1, 0.667]; micro = 2*4 / (2*4 + 1 + 1) = 0.8; subset acc 2/3.
  const yTrue = [
    [0, 0, 0],
    [1, 1, 1],
    [0, 1, 1],
  ];
  const yPred = [
    [0, 0, 0],
    [1, 1, 1],
    [1, 1, 0],
  ];
  const logits = yPred.flat().map((v) => (v ? 2 : -2));
  const r = multiLabelReport(logits, yTrue, 3);
  assert.deepEqual(
    r.perLabelF1.map((x) => Number(x.toFixed(6))),
    [0.666667, 1, 0.666667],
  );
  close(r.macroF1, (2 / 3 + 1 + 2 / 3) / 3);
  close(r.microF1, 0.8);
  close(r.subsetAccuracy, 2 / 3);
});

test('regressionReport: scipy pearsonr / spearmanr docs values, MSE / MAE by hand', () => {
  // scipy.stats.pearsonr docs: x=[1..7], y=[10,9,2.5,6,4,3,2] -> r = -0.828503883588428
  close(regressionReport([1, 2, 3, 4, 5, 6, 7], [10, 9, 2.5, 6, 4, 3, 2]).pearson, -0.828503883588428, 1e-12);
  // scipy.stats.spearmanr docs: [1,2,3,4,5] vs [5,6,7,8,7] -> 0.8207826816681233 (ties averaged)
  close(regressionReport([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).spearman, 0.8207826816681233, 1e-12);
  const r = regressionReport([1, 2, 4], [1, 3, 1]);
  close(r.mse, (0 + 1 + 9) / 3);
  close(r.mae, (0 + 1 + 3) / 3);
  assert.deepEqual(averageRanks([10, 20, 10, 30]), [1.5, 3, 1.5, 4]);
});

test('extractEntities follows conlleval / seqeval get_entities', () => {
  const spans = (tags: string[]) => extractEntities(tags).map((e) => [e.type, e.start, e.end]);
  // seqeval README: get_entities(['B-PER', 'I-PER', 'O', 'B-LOC']) == [('PER', 0, 1), ('LOC', 3, 3)]
  assert.deepEqual(spans(['B-PER', 'I-PER', 'O', 'B-LOC']), [
    ['PER', 0, 1],
    ['LOC', 3, 3],
  ]);
  // conlleval: I- without B starts an entity; a type switch inside I- splits; B after B splits.
  assert.deepEqual(spans(['I-PER', 'I-PER', 'I-LOC', 'O', 'B-ORG', 'B-ORG', 'I-ORG']), [
    ['PER', 0, 1],
    ['LOC', 2, 2],
    ['ORG', 4, 4],
    ['ORG', 5, 6],
  ]);
  assert.deepEqual(spans(['O', 'O']), []);
  assert.deepEqual(spans(['B-MISC']), [['MISC', 0, 0]]);
});

test('entityReport reproduces the seqeval README example (micro F1 0.50, MISC 0, PER 1)', () => {
  const yTrue = [
    ['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'],
    ['B-PER', 'I-PER', 'O'],
  ];
  const yPred = [
    ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'],
    ['B-PER', 'I-PER', 'O'],
  ];
  const r = entityReport(yPred, yTrue);
  close(r.f1, 0.5);
  close(r.precision, 0.5);
  close(r.recall, 0.5);
  assert.deepEqual(r.perType['MISC'], { precision: 0, recall: 0, f1: 0, support: 1 });
  assert.deepEqual(r.perType['PER'], { precision: 1, recall: 1, f1: 1, support: 1 });
  // seqeval README: accuracy_score(y_true, y_pred) == 0.80 (positions 2 and 3 of the first sentence differ).
  close(r.tokenAccuracy, 0.8);
});

test('entityReport: hand-worked conlleval counts with a wrong type and a wrong boundary', () => {
  // true: PER[0..1], LOC[3], ORG[5..6]; pred: PER[0..1] (hit), ORG[3] (wrong type), ORG[5] (wrong span), MISC[7]
  const t = [['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'B-ORG', 'I-ORG', 'O']];
  const p = [['B-PER', 'I-PER', 'O', 'B-ORG', 'O', 'B-ORG', 'O', 'B-MISC']];
  const r = entityReport(p, t);
  assert.equal(r.trueEntities, 3);
  assert.equal(r.predictedEntities, 4);
  close(r.precision, 1 / 4);
  close(r.recall, 1 / 3);
  close(r.f1, (2 * (1 / 4) * (1 / 3)) / (1 / 4 + 1 / 3));
  assert.equal(r.perType['ORG']!.support, 1);
  close(r.perType['ORG']!.precision, 0);
});
