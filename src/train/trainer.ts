// The one training loop (fine-tuning and pre-training): sampled micro-batches, accumulation, clipping, schedules,
// evaluation, the training state (resume), stop hook and time budget, one divergence rule.
import type { Kernels } from '../tensor/kernels.js';
import type { Sampler } from '../data/samplers.js';
import { clipGradNorm } from './clip.js';
import { AdamW, type OptimizerOptions } from './optim.js';
import { learningRateAt, warmupStepsFromRatio, type ScheduleName } from './schedule.js';
import {
  TRAINING_STATE_VERSION,
  loadTrainingState,
  modelFingerprint,
  saveTrainingState,
  type TrainingState,
} from './training-state.js';
import { ProgressReporter, trainingCurveSvg } from './progress.js';
import type { EvalRecord } from './progress.js';
import { writeFileAtomic } from '../io/files.js';
import { GradientBuckets, checkReplicasAgree, flatSpan, getDistributed, type Distributed } from './distributed.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** A parameter as the trainer sees it: HF name, shape, values and gradient (views into the model's buffers). */
export interface TrainerParameter {
  name: string;
  shape: readonly number[];
  data: Float32Array;
  grad: Float32Array;
}

/** One term of a loss: its value (a mean) and the count it is a mean over (examples, labelled or masked tokens). */
export interface LossTerm {
  loss: number;
  count: number;
}

/** Loss terms a data-parallel step combines at most (pre-training's MLM and NSP). */
const MAX_LOSS_TERMS = 2;

/** What the trainer needs from a model. `forwardLoss` must keep what `backward` needs (llm.c style). */
export interface TrainerModel<B> {
  /**
   * Forward pass with loss; returns the mean loss of the batch. With `train`, dropout is on and `forwardIndex` (1, 2,
   * ... over the whole run, saved in the training state) picks its masks, so that a resumed run draws the same ones;
   * they are drawn per example, `firstExample` being the index of the batch's first example in the micro-batch (a
   * data-parallel rank's share starts there), so that they do not depend on the number of ranks.
   */
  forwardLoss(batch: B, train: boolean, forwardIndex: number, firstExample: number): number;
  /**
   * Accumulates d(mean loss)/d(param) of the last forward into the gradients (+=). `ready`, when given, is called as
   * parts of the gradient buffer become final: with the byte offset from which every gradient is final (after each
   * encoder layer), so that data parallelism reduces them while backward goes on. Models may ignore it.
   */
  backward(ready?: (byteOffset: number) => void): void;
  zeroGrad(): void;
  parameters(): readonly TrainerParameter[];
  /** The seed the model mixes with `forwardIndex` for its dropout masks; a resume must use the same. */
  readonly seed?: number;
  /**
   * Data parallelism: the last forward's loss as terms, each a mean over its own count (fine-tuning: one term over
   * the labels; pre-training: MLM over masked tokens, NSP over sequences). Default: one term over the examples.
   */
  lossTerms?(): readonly LossTerm[];
  /**
   * Multiplies each term's gradient of the last forward by its factor, before backward(). Required when lossTerms
   * gives several terms; with one term and no scaleLossTerms, the Trainer scales the gradients after backward().
   */
  scaleLossTerms?(factors: readonly number[]): void;
}

