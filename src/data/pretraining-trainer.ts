// The pre-training loop: shards -> batches -> MLM + NSP steps with AdamW, warmup + linear decay, accumulation,
// atomic checkpoints with exact resume, held-out evaluation, progress and a loss curve.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { copyTokenizerFiles } from '../io/files.js';
import { clipGradNorm } from '../train/clip.js';
import { AdamW } from '../train/optim.js';
import { learningRateAt } from '../train/schedule.js';
import {
  loadCheckpoint,
  modelFingerprint,
  saveCheckpoint,
  CHECKPOINT_VERSION,
  type TrainerState,
} from '../train/checkpoint.js';
import { ProgressReporter, trainingCurveSvg, type EvalRecord } from '../train/progress.js';
import { Rng } from '../train/rng.js';
import {
  maskDynamically,
  type MaskingOptions,
  type PretrainingInstance,
  type PretrainingVocab,
} from './pretraining.js';
import { collatePretraining, type PretrainingBert, type PretrainingStepOutput } from './pretraining-model.js';
import { readDataset, readDatasetManifest, readShard, type PretrainingDatasetManifest } from './shards.js';

/** Mixes numbers into a 32-bit seed. */
function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
  }
  return h;
}

/**
 * Instances of a dataset folder in a seeded order, epoch after epoch: shard order shuffled per epoch, one shard in
 * memory at a time with its instances shuffled. The position is (epoch, instances consumed in the epoch), which is
 * all a checkpoint needs to continue exactly. Dynamic-masking datasets are masked here, anew each epoch.
 */
export class PretrainingStream {
  readonly manifest: PretrainingDatasetManifest;
  epoch = 0;
  /** Instances consumed in the current epoch. */
  consumed = 0;
  private order: number[] = [];
  private shardCursor = 0;
  private loadedCursor = -1;
  private pendingOffset = 0;
  private current: PretrainingInstance[] = [];
  private perm: number[] = [];
  private offsetInShard = 0;
  private readonly shardBase: number[] = [];

  constructor(
    readonly dir: string,
    private readonly seed: number,
    private readonly vocab: PretrainingVocab,
    private readonly masking: MaskingOptions,
  ) {
    this.manifest = readDatasetManifest(dir);
    let base = 0;
    for (const s of this.manifest.shards) {
      this.shardBase.push(base);
      base += s.instances;
    }
    if (base === 0) throw new Error(`${dir}: the dataset holds no instances`);
    this.seek(0, 0);
  }

  get instancesPerEpoch(): number {
    return this.manifest.instances;
  }

  /** Moves to (epoch, instances consumed in it); a fresh start is (0, 0). */
  seek(epoch: number, consumed: number): void {
    this.epoch = epoch;
    this.consumed = consumed;
    this.order = new Rng(mix(this.seed, epoch, 1)).shuffle(this.manifest.shards.map((_, i) => i));
    let left = consumed;
    let k = 0;
    while (k < this.order.length && left >= this.manifest.shards[this.order[k]!]!.instances) {
      left -= this.manifest.shards[this.order[k]!]!.instances;
      k++;
    }
    this.shardCursor = k;
    this.loadedCursor = -1;
    this.pendingOffset = left;
  }

  next(): PretrainingInstance {
    for (;;) {
      if (this.shardCursor >= this.order.length) {
        this.seek(this.epoch + 1, 0);
        continue;
      }
      if (this.loadedCursor !== this.shardCursor) {
        const s = this.order[this.shardCursor]!;
        this.current = [...readShard(join(this.dir, this.manifest.shards[s]!.file))];
        this.perm = new Rng(mix(this.seed, this.epoch, 2, s)).shuffle(this.current.map((_, i) => i));
        this.loadedCursor = this.shardCursor;
        this.offsetInShard = this.pendingOffset;
        this.pendingOffset = 0;
      }
      if (this.offsetInShard < this.current.length) break;
      this.shardCursor++;
    }
    const s = this.order[this.shardCursor]!;
    const idx = this.perm[this.offsetInShard]!;
    this.offsetInShard++;
    this.consumed++;
    const inst = this.current[idx]!;
    if (this.manifest.masking === 'dynamic') {
      return maskDynamically(inst, this.vocab, this.masking, this.seed, this.epoch, this.shardBase[s]! + idx);
    }
    return inst;
  }
}

