// What trainEmbeddings and trainReranker share: the run options (checked before anything is read), the output
// folder rules (resume / existing checkpoint), one Trainer run, and the summary written next to the model.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import { InputError } from '../model/errors.js';
import type { Kernels } from '../tensor/kernels.js';
import { EpochSampler, type IndexedDataset } from '../data/samplers.js';
import { sampleSubset } from '../data/sampling.js';
import { Trainer, type TrainerModel } from './trainer.js';
import type { ProgressReporter } from './progress.js';
import { rankProgress } from './distributed.js';
import { isScheduleName } from './schedule.js';
import { latestTrainingStateDir } from './training-state.js';
import type { RunResult, TrainingRunOptions } from './run-options.js';

/**
 * The run options of trainEmbeddings and trainReranker (defaults: sentence-transformers' training arguments — epochs 1,
 * batch 32 for embeddings and 16 for rerankers, lr 5e-5; max length the model's own). The model may be a
 * sentence-transformers folder or a plain BERT folder; the output is a sentence-transformers folder.
 */
export type SentenceRunOptions = TrainingRunOptions;

/** What a run did; also written to output/eval_results.json. */
export interface SentenceRunSummary {
  model: string;
  kind: 'embeddings' | 'reranker';
  loss: string;
  backend: string;
  train_examples: number;
  steps: number;
  epochs: number;
  train_seconds: number;
  train_examples_per_second: number;
  last_loss: number;
  metric: string | null;
  best_metric: number | null;
  best_step: number | null;
  /** The evaluation of the model before training (step 0), when evaluating. */
  initial_eval: Record<string, number> | null;
  eval: Record<string, number> | null;
}

export type SentenceRunResult = RunResult<SentenceRunSummary>;

function checkInteger(where: string, value: number | undefined, option: string, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new InputError(where, (o) => `${o(option)} must be an integer >= ${min}, got ${value}`);
}

/** Every run option checked before any data is read or any model loaded; the output folder's state too. */
export function checkRunOptions(where: string, o: SentenceRunOptions): void {
  for (const k of ['epochs', 'batchSize', 'evalBatchSize', 'trainSamples', 'evalSteps', 'saveSteps'] as const)
    checkInteger(where, o[k], k, 1);
  checkInteger(where, o.stopAfterSteps, 'stopAfterSteps', 1);
  checkInteger(where, o.warmupSteps, 'warmupSteps', 0);
  checkInteger(where, o.seed, 'seed', 0);
  checkInteger(where, o.maxLength, 'maxLength', 3);
  if (o.lr !== undefined && !(o.lr > 0)) throw new InputError(where, (n) => `${n('lr')} must be positive, got ${o.lr}`);
  if (o.schedule !== undefined && !isScheduleName(o.schedule))
    throw new InputError(where, (n) => `${n('schedule')} must be constant, linear or cosine, got "${o.schedule}"`);
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0))
    throw new InputError(where, (n) => `${n('weightDecay')} must be >= 0, got ${o.weightDecay}`);
  if (o.warmupRatio !== undefined && !(o.warmupRatio >= 0 && o.warmupRatio < 1))
    throw new InputError(where, (n) => `${n('warmupRatio')} must be in [0, 1), got ${o.warmupRatio}`);
  if (o.maxGradNorm !== undefined && !(o.maxGradNorm >= 0))
    throw new InputError(where, (n) => `${n('maxGradNorm')} must be >= 0, got ${o.maxGradNorm}`);
  if (o.evalSteps !== undefined && !o.eval) throw new InputError(where, (n) => `${n('evalSteps')} needs ${n('eval')}`);
  if (existsSync(o.output) && !statSync(o.output).isDirectory())
    throw new InputError(where, (n) => `${n('output')} ${o.output} exists and is not a folder`);
  const latest = join(o.output, 'checkpoints', 'latest.json');
  if (o.resume && !existsSync(latest))
    throw new InputError(where, (n) => `${n('resume')}: ${o.output} holds no checkpoint (${latest} missing)`);
  if (!o.resume && existsSync(latest))
    throw new InputError(
      where,
      (n) =>
        `${o.output} already holds a training checkpoint (${latestTrainingStateDir(o.output)}); add ${n('resume')} to continue it or choose another ${n('output')}`,
    );
}

