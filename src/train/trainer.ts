// The fine-tuning loop for any head: seeded batches, accumulation, clipping, schedules, evaluation, checkpoints, resume.
import type { Kernels } from '../tensor/kernels.js';
import { Rng, permutation } from './rng.js';
import { clipGradNorm } from './clip.js';
import { AdamW, type OptimizerOptions } from './optim.js';
import { learningRateAt, warmupStepsFromRatio, type ScheduleName } from './schedule.js';
import {
  CHECKPOINT_VERSION,
  loadCheckpoint,
  modelFingerprint,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { ProgressReporter, trainingCurveSvg, type EvalRecord } from './progress.js';
import { writeFileAtomic } from '../io/files.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A parameter as the trainer sees it: HF name, shape, values and gradient (views into the model's buffers). */
export interface TrainerParameter {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  grad: Float32Array;
}

/** What the trainer needs from a model. `forwardLoss` must keep what `backward` needs (llm.c style). */
export interface TrainerModel<B> {
  /** Forward pass with loss; dropout on when train, drawn from `seed`. Returns the mean loss of the batch. */
  forwardLoss(batch: B, train: boolean, seed: number): number;
  /** Accumulates d(mean loss)/d(param) of the last forward into the gradients (+=). */
  backward(): void;
  zeroGrad(): void;
  parameters(): readonly TrainerParameter[];
}

/** A training set the trainer can index: sizes for bucketing and a collate that pads to the longest example. */
export interface TrainerDataset<B> {
  readonly size: number;
  /** Token length of example i (used for length bucketing). */
  lengthOf(i: number): number;
  /** A batch of the given examples, padded to the longest of them. */
  collate(indices: readonly number[]): B;
}

export interface TrainerOptions {
  epochs: number;
  batchSize: number;
  /** Micro-batches per optimizer step (gradients averaged over them). */
  gradAccum?: number;
  lr: number;
  optimizer: OptimizerOptions;
  schedule: ScheduleName;
  warmupRatio?: number;
  /** Overrides warmupRatio when given. */
  warmupSteps?: number;
  /** Global gradient-norm clipping (HF default 1.0); 0 disables. */
  maxGradNorm?: number;
  seed: number;
  /** Group examples of similar length into batches (less padding), batches still in seeded random order. */
  lengthBucketing?: boolean;
  /** Evaluate every N optimizer steps (and always at the end when `evaluate` is given). */
  evalSteps?: number;
  evaluate?: () => Promise<Record<string, number>> | Record<string, number>;
  /** Metric deciding the best model and early stopping (default 'accuracy'; 'loss' is minimised). */
  metricForBest?: string;
  greaterIsBetter?: boolean;
  /** Keep the best evaluated weights and load them at the end (default true when evaluating). */
  keepBest?: boolean;
  /** Stop when the metric has not improved for this many evaluations. */
  earlyStoppingPatience?: number;
  /** Output folder for checkpoints / log plot; no checkpoints when absent. */
  output?: string;
  /** Save a checkpoint every N optimizer steps (also at each evaluation and at the end of every epoch). */
  saveSteps?: number;
  resume?: boolean;
  progress?: ProgressReporter;
  kernels: Kernels;
  /** Extra settings that a resume must match (the CLI passes its data flags). */
  settings?: Record<string, unknown>;
  /** Stop (as if interrupted) after this many optimizer steps, checkpoint written; for tests and time-boxed runs. */
  stopAfterSteps?: number;
}

export interface TrainerResult {
  steps: number;
  totalSteps: number;
  epochsCompleted: number;
  lastLoss: number;
  bestMetric: number | null;
  bestStep: number | null;
  stoppedEarly: boolean;
  interrupted: boolean;
  examplesPerSecond: number;
  seconds: number;
  evals: EvalRecord[];
}

