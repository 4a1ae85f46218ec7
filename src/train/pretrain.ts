// pretrain(options): pre-training on shard folders through the Trainer — BERT's MLM + NSP, RoBERTa-style MLM alone, or
// ELECTRA's replaced-token detection — writing a HF folder.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';
import { BertForMaskedLM, BertForPreTraining } from '../model/bert.js';
import type { BertConfig, ConfigJson } from '../model/config.js';
import { familyOf } from '../model/family.js';
import { BertTokenizer } from '../tokenizer/tokenizer.js';
import { copyTokenizerFiles, readJsonFile, writeFileAtomic } from '../io/files.js';
import { readPretrainingVocab, type MaskingOptions } from '../data/pretraining.js';
import { readDatasetManifest } from '../data/shards.js';
import { Trainer, type StopReason, type TrainerModel } from './trainer.js';
import type { PretrainingBatch } from '../data/batching.js';
import type { PretrainingInstance } from '../data/pretraining.js';
import { ProgressReporter } from './progress.js';
import { getDistributed, rankProgress } from './distributed.js';
import { PretrainingStream } from './pretrain-stream.js';
import { loadPretrainingModel, pretrainingTrainerModel } from './pretrain-model.js';
import { evaluatePretraining, readEvalInstances, type PretrainEvaluation } from './pretrain-eval.js';
import { evaluateMaskedLm, maskedLmTrainerModel, type MaskedLmEvaluation } from './pretrain-mlm.js';
import { ElectraPretraining, evaluateElectra, type ElectraEvaluation } from './electra.js';

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

/** What pre-training optimises: BERT's MLM + NSP, MLM alone (RoBERTa), or ELECTRA's replaced-token detection. */
export type PretrainObjective = 'mlm-nsp' | 'mlm' | 'electra';
export const PRETRAIN_OBJECTIVES: readonly PretrainObjective[] = ['mlm-nsp', 'mlm', 'electra'];
/** The encoder of a preset: BERT's, RoBERTa's (positions from pad_token_id + 1, one token type) or ELECTRA's. */
export type PretrainArchitecture = 'bert' | 'roberta' | 'electra';

/**
 * The config.json fields of a preset size (vocab_size and pad_token_id come from the vocabulary). RoBERTa: one token
 * type, 514 positions (512 tokens after its padding_idx + 1 offset), LayerNorm eps 1e-5, as roberta-base. ELECTRA:
 * embedding_size 128 below BERT-base's width (ELECTRA-Small's), the hidden size from there on (ELECTRA-Base's).
 */
