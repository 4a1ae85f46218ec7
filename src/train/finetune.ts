// finetune(options): a model folder fine-tuned for text or token classification on a dataset, written as a HF model folder.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../model/bert.js';
import { readConfig } from '../model/checkpoint.js';
import type { BertConfig, ProblemType } from '../model/config.js';
import { InputError } from '../model/errors.js';
import { copyTokenizerFiles, writeFileAtomic } from '../io/files.js';
import {
  readTextClassification,
  type TextClassificationOptions,
  type TextClassificationExample,
} from '../data/classification.js';
import { readConllJsonl, collectTags, CONLL2003_LABELS } from '../data/conll.js';
import { sampleSubset } from '../data/sampling.js';
import { encodedDataset, type EncodedExample } from '../data/batching.js';
import { Trainer } from './trainer.js';
import { bertTrainerModel } from './bert-adapter.js';
import { evaluateSequenceClassification, evaluateTokenClassification } from './evaluation.js';
import type { ProgressReporter } from './progress.js';
import { getDistributed, rankProgress } from './distributed.js';
import { isOptimizerName, type OptimizerName } from './optim.js';
import { isScheduleName } from './schedule.js';
import { latestTrainingStateDir } from './training-state.js';
import type { RunResult, TrainingRunOptions } from './run-options.js';
import { EpochSampler } from '../data/samplers.js';
import {
  encodeTextExamples,
  encodeTokenExamples,
  loadFinetuneTokenizer,
  type FinetuneTokenizer,
} from './text-encoding.js';
import { loadForFinetuning } from './finetune-model.js';
import { prepareSpanOrChoiceTask, QA_DEFAULTS } from './finetune-tasks.js';
import type { BertHeadModel } from './bert-adapter.js';
import type { IndexedDataset } from '../data/samplers.js';
import type { BatchInputs } from '../data/batching.js';

export type FinetuneTask = 'text-classification' | 'token-classification' | 'question-answering' | 'multiple-choice';

/** The tasks finetune() trains. */
export const FINETUNE_TASKS: readonly FinetuneTask[] = [
  'text-classification',
  'token-classification',
  'question-answering',
  'multiple-choice',
];

/**
 * What {@link finetune} takes: the run options (defaults: HF Trainer's — epochs 3, batch 8, lr 5e-5; the best
 * model by accuracy, f1 for tokens and QA, mse for regression; max length 128, 384 for question answering, as HF
 * run_qa) and the task's. Training data: .jsonl(.gz), .csv/.tsv(.gz) or an aclImdb split folder; CoNLL JSONL for token
 * classification; SQuAD JSON / JSONL for question answering; SWAG CSV for multiple choice.
 */
export interface FinetuneOptions
  extends TrainingRunOptions, Pick<TextClassificationOptions, 'textColumn' | 'textPairColumn' | 'labelColumn'> {
  task?: FinetuneTask;
  evalSamples?: number;
  /**
   * Label names to ids (ids 0..n-1). Default: the model's named labels, else the sorted string labels of the
   * training file, else (integer labels) ids 0..max.
   */
  label2id?: Record<string, number>;
  /** Number of classes of integer labels; a label outside [0, numLabels) is then an error. */
  numLabels?: number;
  problemType?: ProblemType;
  /** Question answering: context tokens shared by consecutive windows of a long context (default 128). */
  docStride?: number;
  /** Question answering: the longest answer evaluation picks, in tokens (default 30). */
  maxAnswerLength?: number;
  gradAccum?: number;
  optimizer?: OptimizerName;
  adamEps?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  lengthBucketing?: boolean;
  /** Stop after this many evaluations without improvement. */
  earlyStopping?: number;
  /** Tokenizer folder when the model folder has none. */
  tokenizer?: string;
  /** Take only config.json from the model folder and start from a seeded random initialisation. */
  randomInit?: boolean;
}

