// trainEmbeddings(options): a sentence-embedding model trained on text pairs through the one Trainer (MNRL,
// CachedMNRL, CoSENT, optionally under Matryoshka) and saved as a folder sentence-transformers loads.
import { getKernels } from '../native/index.js';
import { InputError } from '../model/errors.js';
import { SentenceTransformer } from '../model/sentence/sentence-transformer.js';
import { readEmbeddingPairs, type EmbeddingPairs } from '../data/pairs.js';
import { DistributedError, getDistributed } from './distributed.js';
import { evaluateEmbeddingSimilarity, evaluateRetrieval, type RetrievalEvalData } from './evaluators/index.js';
import {
  EMBEDDING_LOSSES,
  embeddingDataset,
  sentenceTrainerModel,
  type EmbeddingLossName,
  type EmbeddingLossSpec,
} from './sentence-adapter.js';
import {
  checkRunOptions,
  runProgress,
  runSentenceTraining,
  sampleRowIndices,
  writeSummary,
  type SentenceRunOptions,
  type SentenceRunResult,
} from './sentence-training.js';

export interface TrainEmbeddingsOptions extends SentenceRunOptions, Omit<EmbeddingLossSpec, 'name'> {
  /** mnrl (default; anchor, positive[, negatives]), cached-mnrl (the same, in bounded memory), cosent (scored pairs). */
  loss?: EmbeddingLossName;
  /** Text columns in order (default anchor, positive, negative... or sentence1, sentence2). */
  textColumns?: string[];
  /** Score column for CoSENT and similarity evaluation (default score, else label). */
  scoreColumn?: string;
}

const where = 'trainEmbeddings';

/**
 * Pairs without scores evaluate as retrieval: each distinct first-column text is a query, the distinct texts of the
 * other columns the corpus, a row's second-column text relevant to its query.
 */
export function retrievalFromPairs(pairs: EmbeddingPairs): RetrievalEvalData {
  const queries: Record<string, string> = {};
  const corpus: Record<string, string> = {};
  const relevantDocs: Record<string, string[]> = {};
  const qId = new Map<string, string>();
  const dId = new Map<string, string>();
  const idOf = (m: Map<string, string>, out: Record<string, string>, prefix: string, text: string): string => {
    let id = m.get(text);
    if (id === undefined) {
      id = `${prefix}${m.size}`;
      m.set(text, id);
      out[id] = text;
    }
    return id;
  };
  const [anchors, positives, ...negatives] = pairs.columns;
  anchors?.forEach((a, i) => {
    const q = idOf(qId, queries, 'q', a);
    const d = idOf(dId, corpus, 'd', positives![i]!);
    const rel = (relevantDocs[q] ??= []);
    if (!rel.includes(d)) rel.push(d);
  });
  for (const col of negatives) for (const t of col) idOf(dId, corpus, 'd', t);
  return { queries, corpus, relevantDocs };
}

function checkOptions(o: TrainEmbeddingsOptions): EmbeddingLossName {
  const loss = o.loss ?? 'mnrl';
  if (!EMBEDDING_LOSSES.includes(loss))
    throw new InputError(where, (n) => `${n('loss')} must be ${EMBEDDING_LOSSES.join(', ')}, got "${o.loss}"`);
  if (o.scale !== undefined && !(o.scale > 0))
    throw new InputError(where, (n) => `${n('scale')} must be positive, got ${o.scale}`);
  if (o.miniBatchSize !== undefined && !(Number.isInteger(o.miniBatchSize) && o.miniBatchSize >= 1))
    throw new InputError(where, (n) => `${n('miniBatchSize')} must be a positive integer, got ${o.miniBatchSize}`);
  const dims = o.matryoshkaDims;
  if (dims !== undefined && (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1)))
    throw new InputError(where, (n) => `${n('matryoshkaDims')} must be positive integers, got ${JSON.stringify(dims)}`);
  if (o.matryoshkaWeights !== undefined && o.matryoshkaWeights.length !== (dims?.length ?? -1))
    throw new InputError(where, (n) => `${n('matryoshkaWeights')} needs one weight per ${n('matryoshkaDims')} entry`);
  checkRunOptions(where, o);
  return loss;
}

