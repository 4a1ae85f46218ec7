// The options every training run takes (finetune, trainEmbeddings, trainReranker): data and output, the optimizer
// schedule, evaluation and checkpoints. Each run's own options extend them; its doc says its defaults.
import type { Kernels } from '../tensor/kernels.js';
import type { ProgressReporter } from './progress.js';
import type { ScheduleName } from './schedule.js';

export interface TrainingRunOptions {
  /** Model folder (or hub id) to start from. */
  model: string;
  /** Training data (.jsonl, .csv, .tsv, optionally .gz; the run's doc says which columns). */
  train: string;
  /** Output folder: the trained model folder, checkpoints/, training_curve.svg, train_log.jsonl, eval_results.json. */
  output: string;
  /** Evaluation data, scored each epoch and every evalSteps; the best evaluated weights are kept. */
  eval?: string;
  /** Use a seeded sample of this many training rows. */
  trainSamples?: number;
  /** Tokens per example, [CLS] and [SEP] included. */
  maxLength?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** AdamW weight decay (default 0). */
  weightDecay?: number;
  /** Default linear. */
  schedule?: ScheduleName;
  /** Default 0. */
  warmupRatio?: number;
  warmupSteps?: number;
  /** Global gradient-norm clipping (default 1; 0 = off). */
  maxGradNorm?: number;
  /** Seed of the data order, dropout and new weights (default 42). */
  seed?: number;
  /** Evaluate every N optimizer steps besides each epoch end. */
  evalSteps?: number;
  saveSteps?: number;
  /** Metric deciding the best model (default: the task's or evaluator's main one). */
  metric?: string;
  evalBatchSize?: number;
  /** Continue from output/checkpoints with the same options. */
  resume?: boolean;
  /** JSON-lines log of every step and evaluation (default output/train_log.jsonl). */
  log?: string;
  /** Stop (checkpoint written, resumable) after this many optimizer steps. */
  stopAfterSteps?: number;
  kernels?: Kernels;
  progress?: ProgressReporter;
}

/** What a training run returns: its summary, or where it stopped when stopAfterSteps (or a stop hook) ended it. */
export type RunResult<Summary> =
  { interrupted: false; summary: Summary } | { interrupted: true; steps: number; totalSteps: number };
