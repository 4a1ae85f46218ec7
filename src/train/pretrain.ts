// pretrain(options): MLM + NSP pre-training of BertForPreTraining on shard folders through the Trainer; writes a HF folder.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';
import { BertForPreTraining } from '../model/bert.js';
import type { ConfigJson } from '../model/config.js';
import { copyTokenizerFiles, readJsonFile, writeFileAtomic } from '../io/files.js';
import { readPretrainingVocab, type MaskingOptions } from '../data/pretraining.js';
import { readDatasetManifest } from '../data/shards.js';
import { Trainer, type StopReason } from './trainer.js';
import { ProgressReporter } from './progress.js';
import { getDistributed, rankProgress } from './distributed.js';
import { PretrainingStream } from './pretrain-stream.js';
import { loadPretrainingModel, pretrainingTrainerModel } from './pretrain-model.js';
import { evaluatePretraining, readEvalInstances, type PretrainEvaluation } from './pretrain-eval.js';

/** Google's BERT miniature sizes (Turc et al. 2019); intermediate = 4 x hidden, heads = hidden / 64. */
export const PRETRAIN_PRESETS = {
  tiny: { layers: 2, hidden: 128 },
  mini: { layers: 4, hidden: 256 },
  small: { layers: 4, hidden: 512 },
  medium: { layers: 8, hidden: 512 },
  base: { layers: 12, hidden: 768 },
} as const;
export type PretrainPreset = keyof typeof PRETRAIN_PRESETS;

export function isPretrainPreset(name: string): name is PretrainPreset {
  return Object.hasOwn(PRETRAIN_PRESETS, name);
}

/** The config.json fields of a preset size (vocab_size and pad_token_id come from the vocabulary). */
export function presetConfig(preset: PretrainPreset): ConfigJson {
  const { layers, hidden } = PRETRAIN_PRESETS[preset];
  return {
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: hidden / 64,
    intermediate_size: hidden * 4,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    layer_norm_eps: 1e-12,
  };
}

export interface PretrainOptions {
  /**
   * The model to train from scratch: a preset size, the path of a config.json, or config fields (vocab_size is the
   * vocabulary's). Exactly one of `config` and `initFrom`.
   */
  config?: PretrainPreset | string | ConfigJson;
  /** A model folder to start from (BertForPreTraining or BertModel weights; missing heads are initialised). */
  initFrom?: string;
  /** Training shards (a folder with dataset.json, from createPretrainingData). */
  dataDir: string;
  /** The tokenizer folder (or its vocab.txt) the data was made with; its files are copied into the output. */
  vocab: string;
  /** Model folder written at the end; also holds checkpoints/ (the training state), log.jsonl, the curve and results. */
  outputDir: string;
  /** Held-out shards (e.g. made from IMDb test text) for MLM loss/accuracy and NSP accuracy. */
  evalDataDir?: string;
  /** At most this many held-out instances per evaluation (default 2000). */
  evalInstances?: number;
  /** Evaluate every this many steps (default 0: only at the end). */
  evalEvery?: number;
  /** Sequences per optimizer step (split into gradAccumSteps micro-batches). */
  batchSize: number;
  gradAccumSteps?: number;
  lr: number;
  /** Linear warmup steps (default 10% of steps). */
  warmupSteps?: number;
  /** Total optimizer steps; the linear decay reaches 0 there. */
  steps: number;
  weightDecay?: number;
  maxGradNorm?: number;
  adamEps?: number;
  /** Seed of initialisation, data order, dynamic masks and dropout (default 42). */
  seed?: number;
  /** Stop (resumably, model saved) after this many seconds of training in this process. */
  timeBudgetSeconds?: number;
  /** Write the training state every this many steps (default 500) and at the end. */
  checkpointEvery?: number;
  /** Continue from outputDir/checkpoints (exactly: same data order, masks, dropout, optimizer state). */
  resume?: boolean;
  /** false: MLM head on every token instead of the masked ones (as HF; for comparison). Default true. */
  gather?: boolean;
  kernels?: Kernels;
  progress?: ProgressReporter;
  /** Polled between steps: true stops like the time budget does (e.g. after SIGINT). */
  shouldStop?: () => boolean;
}

export interface PretrainResult {
  steps: number;
  stoppedBy: StopReason;
  /** Non-padding tokens per second over this process's training steps. */
  tokensPerSecond: number;
  finalLoss: number;
  evaluation: PretrainEvaluation | null;
  seconds: number;
}

function buildModel(o: PretrainOptions, vocabSize: number, padId: number, seed: number, kernels: Kernels) {
  if ((o.config === undefined) === (o.initFrom === undefined))
    throw new Error(
      'pretrain: give exactly one of config (a preset, config.json or fields) and initFrom (a model folder)',
    );
  if (o.initFrom !== undefined) return loadPretrainingModel(o.initFrom, { kernels, seed });
  const c = o.config ?? {};
  let config: ConfigJson;
  if (typeof c !== 'string') config = c;
  else if (isPretrainPreset(c)) config = { ...presetConfig(c), pad_token_id: padId };
  else if (existsSync(c) && statSync(c).isFile()) config = readJsonFile(c, 'config.json') as ConfigJson;
  else
    throw new Error(
      `pretrain: config "${c}" is not one of ${Object.keys(PRETRAIN_PRESETS).join(', ')} nor a config.json file`,
    );
  if (config['vocab_size'] !== undefined && config['vocab_size'] !== vocabSize)
    throw new Error(
      `pretrain: the config's vocab_size ${String(config['vocab_size'])} differs from the vocabulary's ${vocabSize} tokens`,
    );
  const model = new BertForPreTraining(
    { ...config, vocab_size: vocabSize, architectures: ['BertForPreTraining'] },
    { kernels, seed },
  );
  return Promise.resolve({ model, newlyInitialized: [] as string[] });
}