/** What a fine-tuning run did; also written to output/eval_results.json. */
export interface FinetuneSummary {
  model: string;
  task: FinetuneTask;
  architecture: string;
  backend: string;
  train_examples: number;
  steps: number;
  epochs: number;
  train_seconds: number;
  prepare_seconds: number;
  train_examples_per_second: number;
  last_loss: number;
  best_metric: number | null;
  best_step: number | null;
  metric: string;
  stopped_early: boolean;
  eval: Record<string, number> | null;
  best_eval: Record<string, number> | null;
  tokenizer_files: string[];
  id2label: Record<number, string>;
}

export type FinetuneResult = RunResult<FinetuneSummary>;

/** True when id2label only holds HF's placeholder names (LABEL_0, LABEL_1, ...). */
export function genericLabels(config: BertConfig): boolean {
  return Object.entries(config.id2label).every(([k, v]) => v === `LABEL_${k}`);
}

/** The task a fine-tuned folder was trained for, from config.json architectures (text classification otherwise). */
export function taskOfConfig(config: BertConfig): FinetuneTask {
  // Any family member's head: BertForTokenClassification, RobertaForTokenClassification, ...
  const arch = config.architectures?.[0] ?? '';
  if (arch.endsWith('ForTokenClassification')) return 'token-classification';
  if (arch.endsWith('ForQuestionAnswering')) return 'question-answering';
  if (arch.endsWith('ForMultipleChoice')) return 'multiple-choice';
  return 'text-classification';
}

const where = 'finetune';

function checkInteger(value: number | undefined, option: string, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new InputError(where, (o) => `${o(option)} must be an integer >= ${min}, got ${value}`);
}

/** Every option checked before any data is read or any model loaded: a wrong run fails in milliseconds. */
function checkOptions(o: FinetuneOptions): void {
  if (o.task !== undefined && !FINETUNE_TASKS.includes(o.task))
    throw new InputError(where, (n) => `${n('task')} must be one of ${FINETUNE_TASKS.join(', ')}, got "${o.task}"`);
  checkInteger(o.docStride, 'docStride', 0);
  checkInteger(o.maxAnswerLength, 'maxAnswerLength', 1);
  for (const k of ['epochs', 'batchSize', 'gradAccum', 'evalBatchSize', 'trainSamples', 'evalSamples'] as const)
    checkInteger(o[k], k, 1);
  for (const k of ['evalSteps', 'saveSteps', 'earlyStopping', 'stopAfterSteps', 'numLabels'] as const)
    checkInteger(o[k], k, 1);
  checkInteger(o.warmupSteps, 'warmupSteps', 0);
  checkInteger(o.seed, 'seed', 0);
  checkInteger(o.maxLength, 'maxLength', 2);
  if (o.lr !== undefined && !(o.lr > 0)) throw new InputError(where, (n) => `${n('lr')} must be positive, got ${o.lr}`);
  if (o.optimizer !== undefined && !isOptimizerName(o.optimizer))
    throw new InputError(where, (n) => `${n('optimizer')} must be adamw, adam or bert-adam, got "${o.optimizer}"`);
  if (o.schedule !== undefined && !isScheduleName(o.schedule))
    throw new InputError(where, (n) => `${n('schedule')} must be constant, linear or cosine, got "${o.schedule}"`);
  if (o.adamEps !== undefined && !(o.adamEps > 0))
    throw new InputError(where, (n) => `${n('adamEps')} must be positive, got ${o.adamEps}`);
  for (const k of ['adamBeta1', 'adamBeta2'] as const) {
    const b = o[k];
    if (b !== undefined && !(b >= 0 && b < 1))
      throw new InputError(where, (n) => `${n(k)} must be in [0, 1), got ${b}`);
  }
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0))
    throw new InputError(where, (n) => `${n('weightDecay')} must be >= 0, got ${o.weightDecay}`);
  if (o.optimizer === 'adam' && (o.weightDecay ?? 0) !== 0)
    throw new InputError(
      where,
      (n) => `${n('optimizer')} adam takes no ${n('weightDecay')}; use adamw for decoupled weight decay`,
    );
  if (o.warmupRatio !== undefined && !(o.warmupRatio >= 0 && o.warmupRatio < 1))
    throw new InputError(where, (n) => `${n('warmupRatio')} must be in [0, 1), got ${o.warmupRatio}`);
  if (o.maxGradNorm !== undefined && !(o.maxGradNorm >= 0))
    throw new InputError(where, (n) => `${n('maxGradNorm')} must be >= 0, got ${o.maxGradNorm}`);
  const problems = ['single_label_classification', 'multi_label_classification', 'regression'];
  if (o.problemType !== undefined && !problems.includes(o.problemType))
    throw new InputError(where, (n) => `${n('problemType')} must be ${problems.join(', ')}, got "${o.problemType}"`);
  if (o.earlyStopping !== undefined && !o.eval)
    throw new InputError(where, (n) => `${n('earlyStopping')} needs ${n('eval')} (it compares evaluations)`);
  if (o.evalSteps !== undefined && !o.eval) throw new InputError(where, (n) => `${n('evalSteps')} needs ${n('eval')}`);
  if (o.label2id !== undefined) checkLabel2id(o.label2id);
}

