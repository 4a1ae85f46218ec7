// trainReranker(options): a cross-encoder trained on labelled (query, passage) pairs with binary cross-entropy
// through the one Trainer, saved as a folder sentence-transformers' CrossEncoder loads.
import { getKernels } from '../native/index.js';
import { InputError } from '../model/errors.js';
import { CrossEncoder } from '../model/sentence/cross-encoder.js';
import { readRerankerPairs, type RerankerPairs, type RerankerPairsOptions } from '../data/pairs.js';
import { getDistributed } from './distributed.js';
import { crossEncoderScorer, evaluateReranking, type RerankingSample } from './evaluators/index.js';
import { crossEncoderTrainerModel, rerankerDataset, withBinaryCrossEntropy } from './sentence-adapter.js';
import * as run from './sentence-training.js';

export interface TrainRerankerOptions extends run.SentenceRunOptions, RerankerPairsOptions {}

const where = 'trainReranker';

/** Groups labelled pairs by query for reranking evaluation: label > 0.5 relevant, else not. */
export function rerankingSamples(pairs: RerankerPairs): RerankingSample[] {
  const byQuery = new Map<string, { positive: string[]; negative: string[] }>();
  pairs.queries.forEach((q, i) => {
    const s = byQuery.get(q) ?? { positive: [], negative: [] };
    byQuery.set(q, s);
    (pairs.labels[i]! > 0.5 ? s.positive : s.negative).push(pairs.passages[i]!);
  });
  return [...byQuery].map(([query, s]) => ({ query, ...s }));
}

/**
 * Fine-tunes `options.model` (a cross-encoder folder, or a plain BERT folder that gets a new one-logit classifier)
 * with sentence-transformers' BinaryCrossEntropyLoss on `options.train` and saves it to `options.output`. With
 * `eval`, MAP / MRR@10 / nDCG@10 of reranking each query's passages are measured before training and each epoch.
 */
export async function trainReranker(options: TrainRerankerOptions): Promise<run.SentenceRunResult> {
  const o = options;
  run.checkRunOptions(where, o);
  const seed = o.seed ?? 42;
  const columns = { queryColumn: o.queryColumn, passageColumn: o.passageColumn, labelColumn: o.labelColumn };
  const pairs = await readRerankerPairs(o.train, columns);
  const bad = pairs.labels.findIndex((l) => !(l >= 0 && l <= 1));
  if (bad >= 0)
    throw new InputError(
      o.train,
      `row ${bad + 1}: label ${pairs.labels[bad]} is outside [0, 1] (binary cross-entropy)`,
    );
  const evalSamples = o.eval ? rerankingSamples(await readRerankerPairs(o.eval, columns)) : null;
  const rows = run.sampleRowIndices(pairs.queries.length, o.trainSamples, seed);
  const kernels = o.kernels ?? getKernels();
  const progress = run.runProgress(o);
  const model = await CrossEncoder.fromPretrained(o.model, { kernels, seed, warn: (m) => progress.message(m) });
  if (model.numLabels !== 1)
    throw new InputError(o.model, `the cross-encoder has ${model.numLabels} labels; binary cross-entropy trains one`);
  if (o.maxLength !== undefined) model.maxLength = o.maxLength;
  const scorer = crossEncoderScorer(model, o.evalBatchSize ?? 32);
  const evaluate = evalSamples ? () => evaluateReranking(scorer, evalSamples) : undefined;
  const pick = <T>(xs: T[]): T[] => rows.map((i) => xs[i]!);
  const result = await withBinaryCrossEntropy(model, () =>
    run.runSentenceTraining({
      o,
      kind: 'reranker',
      lossName: 'bce',
      trainerModel: crossEncoderTrainerModel(model),
      data: rerankerDataset(model, pick(pairs.queries), pick(pairs.passages), pick(pairs.labels)),
      batchSize: o.batchSize ?? 16,
      evaluate,
      metric: o.metric ?? 'ndcg@10',
      kernels,
      progress,
      settings: { model: o.model, train: o.train, trainSamples: o.trainSamples ?? null, maxLength: model.maxLength },
    }),
  );
  if (result.interrupted) return result;
  if (getDistributed().rank === 0) {
    await model.save(o.output);
    run.writeSummary(result.summary);
  }
  return result;
}