export function presetConfig(preset: PretrainPreset, architecture: PretrainArchitecture = 'bert'): ConfigJson {
  const { layers, hidden } = PRETRAIN_PRESETS[preset];
  const bert: ConfigJson = {
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
  if (architecture === 'roberta')
    return { ...bert, model_type: 'roberta', max_position_embeddings: 514, type_vocab_size: 1, layer_norm_eps: 1e-5 };
  if (architecture === 'electra')
    return { ...bert, model_type: 'electra', embedding_size: hidden < 768 ? Math.min(hidden, 128) : hidden };
  return bert;
}

export interface PretrainOptions {
  /**
   * The model to train from scratch: a preset size, the path of a config.json, or config fields (vocab_size is the
   * vocabulary's). Exactly one of `config` and `initFrom`.
   */
  config?: PretrainPreset | string | ConfigJson;
  /**
   * A model folder to start from (mlm-nsp: BertForPreTraining or BertModel weights, missing heads initialised; mlm: a
   * *ForMaskedLM folder; electra: a folder this function wrote, the generator in generator/ or made afresh).
   */
  initFrom?: string;
  /** Default 'mlm-nsp' (BERT). 'mlm': masked LM only, dynamic masking, no NSP (RoBERTa); 'electra': RTD. */
  objective?: PretrainObjective;
  /** The preset's encoder for objective 'mlm': 'roberta' (default) or 'bert'. mlm-nsp is BERT's, electra ELECTRA's. */
  architecture?: 'bert' | 'roberta';
  /** ELECTRA: the generator's hidden size, heads and intermediate size as a fraction of the discriminator's (0.25). */
  generatorSize?: number;
  /** ELECTRA: the weight of the discriminator's loss in the joint loss (50). */
  rtdWeight?: number;
  /** Training shards (a folder with dataset.json, from createPretrainingData). */
  dataDir: string;
  /** The tokenizer folder (or its vocab.txt) the data was made with; its files are copied into the output. */
  vocab: string;
  /** Model folder written at the end; also holds checkpoints/ (the training state), log.jsonl, the curve and results. */
  outputDir: string;
  /** Held-out shards (e.g. made from IMDb test text): MLM loss/accuracy, and NSP or RTD figures per objective. */
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

/** Held-out figures of each objective (mlm_loss and mlm_accuracy in all; of the generator for ELECTRA). */
export type PretrainMetrics = PretrainEvaluation | MaskedLmEvaluation | ElectraEvaluation;

export interface PretrainResult<E extends PretrainMetrics = PretrainMetrics> {
  steps: number;
  stoppedBy: StopReason;
  /** Non-padding tokens per second over this process's training steps. */
  tokensPerSecond: number;
  finalLoss: number;
  evaluation: E | null;
  seconds: number;
}

/** What the loop needs of an objective's model(s). */
interface ObjectiveModel {
  /** The model whose config the data must fit (the discriminator for ELECTRA). */
  config: BertConfig;
  parameterCount: number;
  trainer: TrainerModel<PretrainingBatch>;
  evaluate: (instances: readonly PretrainingInstance[], batchSize: number, padId: number) => PretrainMetrics;
  save: (dir: string) => Promise<void>;
  newlyInitialized: string[];
  describe: string;
}

function readConfigOption(c: PretrainPreset | string | ConfigJson, o: PretrainOptions, padId: number): ConfigJson {
  const objective = o.objective ?? 'mlm-nsp';
  const architecture: PretrainArchitecture =
    objective === 'electra' ? 'electra' : objective === 'mlm' ? (o.architecture ?? 'roberta') : 'bert';
  if (typeof c !== 'string') return c;
  if (isPretrainPreset(c)) return { ...presetConfig(c, architecture), pad_token_id: padId };
  if (existsSync(c) && statSync(c).isFile()) return readJsonFile(c, 'config.json') as ConfigJson;
  throw new Error(
    `pretrain: config "${c}" is not one of ${Object.keys(PRETRAIN_PRESETS).join(', ')} nor a config.json file`,
  );
}

async function buildModel(
  o: PretrainOptions,
  vocabSize: number,
  padId: number,
  seed: number,
  kernels: Kernels,
  gather: boolean,
): Promise<ObjectiveModel> {
  if ((o.config === undefined) === (o.initFrom === undefined))
    throw new Error(
      'pretrain: give exactly one of config (a preset, config.json or fields) and initFrom (a model folder)',
    );
  const objective = o.objective ?? 'mlm-nsp';
  if (!PRETRAIN_OBJECTIVES.includes(objective))
    throw new Error(`pretrain: unknown objective "${String(objective)}" (use ${PRETRAIN_OBJECTIVES.join(', ')})`);
  let config: ConfigJson | null = null;
  if (o.config !== undefined) {
    config = readConfigOption(o.config, o, padId);
    if (config['vocab_size'] !== undefined && config['vocab_size'] !== vocabSize)
      throw new Error(
        `pretrain: the config's vocab_size ${String(config['vocab_size'])} differs from the vocabulary's ${vocabSize} tokens`,
      );
    // pad_token_id from the vocabulary unless given (RoBERTa's default, 1, is its own BPE vocabulary's <pad>).
    config = { pad_token_id: padId, ...config, vocab_size: vocabSize };
  }
  const size = (n: number): string => `${(n / 1e6).toFixed(1)}M parameters`;
  if (objective === 'electra') {
    const options = { kernels, seed, generatorSize: o.generatorSize, rtdWeight: o.rtdWeight };
    const pair = config
      ? ElectraPretraining.create(config, options)
      : await ElectraPretraining.load(o.initFrom!, options);
    const d = pair.discriminator.config;
    const g = pair.generator.config;
    return {
      config: d,
      parameterCount: pair.parameters().reduce((n, p) => n + p.data.length, 0),
      trainer: pair.trainerModel(),
      evaluate: (instances, batchSize, pad) => evaluateElectra(pair, instances, batchSize, pad, seed),
      save: (dir) => pair.save(dir),
      newlyInitialized: [],
      describe:
        `ELECTRA: discriminator ${d.numHiddenLayers} layers x ${d.hiddenSize} hidden, generator ${g.numHiddenLayers} x ` +
        `${g.hiddenSize}, embeddings ${d.embeddingSize} shared (${size(pair.parameters().reduce((n, p) => n + p.data.length, 0))})`,
    };
  }
  if (objective === 'mlm') {
    const arch = o.architecture ?? 'roberta';
    const model = config
      ? new BertForMaskedLM({ model_type: arch, ...config }, { kernels, seed })
      : await BertForMaskedLM.fromPretrained(o.initFrom!, { kernels, seed });
    const c = model.config;
    if (c.modelType !== 'bert' && c.modelType !== 'roberta')
      throw new Error(
        `pretrain: objective mlm trains a bert or roberta model, the config's model_type is ${c.modelType}`,
      );
    return {
      config: c,
      parameterCount: model.store.data.length,
      trainer: maskedLmTrainerModel(model),
      evaluate: (instances, batchSize, pad) => evaluateMaskedLm(model, instances, batchSize, pad),
      save: (dir) => model.save(dir),
      newlyInitialized: [],
      describe: `MLM (${model.architecture}): ${c.numHiddenLayers} layers x ${c.hiddenSize} hidden (${size(model.store.data.length)})`,
    };
  }
  let model: BertForPreTraining;
  let fresh: string[] = [];
  if (config) {
    model = new BertForPreTraining({ ...config, architectures: ['BertForPreTraining'] }, { kernels, seed });
  } else {
    ({ model, newlyInitialized: fresh } = await loadPretrainingModel(o.initFrom!, { kernels, seed }));
  }
  const c = model.config;
  return {
    config: c,
    parameterCount: model.store.data.length,
    trainer: pretrainingTrainerModel(model, { gather }),
    evaluate: (instances, batchSize, pad) => evaluatePretraining(model, instances, batchSize, pad),
    save: (dir) => model.save(dir),
    newlyInitialized: fresh,
    describe: `MLM + NSP: ${c.numHiddenLayers} layers x ${c.hiddenSize} hidden (${size(model.store.data.length)})`,
  };
}

/**
 * The tokenizer as `config`'s model takes its inputs: `tok` itself, except for a model with one token type
 * (RoBERTa's type_vocab_size 1) and a tokenizer whose pairs have two (bert-base-uncased's vocab.txt), which gets
 * model_input_names without token_type_ids, so that transformers and bert-ts give the model type 0 everywhere.
 */
export function tokenizerForModel(config: BertConfig, tok: BertTokenizer): BertTokenizer {
  return config.typeVocabSize === 1 && familyOf(config).tokenTypes && tok.returnsTokenTypeIds
    ? tok.withoutTokenTypeIds()
    : tok;
}

/** The tokenizer files of `from` into the model folder `to`: copied as they are, or saved as tokenizerForModel has it. */
function writeTokenizerFor(config: BertConfig, from: string, to: string): void {
  const tok = BertTokenizer.fromPretrained(from);
  const forModel = tokenizerForModel(config, tok);
  if (forModel === tok) copyTokenizerFiles(from, to);
  else forModel.save(to); // tokenizer_config.json names the class too: transformers' AutoTokenizer needs it
}

/**
 * Runs (or resumes) pre-training; saves a HF folder (with the tokenizer files) into outputDir: BertForPreTraining
 * (mlm-nsp), RobertaForMaskedLM / BertForMaskedLM (mlm), or ElectraForPreTraining with the generator
 * (ElectraForMaskedLM) in outputDir/generator (electra).
 */
export function pretrain(o: PretrainOptions & { objective?: 'mlm-nsp' }): Promise<PretrainResult<PretrainEvaluation>>;
export function pretrain(o: PretrainOptions): Promise<PretrainResult>;
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
  const gather = o.gather ?? true;
  const objective = o.objective ?? 'mlm-nsp';
  if (objective === 'electra' && getDistributed().size > 1)
    throw new Error('pretrain: the electra objective runs in one process (its loss is not split over ranks)');
  const model = await buildModel(o, vocab.size, vocab.padId, seed, kernels, gather);
  const newlyInitialized = model.newlyInitialized;
  if (newlyInitialized.length > 0)
    progress.message(`newly initialised (not in ${o.initFrom}): ${newlyInitialized.join(', ')}`);
  const c = model.config;
  if (c.vocabSize !== vocab.size)
    throw new Error(`${o.initFrom}: vocab_size ${c.vocabSize}, but the data was made with ${vocab.size} tokens`);
  if (m.maxSeqLength > c.maxSequenceLength)
    throw new Error(
      `${o.dataDir}: max_seq_length ${m.maxSeqLength} > the ${c.maxSequenceLength} positions of the model (max_position_embeddings ${c.maxPositionEmbeddings})`,
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
  let latest: PretrainMetrics | null = null;
  const evaluate = (): PretrainMetrics => {
    latest = model.evaluate(evalSet, Math.max(8, micro), vocab.padId);
    return latest;
  };

  progress.message(
    `pre-training ${model.describe} on ${m.instances} instances (${o.dataDir}), ${o.steps} steps of ${o.batchSize}`,
  );
  const trainer = new Trainer(model.trainer, stream, {
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
    settings:
      objective === 'mlm-nsp'
        ? { gather }
        : { objective, rtdWeight: objective === 'electra' ? (o.rtdWeight ?? 50) : null },
    shouldStop: o.shouldStop,
    timeBudgetSeconds: o.timeBudgetSeconds,
    curveTitle: `pre-training: ${{ 'mlm-nsp': 'MLM + NSP', mlm: 'MLM', electra: 'ELECTRA MLM + 50 x RTD' }[objective]} loss`,
  });
  const r = await trainer.train();
  if (evalSet.length > 0 && (r.stoppedBy === 'time' || r.stoppedBy === 'stop')) {
    // A stopped run is not evaluated by the Trainer (it may resume); the model saved here still gets its score.
    progress.evaluation({ step: r.steps, epoch: stream.epochProgress(), metrics: { ...evaluate() } });
  }
  const evaluation: PretrainMetrics | null = latest;
  // Under mpirun, rank 0 writes the folder (the replicas hold the same weights).
  const writer = getDistributed().rank === 0;
  if (writer) {
    await model.save(o.outputDir);
    writeTokenizerFor(model.config, vocabDir, o.outputDir); // the output folder is a complete model folder
    if (objective === 'electra') copyTokenizerFiles(vocabDir, join(o.outputDir, 'generator'));
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