/** label2id must map distinct names to the ids 0..n-1. */
export function checkLabel2id(label2id: Record<string, number>): void {
  const ids = Object.values(label2id);
  if (ids.length === 0 || !ids.every((v) => Number.isInteger(v) && v >= 0))
    throw new InputError(where, (n) => `${n('label2id')} must map label names to non-negative integer ids`);
  const distinct = new Set(ids);
  for (let i = 0; i < distinct.size; i++)
    if (!distinct.has(i))
      throw new InputError(where, (n) => `${n('label2id')} ids must be 0..${distinct.size - 1} without gaps`);
}

/** Single-label text classification: the label map from the options, the model, or the data (see FinetuneOptions). */
async function readTextData(
  o: FinetuneOptions,
  config: BertConfig,
  problemType: ProblemType,
): Promise<{
  train: TextClassificationExample[];
  evalEx: TextClassificationExample[] | null;
  label2id?: Record<string, number>;
}> {
  let label2id = o.label2id ?? (genericLabels(config) ? undefined : { ...config.label2id });
  const base = {
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    problemType,
    numLabels: o.numLabels,
  };
  const read = (path: string) =>
    readTextClassification(path, {
      ...base,
      label2id,
      numLabels: label2id ? Object.keys(label2id).length : o.numLabels,
    });
  let train: TextClassificationExample[];
  if (label2id === undefined && problemType === 'single_label_classification') {
    // String labels without a map: collect them, then ids in sorted order (HF run_glue's label_list = sorted(set)).
    const names = new Set<string>();
    train = await readTextClassification(o.train, { ...base, collectStringLabels: names });
    if (names.size > 0) {
      label2id = Object.fromEntries([...names].sort().map((name, i) => [name, i]));
      train = await read(o.train);
    }
  } else train = await read(o.train);
  const evalEx = o.eval ? await read(o.eval) : null;
  return { train, evalEx, label2id };
}

/** What each task hands the shared training loop: the model, its data and evaluation, what the summary reports. */
export interface PreparedTask {
  model: BertHeadModel & { save(dir: string): Promise<void> };
  train: IndexedDataset<BatchInputs>;
  trainCount: number;
  evaluate?: () => Record<string, number>;
  metric: string;
  id2label: Record<number, string>;
  /** The tokenizer folder, copied into the output. */
  tokDir: string;
  /** Task settings a resumed run must share (saved in the training state). */
  settings: Record<string, unknown>;
}

/** Everything the task preparations share: the checked options and the run's kernels, seed and progress. */
export interface PrepareContext {
  o: FinetuneOptions;
  config: BertConfig;
  task: FinetuneTask;
  maxLength: number;
  seed: number;
  kernels: Kernels;
  progress: ProgressReporter;
}