/**
 * Trains `options.model` (a sentence-transformers folder, or a plain BERT folder under mean pooling) on the pairs
 * of `options.train` and saves it to `options.output` as sentence-transformers saves it. With `eval`, the model is
 * scored before training and each epoch (retrieval nDCG@10 for pairs, Spearman of cosine for scored pairs) and the
 * best evaluated weights are saved.
 */
export async function trainEmbeddings(options: TrainEmbeddingsOptions): Promise<SentenceRunResult> {
  const o = options;
  const lossName = checkOptions(o);
  const ranks = getDistributed().size;
  if (ranks > 1) {
    // MNRL's in-batch negatives and CoSENT's pairs span the whole batch: a rank's share would train another loss.
    throw new DistributedError(
      `trainEmbeddings: ${lossName} compares every text of a batch with the others, so its loss would change with ` +
        `the number of ranks (${ranks} under mpirun); data-parallel embedding training is not supported: run it ` +
        `in one process`,
    );
  }
  const seed = o.seed ?? 42;
  const read = (path: string) => readEmbeddingPairs(path, { textColumns: o.textColumns, scoreColumn: o.scoreColumn });
  const pairs = await read(o.train);
  if (lossName === 'cosent' && (!pairs.scores || pairs.columns.length !== 2))
    throw new InputError(o.train, 'CoSENT trains on scored pairs: two text columns and a score column');
  if (lossName !== 'cosent' && pairs.columns.length < 2)
    throw new InputError(o.train, 'MultipleNegativesRankingLoss needs at least two text columns (anchor, positive)');
  const evalPairs = o.eval ? await read(o.eval) : null;
  const rows = sampleRowIndices(pairs.columns[0]?.length ?? 0, o.trainSamples, seed);
  const trainCols = pairs.columns.map((c) => rows.map((i) => c[i]!));
  const trainScores = pairs.scores ? rows.map((i) => pairs.scores![i]!) : null;
  const kernels = o.kernels ?? getKernels();
  const progress = runProgress(o);
  const model = await SentenceTransformer.fromPretrained(o.model, {
    kernels,
    warn: (m) => progress.message(m),
  });
  if (o.maxLength !== undefined) model.maxSeqLength = o.maxLength;
  const dims = o.matryoshkaDims;
  if (dims && dims.some((d) => d > model.embeddingDimension))
    throw new InputError(
      where,
      (n) =>
        `${n('matryoshkaDims')} ${JSON.stringify(dims)} exceed the embedding dimension ${model.embeddingDimension}`,
    );
  const spec: EmbeddingLossSpec = { name: lossName, ...o };
  const evalBatch = { batchSize: o.evalBatchSize ?? 32 };
  let evaluate: (() => Record<string, number>) | undefined;
  let metric = o.metric ?? 'cosine_ndcg@10';
  if (evalPairs?.scores && evalPairs.columns.length === 2) {
    const [s1, s2] = evalPairs.columns as [string[], string[]];
    const scores = evalPairs.scores;
    evaluate = () => evaluateEmbeddingSimilarity(model, { sentences1: s1, sentences2: s2, scores }, evalBatch);
    metric = o.metric ?? 'spearman_cosine';
  } else if (evalPairs) {
    const ir = retrievalFromPairs(evalPairs);
    evaluate = () => evaluateRetrieval(model, ir, evalBatch);
  }
  const result = await runSentenceTraining({
    o,
    kind: 'embeddings',
    lossName: lossName + (dims ? ` (matryoshka ${dims.join(',')})` : ''),
    trainerModel: sentenceTrainerModel(model, spec),
    data: embeddingDataset(trainCols, trainScores),
    batchSize: o.batchSize ?? 32,
    evaluate,
    metric,
    kernels,
    progress,
    settings: {
      model: o.model,
      train: o.train,
      trainSamples: o.trainSamples ?? null,
      loss: lossName,
      scale: o.scale ?? 20,
      matryoshkaDims: dims ?? null,
      miniBatchSize: o.miniBatchSize ?? null,
      maxLength: model.maxSeqLength,
    },
  });
  if (result.interrupted) return result;
  if (getDistributed().rank === 0) {
    await model.save(o.output);
    writeSummary(result.summary);
  }
  return result;
}