export interface TrainerOptions {
  /** Passes over the data (the sampler must cut epochs into whole batches); the run's length unless maxSteps is given. */
  epochs?: number;
  /** Optimizer steps of the run; overrides epochs (as HF's max_steps). The schedule reaches its end there. */
  maxSteps?: number;
  /** Micro-batches per optimizer step (gradients averaged over them; fewer at the end of an epoch, as HF does). */
  gradAccum?: number;
  lr: number;
  optimizer: OptimizerOptions;
  schedule: ScheduleName;
  warmupRatio?: number;
  /** Overrides warmupRatio when given. */
  warmupSteps?: number;
  /** Global gradient-norm clipping (HF default 1.0); 0 disables. */
  maxGradNorm?: number;
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
  /** Output folder for the training state and the curve; none written when absent. */
  output?: string;
  /** Write the training state every N optimizer steps (also at each evaluation, epoch end, stop and the end). */
  saveSteps?: number;
  /** Continue from the training state in `output`. */
  resume?: boolean;
  progress?: ProgressReporter;
  kernels: Kernels;
  /** Extra settings that a resume must match (e.g. the data a library function read). */
  settings?: Record<string, unknown>;
  /** Polled before each step with the steps done: true stops the run, resumably (training state written). */
  shouldStop?: (step: number) => boolean;
  /** Stops the run like `shouldStop` after this many seconds of training in this process. */
  timeBudgetSeconds?: number;
  /** Title of training_curve.svg (default "training: N steps"). */
  curveTitle?: string;
  /**
   * Data parallelism (default {@link getDistributed}: MPI under an MPI launcher, else one process). Each rank takes a
   * contiguous share of every micro-batch; rank 0 alone writes progress, the training state and the curve.
   */
  distributed?: Distributed;
  /** Under data parallelism, check that the replicas agree every N optimizer steps (default 100; also at the end). */
  replicaCheckSteps?: number;
}

/** Why a run ended: all its steps, early stopping, or resumably by the time budget or the stop hook. */
export type StopReason = 'steps' | 'early-stopping' | 'time' | 'stop';

export interface TrainerResult {
  steps: number;
  totalSteps: number;
  epochsCompleted: number;
  lastLoss: number;
  bestMetric: number | null;
  bestStep: number | null;
  stoppedBy: StopReason;
  examplesPerSecond: number;
  /** Non-padding tokens per second over this process's training steps. */
  tokensPerSecond: number;
  /** Seconds of training steps (and their evaluations) in this process. */
  seconds: number;
  /** Of which: seconds this rank spent in the gradient all-reduce that backward did not hide (0 for one process). */
  communicationSeconds: number;
  evals: EvalRecord[];
}

/** Thrown when the loss or the gradient norm becomes NaN/Inf; the last good training state is left in place. */
export class TrainingDivergedError extends Error {
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

function positiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value <= 0)
    throw new RangeError(`Trainer: ${name} must be a positive integer, got ${value}`);
}

export class Trainer<B> {
  readonly optimizer: AdamW;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  private readonly params: readonly TrainerParameter[];
  private readonly accum: number;
  private readonly progress: ProgressReporter;
  private readonly fingerprint: string;
  private readonly dist: Distributed;
  /** The flat gradient buffer one all-reduce covers (null: the gradients are reduced one by one). */
  private readonly flatGrad: Float32Array | null;
  /** Buckets of the flat buffer reduced during backward (data parallelism with overlap, without accumulation). */
  private readonly buckets: GradientBuckets | null;
  /** Seconds in blocking gradient all-reduces (without overlap). */
  private blockingCommSeconds = 0;
  /** Data parallelism with gradient accumulation: the weighted sum of the step's micro-batch gradients. */
  private accumGrad: Float32Array[] | null = null;