/** Text or token classification: labels, data, tokenizer, model and evaluation. */
async function prepareClassification(c: PrepareContext): Promise<PreparedTask> {
  const { o, config, task, maxLength, seed, kernels, progress } = c;
  let problemType: ProblemType = o.problemType ?? config.problemType ?? 'single_label_classification';
  let label2id: Record<string, number> | undefined;
  let numLabels: number;
  let trainEx: TextClassificationExample[] | null = null;
  let evalText: TextClassificationExample[] | null = null;
  let trainTok: Awaited<ReturnType<typeof readConllJsonl>> | null = null;
  let evalTok: Awaited<ReturnType<typeof readConllJsonl>> | null = null;
  let trainLabels: number[] = [];

  // ---- data, read and checked before the tokenizer and the model are loaded (data errors come first, and fast) ----
  if (task === 'text-classification') {
    const data = await readTextData(o, config, problemType);
    label2id = data.label2id;
    trainEx = o.trainSamples !== undefined ? sampleSubset(data.train, o.trainSamples, seed) : data.train;
    evalText =
      data.evalEx && o.evalSamples !== undefined ? sampleSubset(data.evalEx, o.evalSamples, seed + 1) : data.evalEx;
    if (problemType === 'single_label_classification') {
      trainLabels = trainEx.map((e) => e.label as number);
      const maxId = Math.max(...trainLabels, ...(evalText ?? []).map((e) => e.label as number));
      numLabels = label2id ? Object.keys(label2id).length : (o.numLabels ?? Math.max(2, maxId + 1));
    } else {
      numLabels = (trainEx[0]?.label as number[] | undefined)?.length ?? 1;
      if (problemType === 'regression' && numLabels !== 1)
        throw new InputError(o.train, `regression with ${numLabels} targets per example; bert-ts expects one`);
    }
  } else {
    problemType = 'single_label_classification';
    label2id = o.label2id ?? (genericLabels(config) ? undefined : { ...config.label2id });
    if (!label2id) {
      // String tags with no map: the CoNLL-2003 order when every tag belongs to it (the ids of HF's conll2003
      // dataset), else the sorted tag set (what HF run_ner does for string labels).
      const tags = await collectTags(o.train);
      const names = [...tags].every((t) => CONLL2003_LABELS.includes(t)) ? [...CONLL2003_LABELS] : [...tags].sort();
      label2id = Object.fromEntries(names.map((n, i) => [n, i]));
    }
    numLabels = Object.keys(label2id).length;
    const all = await readConllJsonl(o.train, { label2id });
    trainTok = o.trainSamples !== undefined ? sampleSubset(all, o.trainSamples, seed) : all;
    const ev = o.eval ? await readConllJsonl(o.eval, { label2id }) : null;
    evalTok = ev && o.evalSamples !== undefined ? sampleSubset(ev, o.evalSamples, seed + 1) : ev;
    trainLabels = trainTok.flatMap((e) => e.tags);
  }
  const id2label: Record<number, string> = label2id
    ? Object.fromEntries(Object.entries(label2id).map(([k, v]) => [v, k]))
    : Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
  if (problemType === 'single_label_classification') {
    if (numLabels < 2) {
      throw new InputError(
        o.train,
        `only one class (${JSON.stringify(id2label[0])}) among the labels; classification needs at least two`,
      );
    }
    progress.message(
      `labels (${numLabels}): ${Object.entries(id2label)
        .map(([id, name]) => `${id}=${name}`)
        .join(', ')}`,
    );
    const seen = new Set(trainLabels);
    const absent = Object.keys(id2label).filter((id) => !seen.has(Number(id)));
    if (absent.length > 0)
      progress.message(
        `warning: ${absent.length} of ${numLabels} classes never occur in the training data (${absent.map((id) => id2label[Number(id)]).join(', ')}); the model cannot learn them`,
      );
  }

  const tokDir = o.tokenizer ?? o.model;
  const tok: FinetuneTokenizer = await loadFinetuneTokenizer(tokDir);
  if (tok.vocabSize > config.vocabSize) {
    throw new InputError(
      tokDir,
      `the tokenizer has ${tok.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}: tokenizer and model do not match`,
    );
  }
  const examples = trainEx ?? trainTok ?? [];
  progress.message(
    `read ${examples.length} training examples${evalText || evalTok ? ` and ${(evalText ?? evalTok ?? []).length} evaluation examples` : ''}; tokenizing (max length ${maxLength})`,
  );
  const kind = task === 'token-classification' ? 'token' : 'sequence';
  const trainEnc: EncodedExample[] = trainEx
    ? encodeTextExamples(tok, trainEx, maxLength)
    : encodeTokenExamples(tok, trainTok ?? [], maxLength);
  const evalEnc: EncodedExample[] | null = evalText
    ? encodeTextExamples(tok, evalText, maxLength)
    : evalTok
      ? encodeTokenExamples(tok, evalTok, maxLength)
      : null;
  const overrides = {
    num_labels: numLabels,
    id2label,
    label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
    ...(task === 'text-classification' ? { problem_type: problemType } : {}),
  };
  const modelOptions = { kernels, seed, randomInit: o.randomInit, warn: (m: string) => progress.message(m) };
  const model =
    task === 'token-classification'
      ? await loadForFinetuning(BertForTokenClassification, o.model, overrides, modelOptions)
      : await loadForFinetuning(BertForSequenceClassification, o.model, overrides, modelOptions);
  const evalBatch = o.evalBatchSize ?? 32;
  let evaluate: (() => Record<string, number>) | undefined;
  if (evalEnc) {
    const data = encodedDataset(evalEnc, kind, tok.padId);
    evaluate =
      task === 'token-classification'
        ? () =>
            evaluateTokenClassification(
              model,
              data,
              evalEnc.map((e) => e.tokenLabels ?? []),
              id2label,
              evalBatch,
            ).metrics
        : () =>
            evaluateSequenceClassification(
              model,
              data,
              evalEnc.map((e) => e.label ?? -100),
              numLabels,
              problemType,
              evalBatch,
            ).metrics;
  }
  const metric =
    o.metric ?? (task === 'token-classification' ? 'f1' : problemType === 'regression' ? 'mse' : 'accuracy');
  return {
    model,
    train: encodedDataset(trainEnc, kind, tok.padId),
    trainCount: trainEnc.length,
    evaluate,
    metric,
    id2label,
    tokDir,
    settings: { numLabels, problemType },
  };
}