/** The progress reporter of a run: the caller's, or one on stderr logging JSON lines next to the checkpoints. */
export function runProgress(o: SentenceRunOptions): ProgressReporter {
  return o.progress ?? rankProgress({ logFile: o.log ?? join(o.output, 'train_log.jsonl') });
}

/** The rows a run trains on: all, or a seeded sample of `n` of them (indices into the data file's rows). */
export function sampleRowIndices(size: number, n: number | undefined, seed: number): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  return n === undefined || n >= size ? all : sampleSubset(all, n, seed);
}

/**
 * One Trainer run over `data` with the run options, evaluating (when given) before training, each epoch and every
 * evalSteps, keeping the best weights. Returns the interrupted state or the summary fields the trainer knows.
 */
export async function runSentenceTraining<B>(args: {
  o: SentenceRunOptions;
  kind: SentenceRunSummary['kind'];
  lossName: string;
  trainerModel: TrainerModel<B>;
  data: IndexedDataset<B>;
  batchSize: number;
  evaluate?: () => Record<string, number>;
  metric: string;
  kernels: Kernels;
  progress: ProgressReporter;
  settings: Record<string, unknown>;
}): Promise<SentenceRunResult> {
  const { o, data, batchSize, progress } = args;
  const seed = o.seed ?? 42;
  mkdirSync(o.output, { recursive: true });
  const sampler = new EpochSampler(data, { batchSize, seed });
  const initial = args.evaluate && !o.resume ? args.evaluate() : null;
  if (initial)
    progress.message(`before training: ${args.metric} ${initial[args.metric]}`, {
      event: 'initial-eval',
      metrics: initial,
    });
  const batchesPerEpoch = sampler.batchesPerEpoch;
  const stopAfter = o.stopAfterSteps;
  const trainer = new Trainer(args.trainerModel, sampler, {
    epochs: o.epochs ?? 1,
    lr: o.lr ?? 5e-5,
    optimizer: { name: 'adamw', eps: 1e-8, betas: [0.9, 0.999], weightDecay: o.weightDecay ?? 0 },
    schedule: o.schedule ?? 'linear',
    warmupRatio: o.warmupRatio ?? 0,
    warmupSteps: o.warmupSteps,
    maxGradNorm: o.maxGradNorm ?? 1,
    // Each epoch's end (sentence-transformers' eval_strategy "epoch") unless evalSteps asks for more often.
    evalSteps: args.evaluate ? (o.evalSteps ?? batchesPerEpoch) : undefined,
    evaluate: args.evaluate,
    metricForBest: args.metric,
    greaterIsBetter: true,
    output: o.output,
    saveSteps: o.saveSteps,
    resume: o.resume === true,
    progress,
    kernels: args.kernels,
    shouldStop: stopAfter === undefined ? undefined : (step) => step >= stopAfter,
    settings: args.settings,
  });
  progress.message(
    `training ${args.kind} (${args.kernels.name}, ${args.lossName}): ${data.size} examples, ${trainer.totalSteps} steps, batch ${batchSize}`,
  );
  const result = await trainer.train();
  if (result.stoppedBy === 'stop' || result.stoppedBy === 'time')
    return { interrupted: true, steps: result.steps, totalSteps: result.totalSteps };
  const summary: SentenceRunSummary = {
    model: o.output,
    kind: args.kind,
    loss: args.lossName,
    backend: args.kernels.name,
    train_examples: data.size,
    steps: result.steps,
    epochs: result.epochsCompleted,
    train_seconds: Number(result.seconds.toFixed(1)),
    train_examples_per_second: Number(result.examplesPerSecond.toFixed(2)),
    last_loss: result.lastLoss,
    metric: args.evaluate ? args.metric : null,
    best_metric: result.bestMetric,
    best_step: result.bestStep,
    initial_eval: initial,
    eval: result.evals.find((e) => e.step === result.bestStep)?.metrics ?? result.evals.at(-1)?.metrics ?? null,
  };
  return { interrupted: false, summary };
}

/** Writes output/eval_results.json. */
export function writeSummary(summary: SentenceRunSummary): void {
  writeFileAtomic(join(summary.model, 'eval_results.json'), JSON.stringify(summary, null, 2) + '\n');
}