  constructor(
    private readonly model: TrainerModel<B>,
    private readonly sampler: Sampler<B>,
    private readonly opts: TrainerOptions,
  ) {
    this.accum = opts.gradAccum ?? 1;
    positiveInteger(this.accum, 'gradAccum');
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr))
      throw new RangeError(`Trainer: lr must be a positive number, got ${opts.lr}`);
    if (opts.maxSteps !== undefined) {
      positiveInteger(opts.maxSteps, 'maxSteps');
      this.totalSteps = opts.maxSteps;
    } else if (opts.epochs !== undefined) {
      positiveInteger(opts.epochs, 'epochs');
      if (sampler.batchesPerEpoch === undefined)
        throw new RangeError('Trainer: this sampler has no whole-batch epochs; size the run with maxSteps');
      this.totalSteps = Math.ceil(sampler.batchesPerEpoch / this.accum) * opts.epochs;
    } else {
      throw new RangeError('Trainer: give epochs or maxSteps (the length of the run)');
    }
    this.params = model.parameters();
    this.dist = opts.distributed ?? getDistributed();
    if (this.dist.size > 1 && !sampler.nextShare)
      throw new RangeError(
        `Trainer: data-parallel training over ${this.dist.size} ranks needs a sampler that can share out its batches (nextShare)`,
      );
    this.flatGrad = this.dist.size > 1 ? flatSpan(this.params.map((p) => p.grad)) : null;
    // With accumulation, the micro-batches' gradients are summed first and reduced once per step (no overlap).
    this.buckets =
      this.flatGrad && this.dist.overlap !== 'off' && this.accum === 1
        ? new GradientBuckets(this.dist, this.flatGrad, (span, f) => opts.kernels.scale(span, span.length, f))
        : null;
    this.fingerprint = modelFingerprint(this.params);
    this.warmupSteps = opts.warmupSteps ?? warmupStepsFromRatio(opts.warmupRatio ?? 0, this.totalSteps);
    this.optimizer = new AdamW(this.params, { ...opts.optimizer }, opts.kernels);
    // Rank 0 speaks for the job; the other ranks keep the records (evaluations, history) silently.
    this.progress =
      this.dist.rank === 0
        ? (opts.progress ?? new ProgressReporter())
        : new ProgressReporter({ stream: { write: () => true }, tty: false });
  }

  /** Sums the gradients over the ranks (one all-reduce on the flat buffer when the gradients tile one). */
  private allreduceGradients(): void {
    const t0 = performance.now();
    if (this.flatGrad) this.dist.allreduceSum(this.flatGrad);
    else for (const p of this.params) this.dist.allreduceSum(p.grad);
    this.blockingCommSeconds += (performance.now() - t0) / 1000;
  }

  /**
   * One data-parallel micro-batch: this rank's share forward and backward, the loss terms summed over the ranks, and
   * the gradient weighted by this rank's share of each term's count, so that the ranks' gradients sum to the gradient
   * of the one-process mean loss. Returns that loss and the whole micro-batch's examples and tokens.
   */
  private distributedMicroStep(
    trainForwards: number,
    micro: number,
    step: number,
    epoch: number,
  ): { loss: number; globalExamples: number; globalTokens: number; lastOfEpoch: boolean } {
    const sampled = this.sampler.nextShare?.(this.dist.rank, this.dist.size);
    if (!sampled) throw new Error('Trainer: the sampler lost nextShare');
    // Counts and weighted sums of each term, then tokens, over the ranks: [count0, loss0 * count0, ..., tokens].
    const sums = new Float64Array(2 * MAX_LOSS_TERMS + 1);
    sums[2 * MAX_LOSS_TERMS] = sampled.tokens;
    let terms: readonly LossTerm[] = [];
    if (sampled.batch !== null) {
      // Masks per example: this share's examples draw what they would in the one-process micro-batch.
      const loss = this.model.forwardLoss(sampled.batch, true, trainForwards, sampled.firstExample);
      terms = this.model.lossTerms?.() ?? [{ loss, count: sampled.examples }];
      if (terms.length > MAX_LOSS_TERMS || (terms.length > 1 && !this.model.scaleLossTerms))
        throw new Error(`Trainer: a loss of ${terms.length} terms needs scaleLossTerms (at most ${MAX_LOSS_TERMS})`);
      terms.forEach((t, i) => {
        sums[2 * i] = t.count;
        sums[2 * i + 1] = t.count > 0 ? t.loss * t.count : 0;
      });
    }
    this.dist.allreduceSum(sums);
    let loss = 0;
    const weights: number[] = [];
    for (let i = 0; i < MAX_LOSS_TERMS; i++) {
      const count = sums[2 * i] ?? 0;
      if (count > 0) loss += (sums[2 * i + 1] ?? 0) / count;
      weights.push(count > 0 ? (terms[i]?.count ?? 0) / count : 0);
    }
    // Checked on the sum, so that every rank sees a non-finite loss of any rank and stops alike.
    if (!Number.isFinite(loss)) throw this.diverged(`loss is ${loss}`, step + 1, epoch);
    const accumulate = this.accum > 1;
    if (accumulate) this.model.zeroGrad();
    const buckets = this.buckets;
    buckets?.begin();
    if (sampled.batch !== null) {
      const ready = buckets ? (byteOffset: number) => buckets.ready(byteOffset) : undefined;
      const w = weights[0] ?? 0;
      if (this.model.scaleLossTerms) {
        this.model.scaleLossTerms(weights);
        this.model.backward(ready);
      } else if (buckets) {
        // Each bucket is weighted just before its reduction starts.
        buckets.factor = w;
        this.model.backward(ready);
      } else {
        this.model.backward();
        if (w !== 1) for (const p of this.params) this.opts.kernels.scale(p.grad, p.grad.length, w);
      }
    }
    // Every rank (an empty share too) starts the same buckets in the same order.
    buckets?.finish();
    if (accumulate) {
      // backward() adds into the gradients, so each micro-batch is weighted on its own and summed here.
      this.accumGrad ??= this.params.map((p) => new Float32Array(p.grad.length));
      this.params.forEach((p, k) => {
        const acc = this.accumGrad?.[k];
        if (!acc) return;
        if (micro === 0) acc.fill(0);
        if (sampled.batch !== null) this.opts.kernels.add(acc, p.grad, acc.length);
      });
    }
    return {
      loss,
      globalExamples: sampled.globalExamples,
      globalTokens: sums[2 * MAX_LOSS_TERMS] ?? 0,
      lastOfEpoch: sampled.lastOfEpoch,
    };
  }

  /** What a resume must match: changing any of these would change the loss curve. */
  private settings(): Record<string, unknown> {
    const o = this.opts;
    return {
      epochs: o.maxSteps === undefined ? o.epochs : null,
      maxSteps: o.maxSteps ?? null,
      gradAccum: this.accum,
      lr: o.lr,
      optimizer: o.optimizer,
      schedule: o.schedule,
      warmupSteps: this.warmupSteps,
      maxGradNorm: o.maxGradNorm ?? 1,
      modelSeed: this.model.seed ?? null,
      ...this.sampler.settings,
      ...(o.settings ?? {}),
    };
  }

  private lrAt(step: number): number {
    return learningRateAt(
      { name: this.opts.schedule, lr: this.opts.lr, warmupSteps: this.warmupSteps, totalSteps: this.totalSteps },
      step,
    );
  }

  private diverged(what: string, step: number, epoch: number): TrainingDivergedError {
    const kept = this.opts.output
      ? ` The last good training state is kept in ${join(this.opts.output, 'checkpoints')}.`
      : '';
    const msg = `${what} at step ${step} (epoch ${epoch}); stopping without applying it.${kept} Lower the learning rate, add warmup or clipping.`;
    this.progress.message(msg, { event: 'diverged', step });
    return new TrainingDivergedError(msg, step);
  }

  async train(): Promise<TrainerResult> {
    const o = this.opts;
    const metric = o.metricForBest ?? 'accuracy';
    const greater = o.greaterIsBetter ?? metric !== 'loss';
    const keepBest = o.keepBest ?? o.evaluate !== undefined;
    let step = 0;
    let trainForwards = 0;
    let bestMetric: number | null = null;
    let bestStep: number | null = null;
    let sinceBest = 0;
    let best: Float32Array[] | null = null;
    const lossHistory: { step: number; loss: number }[] = [];

    if (o.resume) {
      if (!o.output) throw new Error('Trainer: resume needs the output folder that holds the training state');
      const ck = loadTrainingState(o.output, this.fingerprint, this.settings());
      for (const p of this.params) {
        const saved = ck.params.get(p.name);
        if (!saved || saved.length !== p.data.length)
          throw new Error(`${ck.dir}: the training state lacks parameter ${p.name} or has another shape`);
        p.data.set(saved);
      }
      this.optimizer.load({ m: ck.m, v: ck.v, t: ck.state.optimizerT });
      const s = ck.state;
      step = s.step;
      this.sampler.seek(s.position);
      trainForwards = s.trainForwards;
      bestMetric = s.bestMetric;
      bestStep = s.bestStep;
      sinceBest = s.evalsWithoutImprovement;
      lossHistory.push(...s.history.steps);
      for (const e of s.history.evals) this.progress.evals.push(e);
      const savedBest = ck.best;
      if (savedBest) best = this.params.map((p) => Float32Array.from(savedBest.get(p.name) ?? p.data));
      this.progress.message(`resumed from ${ck.dir} at step ${step} (epoch ${s.position.epoch + 1})`);
    }

    const saveNow = (): void => {
      if (!o.output || this.dist.rank !== 0) return;
      const state: TrainingState = {
        version: TRAINING_STATE_VERSION,
        step,
        position: this.sampler.position(),
        trainForwards,
        optimizerT: this.optimizer.t,
        bestMetric,
        bestStep,
        evalsWithoutImprovement: sinceBest,
        modelFingerprint: this.fingerprint,
        settings: this.settings(),
        history: { steps: lossHistory, evals: this.progress.evals },
      };
      const bestCopy = best;
      const bestParams = bestCopy
        ? this.params.map((p, i) => ({ name: p.name, shape: p.shape, data: bestCopy[i] ?? p.data }))
        : null;
      saveTrainingState(o.output, this.params, this.optimizer, state, 1, bestParams);
    };

    let stoppedBy: StopReason = 'steps';
    let earlyStop = false;
    const runEval = async (): Promise<void> => {
      if (!o.evaluate) return;
      const metrics = await o.evaluate();
      const rec = { step, epoch: this.sampler.epochProgress(), metrics };
      this.progress.evaluation(rec);
      const v = metrics[metric];
      if (v === undefined)
        throw new Error(
          `evaluation returned no "${metric}" (got ${Object.keys(metrics).join(', ')}); choose another metricForBest`,
        );
      if (bestMetric === null || (greater ? v > bestMetric : v < bestMetric)) {
        bestMetric = v;
        bestStep = step;
        sinceBest = 0;
        if (keepBest) best = this.params.map((p) => Float32Array.from(p.data));
      } else {
        sinceBest++;
        if (o.earlyStoppingPatience !== undefined && sinceBest >= o.earlyStoppingPatience) earlyStop = true;
      }
    };

    const t0 = performance.now();
    const startStep = step;
    let examplesSeen = 0;
    let tokensSeen = 0;
    let lastLoss = Number.NaN;
    let lastEvalStep = -1;
    let lastSaveStep = step;
    while (step < this.totalSteps) {
      // Rank 0 reads the clock and the stop hook, so that every rank stops at the same step.
      let stopNow: number = 0;
      if (this.dist.rank === 0) {
        if (o.timeBudgetSeconds !== undefined && (performance.now() - t0) / 1000 >= o.timeBudgetSeconds) stopNow = 1;
        else if (o.shouldStop?.(step)) stopNow = 2;
      }
      if (this.dist.size > 1) {
        const flag = new Float64Array([stopNow]);
        this.dist.allreduceSum(flag);
        stopNow = flag[0] ?? 0;
      }
      if (stopNow !== 0) {
        stoppedBy = stopNow === 1 ? 'time' : 'stop';
        break;
      }
      // One optimizer step over up to `accum` micro-batches (fewer at the end of an epoch, as HF does).
      this.model.zeroGrad();
      const epoch = Math.floor(this.sampler.epochProgress()) + 1;
      let lossSum = 0;
      let micro = 0;
      let epochDone = false;
      while (this.dist.size > 1 && micro < this.accum && !epochDone) {
        trainForwards++;
        const share = this.distributedMicroStep(trainForwards, micro, step, epoch);
        lossSum += share.loss;
        micro++;
        examplesSeen += share.globalExamples;
        tokensSeen += share.globalTokens;
        epochDone = share.lastOfEpoch;
      }
      while (this.dist.size === 1 && micro < this.accum && !epochDone) {
        const sampled = this.sampler.next();
        trainForwards++;
        const loss = this.model.forwardLoss(sampled.batch, true, trainForwards, 0);
        if (!Number.isFinite(loss)) throw this.diverged(`loss is ${loss}`, step + 1, epoch);
        this.model.backward();
        lossSum += loss;
        micro++;
        examplesSeen += sampled.examples;
        tokensSeen += sampled.tokens;
        epochDone = sampled.lastOfEpoch;
      }
      if (this.dist.size > 1 && !this.buckets) {
        const acc = this.accumGrad;
        if (this.accum > 1 && acc) this.params.forEach((p, k) => p.grad.set(acc[k] ?? p.grad));
        this.allreduceGradients();
      }
      if (micro > 1) for (const p of this.params) o.kernels.scale(p.grad, p.grad.length, 1 / micro);
      const norm = clipGradNorm(this.params, o.maxGradNorm ?? 1, o.kernels);
      if (!Number.isFinite(norm)) throw this.diverged(`gradient norm is ${norm}`, step + 1, epoch);
      const lr = this.lrAt(step);
      this.optimizer.step(lr);
      step++;
      if (this.dist.size > 1 && step % (o.replicaCheckSteps ?? 100) === 0)
        checkReplicasAgree(
          this.dist,
          this.params.map((p) => p.data),
          step,
        );
      lastLoss = lossSum / micro;
      lossHistory.push({ step, loss: lastLoss });
      const elapsed = (performance.now() - t0) / 1000;
      this.progress.step({
        step,
        totalSteps: this.totalSteps,
        epoch: this.sampler.epochProgress(),
        loss: lastLoss,
        lr,
        examplesPerSecond: examplesSeen / Math.max(elapsed, 1e-9),
        etaSeconds: ((this.totalSteps - step) * elapsed) / Math.max(1, step - startStep),
      });
      let evaluated = false;
      if (o.evalSteps && step % o.evalSteps === 0 && step < this.totalSteps) {
        await runEval();
        lastEvalStep = step;
        evaluated = true;
      }
      const wantSave = evaluated || epochDone || (o.saveSteps !== undefined && step % o.saveSteps === 0) || earlyStop;
      if (wantSave && step < this.totalSteps && o.output) {
        saveNow();
        lastSaveStep = step;
      }
      if (earlyStop) {
        this.progress.message(
          `early stopping at step ${step}: ${metric} has not improved for ${sinceBest} evaluations (best ${bestMetric} at step ${bestStep})`,
        );
        stoppedBy = 'early-stopping';
        break;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    this.progress.finish();
    if (stoppedBy === 'time' || stoppedBy === 'stop') {
      // A resumable stop: the state to continue from, but no final evaluation and no best-model swap.
      if (o.output && lastSaveStep !== step) saveNow();
      this.progress.message(
        `stopped at step ${step} of ${this.totalSteps} (${stoppedBy === 'time' ? 'time budget' : 'stop requested'}); resume continues from here`,
      );
    } else {
      if (o.evaluate && lastEvalStep !== step) await runEval();
      if (o.output && lastSaveStep !== step) saveNow();
      const bestCopy = best;
      if (keepBest && bestCopy) {
        this.params.forEach((p, i) => p.data.set(bestCopy[i] ?? p.data));
        this.progress.message(`loaded the best model (${metric} ${bestMetric} at step ${bestStep})`);
      }
    }
    checkReplicasAgree(
      this.dist,
      this.params.map((p) => p.data),
      step,
    );
    if (o.output && this.dist.rank === 0) {
      mkdirSync(o.output, { recursive: true });
      writeFileAtomic(
        join(o.output, 'training_curve.svg'),
        trainingCurveSvg(lossHistory, this.progress.evals, o.curveTitle ?? `training: ${this.totalSteps} steps`),
      );
    }
    return {
      steps: step,
      totalSteps: this.totalSteps,
      epochsCompleted: this.sampler.position().epoch,
      lastLoss,
      bestMetric,
      bestStep,
      stoppedBy,
      examplesPerSecond: examplesSeen / Math.max(seconds, 1e-9),
      tokensPerSecond: tokensSeen / Math.max(seconds, 1e-9),
      seconds,
      communicationSeconds: (this.buckets?.seconds ?? 0) + this.blockingCommSeconds,
      evals: this.progress.evals,
    };
  }
}