/**
 * Fine-tunes `options.model` for text classification (BertForSequenceClassification: single-label, multi-label or
 * regression) or token classification (BertForTokenClassification, CoNLL JSONL) and writes a HF model folder with
 * id2label / label2id to `options.output`, the best evaluated weights when `eval` is given.
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  checkOptions(options);
  const o = options;
  const task: FinetuneTask = o.task ?? 'text-classification';
  const seed = o.seed ?? 42;
  const optimizer = o.optimizer ?? 'adamw';
  const config = readConfig(o.model);
  const maxLength =
    o.maxLength ?? (task === 'question-answering' ? Math.min(QA_DEFAULTS.maxLength, config.maxSequenceLength) : 128);
  if (maxLength > config.maxSequenceLength) {
    throw new InputError(
      where,
      (n) =>
        `${n('maxLength')} ${maxLength} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings}` +
        (config.maxSequenceLength < config.maxPositionEmbeddings
          ? ` (${config.maxSequenceLength} tokens after RoBERTa's padding_idx + 1 offset)`
          : '') +
        ` (${o.model}/config.json)`,
    );
  }
  if (existsSync(o.output) && !statSync(o.output).isDirectory())
    throw new InputError(where, (n) => `${n('output')} ${o.output} exists and is not a folder`);
  const latest = join(o.output, 'checkpoints', 'latest.json');
  if (o.resume && !existsSync(latest))
    throw new InputError(where, (n) => `${n('resume')}: ${o.output} holds no checkpoint (${latest} missing)`);
  if (!o.resume && existsSync(latest)) {
    throw new InputError(
      where,
      (n) =>
        `${o.output} already holds a training checkpoint (${latestTrainingStateDir(o.output)}); add ${n('resume')} to continue it or choose another ${n('output')}`,
    );
  }
  const kernels = o.kernels ?? getKernels();
  // Every step goes to a JSON-lines log (default next to the checkpoints), whatever the terminal shows.
  // Under mpirun only rank 0 reports (and logs); the other ranks train silently.
  const progress = o.progress ?? rankProgress({ logFile: o.log ?? join(o.output, 'train_log.jsonl') });
  const t0 = performance.now();
  const c: PrepareContext = { o, config, task, maxLength, seed, kernels, progress };
  const prepared =
    task === 'question-answering' || task === 'multiple-choice'
      ? await prepareSpanOrChoiceTask(c)
      : await prepareClassification(c);
  const { model, evaluate, metric, id2label, tokDir } = prepared;
  const prepSeconds = (performance.now() - t0) / 1000;

  mkdirSync(o.output, { recursive: true });
  const schedule = o.schedule ?? 'linear';
  const lr = o.lr ?? 5e-5;
  const batchSize = o.batchSize ?? 8;
  const gradAccum = o.gradAccum ?? 1;
  const stopAfter = o.stopAfterSteps;
  const sampler = new EpochSampler(prepared.train, {
    batchSize,
    seed,
    lengthBucketing: o.lengthBucketing === true,
  });
  const trainer = new Trainer(bertTrainerModel(model), sampler, {
    epochs: o.epochs ?? 3,
    gradAccum,
    lr,
    optimizer: {
      name: optimizer,
      eps: o.adamEps ?? (optimizer === 'bert-adam' ? 1e-6 : 1e-8),
      betas: [o.adamBeta1 ?? 0.9, o.adamBeta2 ?? 0.999],
      weightDecay: o.weightDecay ?? 0,
    },
    schedule,
    warmupRatio: o.warmupRatio ?? 0,
    warmupSteps: o.warmupSteps,
    maxGradNorm: o.maxGradNorm ?? 1,
    evalSteps: o.evalSteps,
    evaluate,
    metricForBest: metric,
    greaterIsBetter: !['loss', 'mse', 'mae'].includes(metric),
    earlyStoppingPatience: o.earlyStopping,
    output: o.output,
    saveSteps: o.saveSteps,
    resume: o.resume === true,
    progress,
    kernels,
    shouldStop: stopAfter === undefined ? undefined : (step) => step >= stopAfter,
    settings: {
      model: o.model,
      task,
      maxLength,
      train: o.train,
      trainSamples: o.trainSamples ?? null,
      ...prepared.settings,
      randomInit: o.randomInit === true,
    },
  });
  progress.message(
    `fine-tuning ${model.architecture} (${kernels.name}): ${prepared.trainCount} examples, ${trainer.totalSteps} steps, ` +
      `batch ${batchSize}${gradAccum > 1 ? ` x ${gradAccum}` : ''}, ${optimizer} lr ${lr} ${schedule}`,
  );
  const result = await trainer.train();
  if (result.stoppedBy === 'stop' || result.stoppedBy === 'time')
    return { interrupted: true, steps: result.steps, totalSteps: result.totalSteps };

  // ---- output: a HF model folder (under mpirun, rank 0 writes it; the replicas hold the same weights) ----
  const writer = getDistributed().rank === 0;
  if (writer) await model.save(o.output);
  const tokenizerFiles = writer ? copyTokenizerFiles(tokDir, o.output) : [];
  if (writer && !tokenizerFiles.includes('vocab.txt') && !tokenizerFiles.includes('tokenizer.json'))
    throw new InputError(tokDir, 'no vocab.txt or tokenizer.json to copy into the output folder');
  const summary: FinetuneSummary = {
    model: o.output,
    task,
    architecture: model.architecture,
    backend: kernels.name,
    train_examples: prepared.trainCount,
    steps: result.steps,
    epochs: result.epochsCompleted,
    train_seconds: Number(result.seconds.toFixed(1)),
    prepare_seconds: Number(prepSeconds.toFixed(1)),
    train_examples_per_second: Number(result.examplesPerSecond.toFixed(2)),
    last_loss: result.lastLoss,
    best_metric: result.bestMetric,
    best_step: result.bestStep,
    metric,
    stopped_early: result.stoppedBy === 'early-stopping',
    eval: result.evals.at(-1)?.metrics ?? null,
    best_eval: result.evals.find((e) => e.step === result.bestStep)?.metrics ?? null,
    tokenizer_files: tokenizerFiles,
    id2label,
  };
  if (writer) writeFileAtomic(join(o.output, 'eval_results.json'), JSON.stringify(summary, null, 2) + '\n');
  return { interrupted: false, summary };
}