/** Thrown when the loss or the gradient norm becomes NaN/Inf; the last good checkpoint is left in place. */
export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/** The batches (lists of example indices) of one epoch, seeded by (seed, epoch) so a resume can rebuild them. */
export function epochBatches(
  size: number,
  batchSize: number,
  seed: number,
  epoch: number,
  lengthOf?: (i: number) => number,
): number[][] {
  const rng = new Rng((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  const order = permutation(size, rng);
  const batches: number[][] = [];
  if (!lengthOf) {
    for (let i = 0; i < size; i += batchSize) batches.push(order.slice(i, i + batchSize));
    return batches;
  }
  // Bucketing: sort chunks of 50 batches by length, cut into batches, then shuffle the batch order (the
  // "megabatch" trick of HF's LengthGroupedSampler), so padding is small but the order is still random.
  const mega = batchSize * 50;
  for (let i = 0; i < size; i += mega) {
    const chunk = order.slice(i, i + mega).sort((a, b) => lengthOf(b) - lengthOf(a));
    for (let j = 0; j < chunk.length; j += batchSize) batches.push(chunk.slice(j, j + batchSize));
  }
  return rng.shuffle(batches);
}

export class Trainer<B> {
  readonly optimizer: AdamW;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  private readonly params: readonly TrainerParameter[];
  private readonly accum: number;
  private readonly progress: ProgressReporter;
  private readonly fingerprint: string;

  constructor(
    private readonly model: TrainerModel<B>,
    private readonly data: TrainerDataset<B>,
    private readonly opts: TrainerOptions,
  ) {
    const posInt = (v: number, flag: string) => {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} must be a positive integer, got ${v}`);
    };
    posInt(opts.epochs, '--epochs');
    posInt(opts.batchSize, '--batch-size');
    this.accum = opts.gradAccum ?? 1;
    posInt(this.accum, '--grad-accum');
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw new Error(`--lr must be a positive number, got ${opts.lr}`);
    if (data.size === 0) throw new Error('the training set is empty');
    this.params = model.parameters();
    this.fingerprint = modelFingerprint(this.params);
    this.batchesPerEpoch = Math.ceil(data.size / opts.batchSize);
    this.stepsPerEpoch = Math.ceil(this.batchesPerEpoch / this.accum);
    this.totalSteps = this.stepsPerEpoch * opts.epochs;
    this.warmupSteps = opts.warmupSteps ?? warmupStepsFromRatio(opts.warmupRatio ?? 0, this.totalSteps);
    this.optimizer = new AdamW(this.params, { ...opts.optimizer }, opts.kernels);
    this.progress = opts.progress ?? new ProgressReporter();
  }

  /** What a resume must match: changing any of these would change the loss curve. */
  private settings(): Record<string, unknown> {
    const o = this.opts;
    return {
      epochs: o.epochs,
      batchSize: o.batchSize,
      gradAccum: this.accum,
      lr: o.lr,
      optimizer: o.optimizer,
      schedule: o.schedule,
      warmupSteps: this.warmupSteps,
      maxGradNorm: o.maxGradNorm ?? 1,
      seed: o.seed,
      lengthBucketing: Boolean(o.lengthBucketing),
      trainExamples: this.data.size,
      ...(o.settings ?? {}),
    };
  }

  private lrAt(step: number): number {
    return learningRateAt(
      { name: this.opts.schedule, lr: this.opts.lr, warmupSteps: this.warmupSteps, totalSteps: this.totalSteps },
      step,
    );
  }

  async train(): Promise<TrainerResult> {
    const o = this.opts;
    const metric = o.metricForBest ?? 'accuracy';
    const greater = o.greaterIsBetter ?? metric !== 'loss';
    const keepBest = o.keepBest ?? o.evaluate !== undefined;
    let step = 0;
    let epoch = 0;
    let batchInEpoch = 0;
    let rng = new Rng(o.seed);
    let bestMetric: number | null = null;
    let bestStep: number | null = null;
    let sinceBest = 0;
    let best: Float32Array[] | null = null;
    const lossHistory: { step: number; loss: number }[] = [];

    if (o.resume) {
      if (!o.output) throw new Error('--resume needs --output (the folder holding the checkpoint)');
      const ck = loadCheckpoint(o.output, this.fingerprint, this.settings());
      for (const p of this.params) {
        const saved = ck.params.get(p.name);
        if (!saved || saved.length !== p.data.length)
          throw new Error(`${ck.dir}: checkpoint lacks parameter ${p.name} or has another shape`);
        p.data.set(saved);
      }
      this.optimizer.load({ m: ck.m, v: ck.v, t: ck.state.optimizerT });
      const s = ck.state;
      step = s.step;
      epoch = s.epoch;
      batchInEpoch = s.batchInEpoch;
      rng = Rng.fromState(s.rngState);
      bestMetric = s.bestMetric;
      bestStep = s.bestStep;
      sinceBest = s.evalsWithoutImprovement;
      lossHistory.push(...s.history.steps);
      for (const e of s.history.evals) this.progress.evals.push(e);
      if (ck.best) best = this.params.map((p) => Float32Array.from(ck.best!.get(p.name) ?? p.data));
      this.progress.message(`resumed from ${ck.dir} at step ${step} (epoch ${epoch + 1}, batch ${batchInEpoch})`);
    }

    const saveNow = (): string | null => {
      if (!o.output) return null;
      const state: TrainerState = {
        version: CHECKPOINT_VERSION,
        step,
        epoch,
        batchInEpoch,
        optimizerT: this.optimizer.t,
        rngState: rng.state,
        seed: o.seed,
        bestMetric,
        bestStep,
        evalsWithoutImprovement: sinceBest,
        modelFingerprint: this.fingerprint,
        settings: this.settings(),
        history: { steps: lossHistory, evals: this.progress.evals },
      };
      const bestParams = best ? this.params.map((p, i) => ({ name: p.name, shape: p.shape, data: best![i]! })) : null;
      return saveCheckpoint(o.output, this.params, this.optimizer, state, 1, bestParams);
    };

    let stoppedEarly = false;
    let interrupted = false;
    const runEval = async (): Promise<void> => {
      if (!o.evaluate) return;
      const metrics = await o.evaluate();
      const rec = { step, epoch: step / this.stepsPerEpoch, metrics };
      this.progress.evaluation(rec);
      const v = metrics[metric];
      if (v === undefined)
        throw new Error(
          `evaluation returned no "${metric}" (got ${Object.keys(metrics).join(', ')}); pick another --metric`,
        );
      if (bestMetric === null || (greater ? v > bestMetric : v < bestMetric)) {
        bestMetric = v;
        bestStep = step;
        sinceBest = 0;
        if (keepBest) best = this.params.map((p) => Float32Array.from(p.data));
      } else {
        sinceBest++;
        if (o.earlyStoppingPatience !== undefined && sinceBest >= o.earlyStoppingPatience) stoppedEarly = true;
      }
    };

    const t0 = performance.now();
    let examplesSeen = 0;
    let lastLoss = Number.NaN;
    let lastEvalStep = -1;
    let lastSaveStep = step;
    outer: while (epoch < o.epochs) {
      const batches = epochBatches(
        this.data.size,
        o.batchSize,
        o.seed,
        epoch,
        o.lengthBucketing ? (i) => this.data.lengthOf(i) : undefined,
      );
      while (batchInEpoch < batches.length) {
        // One optimizer step over up to `accum` micro-batches (fewer at the end of an epoch, as HF does).
        const micro = batches.slice(batchInEpoch, batchInEpoch + this.accum);
        this.model.zeroGrad();
        let lossSum = 0;
        for (const idx of micro) {
          const batch = this.data.collate(idx);
          const loss = this.model.forwardLoss(batch, true, rng.nextUint32());
          if (!Number.isFinite(loss)) {
            const msg =
              `loss is ${loss} at step ${step + 1} (epoch ${epoch + 1}); stopping. ` +
              (o.output ? `The last good checkpoint is kept in ${join(o.output, 'checkpoints')}.` : '') +
              ' Lower --lr, add warmup or clipping.';
            this.progress.message(msg, { event: 'diverged', step: step + 1 });
            throw new TrainingDivergedError(msg, step + 1);
          }
          this.model.backward();
          lossSum += loss;
          examplesSeen += idx.length;
        }
        if (micro.length > 1) for (const p of this.params) o.kernels.scale(p.grad, p.grad.length, 1 / micro.length);
        const norm = clipGradNorm(this.params, o.maxGradNorm ?? 1, o.kernels);
        if (!Number.isFinite(norm)) {
          const msg =
            `gradient norm is ${norm} at step ${step + 1}; stopping without applying it` +
            (o.output ? ` (last good checkpoint kept in ${join(o.output, 'checkpoints')})` : '');
          this.progress.message(msg, { event: 'diverged', step: step + 1 });
          throw new TrainingDivergedError(msg, step + 1);
        }
        const lr = this.lrAt(step);
        this.optimizer.step(lr);
        step++;
        batchInEpoch += micro.length;
        lastLoss = lossSum / micro.length;
        lossHistory.push({ step, loss: lastLoss });
        const elapsed = (performance.now() - t0) / 1000;
        const rate = examplesSeen / Math.max(elapsed, 1e-9);
        const remainingExamples = (this.totalSteps - step) * this.accum * o.batchSize;
        this.progress.step({
          step,
          totalSteps: this.totalSteps,
          epoch: epoch + batchInEpoch / batches.length,
          loss: lastLoss,
          lr,
          examplesPerSecond: rate,
          etaSeconds: remainingExamples / Math.max(rate, 1e-9),
        });
        const epochDone = batchInEpoch >= batches.length;
        if (epochDone) {
          epoch++;
          batchInEpoch = 0;
        }
        let evaluated = false;
        if (o.evalSteps && step % o.evalSteps === 0 && step < this.totalSteps) {
          await runEval();
          lastEvalStep = step;
          evaluated = true;
        }
        const wantSave =
          evaluated ||
          epochDone ||
          (o.saveSteps !== undefined && step % o.saveSteps === 0) ||
          step === o.stopAfterSteps ||
          stoppedEarly;
        if (wantSave && step < this.totalSteps && o.output) {
          saveNow();
          lastSaveStep = step;
        }
        if (stoppedEarly) {
          this.progress.message(
            `early stopping at step ${step}: ${metric} has not improved for ${sinceBest} evaluations (best ${bestMetric} at step ${bestStep})`,
          );
          break outer;
        }
        if (o.stopAfterSteps !== undefined && step >= o.stopAfterSteps && step < this.totalSteps) {
          interrupted = true;
          break outer;
        }
        if (epochDone) break;
      }
    }
    if (!interrupted) {
      if (o.evaluate && lastEvalStep !== step) await runEval();
      if (o.output && lastSaveStep !== step) saveNow();
      if (keepBest && best) {
        this.params.forEach((p, i) => p.data.set(best![i]!));
        this.progress.message(`loaded the best model (${metric} ${bestMetric} at step ${bestStep})`);
      }
    }
    this.progress.finish();
    if (o.output) {
      mkdirSync(o.output, { recursive: true });
      writeFileAtomic(
        join(o.output, 'training_curve.svg'),
        trainingCurveSvg(lossHistory, this.progress.evals, `fine-tuning: ${this.totalSteps} steps`),
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      steps: step,
      totalSteps: this.totalSteps,
      epochsCompleted: epoch,
      lastLoss,
      bestMetric,
      bestStep,
      stoppedEarly,
      interrupted,
      examplesPerSecond: examplesSeen / Math.max(seconds, 1e-9),
      seconds,
      evals: this.progress.evals,
    };
  }
}