export interface PretrainOptions {
  model: PretrainingBert;
  vocab: PretrainingVocab;
  dataDir: string;
  outputDir: string;
  /** Held-out data folder (e.g. made from IMDb test text) for MLM loss/accuracy and NSP accuracy. */
  evalDataDir?: string;
  /** At most this many held-out instances per evaluation (default 2000). */
  evalInstances?: number;
  /** Evaluate every this many steps (0: only at the end). */
  evalEvery?: number;
  /** Sequences per optimizer step (split into gradAccumSteps micro-batches). */
  batchSize: number;
  gradAccumSteps?: number;
  lr: number;
  warmupSteps: number;
  /** Total optimizer steps; the linear decay reaches 0 there. */
  steps: number;
  weightDecay?: number;
  maxGradNorm?: number;
  adamEps?: number;
  seed?: number;
  /** Stop (checkpoint and save) after this many seconds of training in this process. */
  timeBudgetSeconds?: number;
  /** Checkpoint every this many steps (default 500) and at the end. */
  checkpointEvery?: number;
  /** Continue from outputDir/checkpoints (exactly: same data order, masks, dropout, optimizer state). */
  resume?: boolean;
  /** Tokenizer files copied next to the saved model. */
  vocabDir?: string;
  /** MLM head on every token instead of the masked ones (for comparison). */
  noGather?: boolean;
  progress?: ProgressReporter;
  /** Polled between steps: true stops like the time budget does (e.g. after SIGINT). */
  shouldStop?: () => boolean;
}

export interface PretrainEvaluation {
  mlm_loss: number;
  mlm_accuracy: number;
  nsp_loss: number;
  nsp_accuracy: number;
  /** Share of random-next pairs: the NSP accuracy of always answering "random" (the recipe's majority class). */
  nsp_random_fraction: number;
  instances: number;
}

export interface PretrainResult {
  steps: number;
  stoppedBy: 'steps' | 'time' | 'signal';
  /** Non-padding tokens per second over this process's training steps. */
  tokensPerSecond: number;
  finalLoss: number;
  evaluation: PretrainEvaluation | null;
  seconds: number;
}

/**
 * The first `limit` instances of a held-out dataset, in shard order. A dynamically masked dataset is masked once,
 * with a seed derived from `seed`, so that every evaluation of a run scores the same predictions.
 */
export function readEvalInstances(
  dir: string,
  limit: number,
  vocab: PretrainingVocab,
  seed: number,
): PretrainingInstance[] {
  const m = readDatasetManifest(dir);
  if (m.vocabSize !== vocab.size) {
    throw new Error(
      `${dir}: made with a vocabulary of ${m.vocabSize} tokens, the model's vocabulary has ${vocab.size}; use the same vocabulary`,
    );
  }
  const masking: MaskingOptions = {
    maskedLmProb: m.maskedLmProb,
    maxPredictions: m.maxPredictionsPerSeq,
    wholeWordMask: m.wholeWordMask,
  };
  const out: PretrainingInstance[] = [];
  for (const inst of readDataset(dir, m)) {
    if (out.length >= limit) break;
    out.push(m.masking === 'dynamic' ? maskDynamically(inst, vocab, masking, seed ^ 0x5eed, 0, out.length) : inst);
  }
  return out;
}

/** Held-out evaluation: MLM loss (mean over predicted positions) and accuracy, NSP loss and accuracy. */
export function evaluatePretraining(
  model: PretrainingBert,
  instances: readonly PretrainingInstance[],
  batchSize: number,
  padId: number,
): PretrainEvaluation {
  let mlmLossSum = 0;
  let mlmCorrect = 0;
  let mlmCount = 0;
  let nspLossSum = 0;
  let nspCorrect = 0;
  let nspCount = 0;
  let randomNext = 0;
  for (const x of instances) if (x.isRandomNext) randomNext++;
  for (let i = 0; i < instances.length; i += batchSize) {
    const batch = collatePretraining(instances.slice(i, i + batchSize), padId);
    const o: PretrainingStepOutput = model.forwardPretraining(batch, { train: false });
    mlmLossSum += o.mlmLoss * o.mlmCount;
    mlmCorrect += o.mlmCorrect;
    mlmCount += o.mlmCount;
    nspLossSum += o.nspLoss * o.nspCount;
    nspCorrect += o.nspCorrect;
    nspCount += o.nspCount;
  }
  return {
    mlm_loss: mlmLossSum / mlmCount,
    mlm_accuracy: mlmCorrect / mlmCount,
    nsp_loss: nspLossSum / nspCount,
    nsp_accuracy: nspCorrect / nspCount,
    nsp_random_fraction: randomNext / nspCount,
    instances: nspCount,
  };
}