/** Runs (or resumes) pre-training; saves a HF BertForPreTraining folder (with the tokenizer files) into outputDir. */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const accum = o.gradAccumSteps ?? 1;
  const seed = o.seed ?? 42;
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new RangeError(`pretrain: batchSize must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(accum) || accum < 1 || o.batchSize % accum !== 0)
    throw new RangeError(
      `pretrain: gradAccumSteps ${accum} must be a positive integer dividing batchSize ${o.batchSize}`,
    );
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new RangeError(`pretrain: steps must be a positive integer, got ${o.steps}`);
  const kernels = o.kernels ?? getKernels();
  const progress = o.progress ?? rankProgress({ logFile: join(o.outputDir, 'log.jsonl') });

  const vocabDir = existsSync(o.vocab) && statSync(o.vocab).isFile() ? dirname(o.vocab) : o.vocab;
  const vocab = readPretrainingVocab(vocabDir);
  const m = readDatasetManifest(o.dataDir);
  if (m.vocabSize !== vocab.size)
    throw new Error(
      `${o.dataDir}: made with a vocabulary of ${m.vocabSize} tokens, ${vocabDir} has ${vocab.size}; use the vocabulary the data was made with`,
    );
  const { model, newlyInitialized } = await buildModel(o, vocab.size, vocab.padId, seed, kernels);
  if (newlyInitialized.length > 0)
    progress.message(`newly initialised (not in ${o.initFrom}): ${newlyInitialized.join(', ')}`);
  const c = model.config;
  if (c.vocabSize !== vocab.size)
    throw new Error(`${o.initFrom}: vocab_size ${c.vocabSize}, but the data was made with ${vocab.size} tokens`);
  if (m.maxSeqLength > c.maxPositionEmbeddings)
    throw new Error(
      `${o.dataDir}: max_seq_length ${m.maxSeqLength} > the model's max_position_embeddings ${c.maxPositionEmbeddings}`,
    );
  // Dynamic masking follows the dataset's own settings.
  const masking: MaskingOptions = {
    maskedLmProb: m.maskedLmProb,
    maxPredictions: m.maxPredictionsPerSeq,
    wholeWordMask: m.wholeWordMask,
  };
  const micro = o.batchSize / accum;
  const stream = new PretrainingStream(o.dataDir, { seed, vocab, masking, batchSize: micro });
  const evalSet = o.evalDataDir ? readEvalInstances(o.evalDataDir, o.evalInstances ?? 2000, vocab, seed) : [];
  let latest: PretrainEvaluation | null = null;
  const evaluate = (): PretrainEvaluation => {
    latest = evaluatePretraining(model, evalSet, Math.max(8, micro), vocab.padId);
    return latest;
  };
  const gather = o.gather ?? true;

  progress.message(
    `pre-training ${c.numHiddenLayers} layers x ${c.hiddenSize} hidden (${(model.store.data.length / 1e6).toFixed(1)}M parameters) ` +
      `on ${m.instances} instances (${o.dataDir}), ${o.steps} steps of ${o.batchSize}`,
  );
  const trainer = new Trainer(pretrainingTrainerModel(model, { gather }), stream, {
    maxSteps: o.steps,
    gradAccum: accum,
    lr: o.lr,
    optimizer: { name: 'adamw', eps: o.adamEps ?? 1e-6, weightDecay: o.weightDecay ?? 0.01 },
    schedule: 'linear',
    warmupSteps: o.warmupSteps ?? Math.round(o.steps * 0.1),
    maxGradNorm: o.maxGradNorm ?? 1,
    evalSteps: o.evalEvery || undefined,
    evaluate: evalSet.length > 0 ? () => ({ ...evaluate() }) : undefined,
    metricForBest: 'mlm_loss',
    greaterIsBetter: false,
    keepBest: false,
    output: o.outputDir,
    saveSteps: o.checkpointEvery ?? 500,
    resume: o.resume ?? false,
    progress,
    kernels,
    settings: { gather },
    shouldStop: o.shouldStop,
    timeBudgetSeconds: o.timeBudgetSeconds,
    curveTitle: 'pre-training: MLM + NSP loss',
  });
  const r = await trainer.train();
  if (evalSet.length > 0 && (r.stoppedBy === 'time' || r.stoppedBy === 'stop')) {
    // A stopped run is not evaluated by the Trainer (it may resume); the model saved here still gets its score.
    progress.evaluation({ step: r.steps, epoch: stream.epochProgress(), metrics: { ...evaluate() } });
  }
  const evaluation: PretrainEvaluation | null = latest;
  // Under mpirun, rank 0 writes the folder (the replicas hold the same weights).
  const writer = getDistributed().rank === 0;
  if (writer) {
    await model.save(o.outputDir);
    copyTokenizerFiles(vocabDir, o.outputDir); // the output folder is a complete model folder
  }
  const result: PretrainResult = {
    steps: r.steps,
    stoppedBy: r.stoppedBy,
    tokensPerSecond: r.tokensPerSecond,
    finalLoss: r.lastLoss,
    evaluation,
    seconds: r.seconds,
  };
  if (writer) writeFileAtomic(join(o.outputDir, 'pretrain_results.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}