function writeAtomicText(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Runs (or resumes) pre-training; saves a HF BertForPreTraining folder into outputDir at the end. */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const model = o.model;
  const accum = o.gradAccumSteps ?? 1;
  const seed = o.seed ?? 42;
  const checkpointEvery = o.checkpointEvery ?? 500;
  const evalEvery = o.evalEvery ?? 0;
  const progress = o.progress ?? new ProgressReporter({ logFile: join(o.outputDir, 'log.jsonl') });
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new RangeError(`--batch-size must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(accum) || accum < 1 || o.batchSize % accum !== 0) {
    throw new RangeError(`--grad-accum ${accum} must be a positive integer dividing --batch-size ${o.batchSize}`);
  }
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new RangeError(`--steps must be a positive integer, got ${o.steps}`);
  if (!(o.lr > 0)) throw new RangeError(`--lr must be > 0, got ${o.lr}`);
  mkdirSync(o.outputDir, { recursive: true });

  const m = readDatasetManifest(o.dataDir);
  if (m.vocabSize !== model.config.vocabSize) {
    throw new Error(
      `${o.dataDir}: made with a vocabulary of ${m.vocabSize} tokens, the model has vocab_size ${model.config.vocabSize}; use the same vocabulary`,
    );
  }
  if (m.maxSeqLength > model.config.maxPositionEmbeddings) {
    throw new Error(
      `${o.dataDir}: max_seq_length ${m.maxSeqLength} > the model's max_position_embeddings ${model.config.maxPositionEmbeddings}`,
    );
  }
  // Dynamic masking follows the dataset's own settings.
  const masking: MaskingOptions = {
    maskedLmProb: m.maskedLmProb,
    maxPredictions: m.maxPredictionsPerSeq,
    wholeWordMask: m.wholeWordMask,
  };
  const data = new PretrainingStream(o.dataDir, seed, o.vocab, masking);

  const evalSet = o.evalDataDir ? readEvalInstances(o.evalDataDir, o.evalInstances ?? 2000, o.vocab, seed) : null;

  const params = model.parameters();
  const optimizer = new AdamW(
    params,
    { name: 'adamw', eps: o.adamEps ?? 1e-6, weightDecay: o.weightDecay ?? 0.01 },
    model.kernels,
  );
  const fingerprint = modelFingerprint(params);
  const settings: Record<string, unknown> = {
    batchSize: o.batchSize,
    gradAccumSteps: accum,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    steps: o.steps,
    weightDecay: o.weightDecay ?? 0.01,
    maxGradNorm: o.maxGradNorm ?? 1,
    seed,
    dataInstances: m.instances,
    gather: !o.noGather,
  };
  let step = 0;
  let history: TrainerState['history'] = { steps: [], evals: [] };
  if (o.resume) {
    const ck = loadCheckpoint(o.outputDir, fingerprint, settings);
    for (const p of params) {
      const v = ck.params.get(p.name);
      if (!v || v.length !== p.data.length)
        throw new Error(`${ck.dir}: parameter ${p.name} missing or of another size`);
      p.data.set(v);
    }
    optimizer.load({ m: ck.m, v: ck.v, t: ck.state.optimizerT });
    model.trainForwards = ck.state.rngState;
    step = ck.state.step;
    history = ck.state.history;
    data.seek(ck.state.epoch, ck.state.batchInEpoch);
    progress.message(`resumed from ${ck.dir} at step ${step}`);
  }
  const startStep = step;
  // Dropout masks follow the run's seed (saved in the checkpoint settings), not the model object's.
  model.dropoutSeed = seed;

  const saveState = (): void => {
    const state: TrainerState = {
      version: CHECKPOINT_VERSION,
      step,
      epoch: data.epoch,
      batchInEpoch: data.consumed,
      optimizerT: optimizer.t,
      rngState: model.trainForwards,
      seed,
      bestMetric: null,
      bestStep: null,
      evalsWithoutImprovement: 0,
      modelFingerprint: fingerprint,
      settings,
      history,
    };
    saveCheckpoint(
      o.outputDir,
      params.map((p) => ({ name: p.name, shape: p.shape, data: p.data })),
      { m: optimizer.m, v: optimizer.v },
      state,
    );
  };
  const runEval = (): PretrainEvaluation | null => {
    if (!evalSet || evalSet.length === 0) return null;
    const e = evaluatePretraining(model, evalSet, Math.max(8, o.batchSize / accum), o.vocab.padId);
    const rec: EvalRecord = { step, epoch: data.epoch + data.consumed / data.instancesPerEpoch, metrics: { ...e } };
    history.evals.push(rec);
    progress.evaluation(rec);
    return e;
  };

  const micro = o.batchSize / accum;
  const t0 = Date.now();
  let tokens = 0;
  let stoppedBy: PretrainResult['stoppedBy'] = 'steps';
  let lastLoss = NaN;
  let evaluation: PretrainEvaluation | null = null;
  while (step < o.steps) {
    if (o.timeBudgetSeconds !== undefined && (Date.now() - t0) / 1000 >= o.timeBudgetSeconds) {
      stoppedBy = 'time';
      break;
    }
    if (o.shouldStop?.()) {
      stoppedBy = 'signal';
      break;
    }
    model.zeroGrad();
    let loss = 0;
    for (let a = 0; a < accum; a++) {
      const insts: PretrainingInstance[] = [];
      for (let i = 0; i < micro; i++) insts.push(data.next());
      for (const x of insts) tokens += x.inputIds.length;
      const batch = collatePretraining(insts, o.vocab.padId);
      const out = model.forwardPretraining(batch, { train: true, gather: !o.noGather });
      model.backward();
      loss += out.loss / accum;
    }
    // Gradients of the mean over the micro-batches, as the fine-tuning Trainer averages them.
    if (accum > 1) for (const p of params) model.kernels.scale(p.grad, p.grad.length, 1 / accum);
    if (!Number.isFinite(loss))
      throw new Error(`pre-training diverged at step ${step + 1} (loss ${loss}); lower --lr or raise --warmup-steps`);
    clipGradNorm(params, o.maxGradNorm ?? 1, model.kernels);
    const lr = learningRateAt({ name: 'linear', lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps }, step);
    optimizer.step(lr);
    step++;
    lastLoss = loss;
    history.steps.push({ step, loss });
    const elapsed = (Date.now() - t0) / 1000;
    const done = step - startStep;
    progress.step({
      step,
      totalSteps: o.steps,
      epoch: data.epoch + data.consumed / data.instancesPerEpoch,
      loss,
      lr,
      examplesPerSecond: (done * o.batchSize) / Math.max(elapsed, 1e-9),
      etaSeconds: ((o.steps - step) * elapsed) / Math.max(1, done),
    });
    if (evalEvery > 0 && step % evalEvery === 0 && step < o.steps) evaluation = runEval();
    if (step % checkpointEvery === 0 && step < o.steps) saveState();
  }
  const seconds = (Date.now() - t0) / 1000;
  progress.finish();
  evaluation = runEval() ?? evaluation;
  saveState();
  await model.save(o.outputDir);
  if (o.vocabDir) {
    copyTokenizerFiles(o.vocabDir, o.outputDir);
  }
  writeAtomicText(
    join(o.outputDir, 'training_curve.svg'),
    trainingCurveSvg(history.steps, history.evals, 'pre-training: MLM + NSP loss'),
  );
  const result: PretrainResult = {
    steps: step,
    stoppedBy,
    tokensPerSecond: tokens / Math.max(seconds, 1e-9),
    finalLoss: lastLoss,
    evaluation,
    seconds,
  };
  writeAtomicText(join(o.outputDir, 'pretrain_results.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}
