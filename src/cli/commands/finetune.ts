// `bert finetune`: reads a dataset, fine-tunes a model folder for text or token classification, writes a HF model folder.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels, type BackendChoice } from '../../native/index.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../../model/bert.js';
import { readConfig } from '../../model/checkpoint.js';
import type { BertConfig, ProblemType } from '../../model/config.js';
import { writeFileAtomic } from '../../io/files.js';
import { readTextClassification, type TextClassificationExample } from '../../data/classification.js';
import {
  readConllJsonl,
  alignFirstWordPiece,
  collectTags,
  CONLL2003_LABELS,
  type TokenClassificationExample,
} from '../../data/conll.js';
import { sampleSubset } from '../../data/sampling.js';
import { encodedDataset, type EncodedExample } from '../../data/batching.js';
import { Trainer } from '../../train/trainer.js';
import { EpochSampler } from '../../data/samplers.js';
import { bertTrainerModel } from '../../train/bert-adapter.js';
import { evaluateSequenceClassification, evaluateTokenClassification } from '../../train/evaluation.js';
import { getDistributed, rankProgress } from '../../train/distributed.js';
import { isOptimizerName } from '../../train/optim.js';
import { isScheduleName } from '../../train/schedule.js';
import { latestTrainingStateDir } from '../../train/training-state.js';
import { loadFinetuneTokenizer, type FinetuneTokenizer } from '../../train/text-encoding.js';
import { loadForFinetuning } from '../../train/finetune-model.js';
import { UsageError, exitCodeOf, numberFlag, parseFlags } from '../command.js';

export const usage = `Usage: bert finetune --model DIR --train FILE --output DIR [options]

Data
  --train FILE              .jsonl/.jsonl.gz, .csv/.tsv(.gz) or an aclImdb split folder (train/)
  --eval FILE               evaluation set (same formats), scored every --eval-steps and at the end
  --task T                  text-classification (default) | token-classification (JSONL tokens + ner_tags)
  --train-samples N         seeded random subset of N training examples (shuffle, then take N)
  --eval-samples N          seeded random subset of the evaluation set
  --text-column C --text-pair-column C --label-column C
  --labels a,b,c            label names in id order (sets id2label / label2id of the output model)
  --label2id JSON           e.g. '{"negative":0,"positive":1}'
  --problem-type P          single_label_classification | multi_label_classification | regression
  --max-length N            tokens per example incl. [CLS]/[SEP] (default 128)
Training
  --epochs N (3)  --batch-size N (8)  --grad-accum N (1)  --lr X (5e-5)
  --optimizer adamw|adam|bert-adam (adamw)  --adam-eps X (1e-8)  --adam-beta1 X (0.9)  --adam-beta2 X (0.999)
  --weight-decay X (0)  --schedule constant|linear|cosine (linear)  --warmup-ratio X (0)  --warmup-steps N
  --max-grad-norm X (1.0, 0 = off)  --seed N (42)  --length-bucketing
  --eval-steps N  --save-steps N  --early-stopping N (evaluations without improvement)  --metric NAME
  --eval-batch-size N (32)  --backend js|native|auto
Output
  --output DIR              HF model folder (config.json with id2label, model.safetensors, tokenizer files),
                            checkpoints/, training_curve.svg, eval_results.json; with --eval the saved weights
                            are the best evaluated ones (--metric, default accuracy / f1 for tokens)
  --resume                  continue from DIR/checkpoints (same flags)
  --tokenizer DIR           tokenizer folder when the model folder has none
  --random-init             take only config.json (and the tokenizer) from --model and start from HF's random
                            initialisation (seeded by --seed): the no-pre-training baseline
  --log FILE                JSON lines log of every step and evaluation (default DIR/train_log.jsonl); stderr shows
                            a progress bar on a terminal, throttled JSON lines otherwise
  --no-summary              do not print the summary JSON line on stdout (it is always in DIR/eval_results.json)`;

const OPTIONS = {
  model: { type: 'string' },
  train: { type: 'string' },
  eval: { type: 'string' },
  task: { type: 'string' },
  'train-samples': { type: 'string' },
  'eval-samples': { type: 'string' },
  'text-column': { type: 'string' },
  'text-pair-column': { type: 'string' },
  'label-column': { type: 'string' },
  labels: { type: 'string' },
  label2id: { type: 'string' },
  'problem-type': { type: 'string' },
  'max-length': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  'grad-accum': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  'adam-eps': { type: 'string' },
  'adam-beta1': { type: 'string' },
  'adam-beta2': { type: 'string' },
  'weight-decay': { type: 'string' },
  schedule: { type: 'string' },
  'warmup-ratio': { type: 'string' },
  'warmup-steps': { type: 'string' },
  'max-grad-norm': { type: 'string' },
  seed: { type: 'string' },
  'length-bucketing': { type: 'boolean' },
  'eval-steps': { type: 'string' },
  'save-steps': { type: 'string' },
  'early-stopping': { type: 'string' },
  metric: { type: 'string' },
  'eval-batch-size': { type: 'string' },
  backend: { type: 'string' },
  output: { type: 'string' },
  resume: { type: 'boolean' },
  log: { type: 'string' },
  tokenizer: { type: 'string' },
  'no-summary': { type: 'boolean' },
  'random-init': { type: 'boolean' },
  'stop-after-steps': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A number (or integer) flag `flag` ("--lr"), or `dflt` when absent: numberFlag's check and message. */
export function num(v: string | undefined, flag: string, dflt: number, kind: 'int' | 'float' = 'float'): number {
  return kind === 'int'
    ? numberFlag(v, flag.replace(/^--/, ''), dflt, Number.isInteger, 'an integer')
    : numberFlag(v, flag.replace(/^--/, ''), dflt, Number.isFinite, 'a number');
}

function optInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = num(v, flag, 0, 'int');
  if (x <= 0) throw new UsageError(`${flag} must be positive, got ${x}`);
  return x;
}

/** True when id2label only holds HF's placeholder names (LABEL_0, LABEL_1, ...). */
function genericLabels(c: BertConfig): boolean {
  return Object.entries(c.id2label).every(([k, v]) => v === `LABEL_${k}`);
}

/** label2id from --labels / --label2id; undefined when neither was given. */
export function labelMapFromFlags(
  labels: string | undefined,
  label2id: string | undefined,
): Record<string, number> | undefined {
  if (labels !== undefined && label2id !== undefined) throw new UsageError('give --labels or --label2id, not both');
  if (labels !== undefined) {
    const names = labels.split(',').map((s) => s.trim());
    if (names.some((n) => n === '') || new Set(names).size !== names.length)
      throw new UsageError(`--labels must be distinct non-empty names separated by commas, got "${labels}"`);
    return Object.fromEntries(names.map((n, i) => [n, i]));
  }
  if (label2id !== undefined) {
    let j: unknown;
    try {
      j = JSON.parse(label2id);
    } catch (e) {
      throw new UsageError(`--label2id is not valid JSON: ${(e as Error).message}`);
    }
    if (
      typeof j !== 'object' ||
      j === null ||
      Array.isArray(j) ||
      !Object.values(j).every((v) => Number.isInteger(v) && (v as number) >= 0)
    ) {
      throw new UsageError('--label2id must be a JSON object of name → non-negative integer id');
    }
    const ids = new Set(Object.values(j as Record<string, number>));
    for (let i = 0; i < ids.size; i++)
      if (!ids.has(i)) throw new UsageError(`--label2id ids must be 0..${ids.size - 1} without gaps`);
    return j as Record<string, number>;
  }
  return undefined;
}

function copyTokenizerFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(from, f))) {
      copyFileSync(join(from, f), join(to, f));
      copied.push(f);
    }
  }
  if (!copied.includes('vocab.txt') && !copied.includes('tokenizer.json'))
    throw new Error(`${from}: no vocab.txt or tokenizer.json to copy into the output folder`);
  return copied;
}

function encodeText(
  tok: FinetuneTokenizer,
  ex: readonly TextClassificationExample[],
  maxLength: number,
): EncodedExample[] {
  return ex.map((e) => ({ ...tok.encode(e.text, e.textPair, maxLength), label: e.label }));
}

function encodeTokens(
  tok: FinetuneTokenizer,
  ex: readonly TokenClassificationExample[],
  maxLength: number,
): EncodedExample[] {
  return ex.map((e) => {
    const a = alignFirstWordPiece(e, tok, maxLength);
    return { inputIds: a.inputIds, tokenTypeIds: new Array<number>(a.inputIds.length).fill(0), tokenLabels: a.labels };
  });
}

/** Runs the command; returns the process exit code (2 for usage errors, 1 for data/model errors). */
export function finetuneCommand(argv: string[]): Promise<number> {
  return exitCodeOf('finetune', () => run(argv), '(see bert finetune --help)\n');
}

async function run(argv: string[]): Promise<number> {
  const values = parseFlags(argv, OPTIONS, usage);
  if (!values) return 0;
  // ---- validate every flag before reading data or loading the model ----
  for (const f of ['model', 'train', 'output'] as const) if (!values[f]) throw new UsageError(`--${f} is required`);
  const modelDir = values.model!;
  const output = values.output!;
  const task = values.task ?? 'text-classification';
  if (task !== 'text-classification' && task !== 'token-classification')
    throw new UsageError(`--task must be text-classification or token-classification, got "${task}"`);
  const maxLength = num(values['max-length'], '--max-length', 128, 'int');
  const epochs = num(values.epochs, '--epochs', 3, 'int');
  const batchSize = num(values['batch-size'], '--batch-size', 8, 'int');
  const gradAccum = num(values['grad-accum'], '--grad-accum', 1, 'int');
  const evalBatch = num(values['eval-batch-size'], '--eval-batch-size', 32, 'int');
  for (const [flag, v] of [
    ['--epochs', epochs],
    ['--batch-size', batchSize],
    ['--grad-accum', gradAccum],
    ['--eval-batch-size', evalBatch],
  ] as const) {
    if (v <= 0) throw new UsageError(`${flag} must be positive, got ${v}`);
  }
  const lr = num(values.lr, '--lr', 5e-5);
  if (!(lr > 0)) throw new UsageError(`--lr must be positive, got ${lr}`);
  const optimizer = values.optimizer ?? 'adamw';
  if (!isOptimizerName(optimizer))
    throw new UsageError(`--optimizer must be adamw, adam or bert-adam, got "${optimizer}"`);
  const schedule = values.schedule ?? 'linear';
  if (!isScheduleName(schedule))
    throw new UsageError(`--schedule must be constant, linear or cosine, got "${schedule}"`);
  const eps = num(values['adam-eps'], '--adam-eps', optimizer === 'bert-adam' ? 1e-6 : 1e-8);
  const beta1 = num(values['adam-beta1'], '--adam-beta1', 0.9);
  const beta2 = num(values['adam-beta2'], '--adam-beta2', 0.999);
  if (!(eps > 0)) throw new UsageError(`--adam-eps must be positive, got ${eps}`);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    throw new UsageError('--adam-beta1 / --adam-beta2 must be in [0, 1)');
  const weightDecay = num(values['weight-decay'], '--weight-decay', 0);
  if (weightDecay < 0) throw new UsageError(`--weight-decay must be >= 0, got ${weightDecay}`);
  if (optimizer === 'adam' && weightDecay !== 0)
    throw new UsageError('--optimizer adam takes no --weight-decay; use adamw for decoupled weight decay');
  const warmupRatio = num(values['warmup-ratio'], '--warmup-ratio', 0);
  if (!(warmupRatio >= 0 && warmupRatio < 1))
    throw new UsageError(`--warmup-ratio must be in [0, 1), got ${warmupRatio}`);
  const warmupSteps =
    values['warmup-steps'] === undefined ? undefined : num(values['warmup-steps'], '--warmup-steps', 0, 'int');
  if (warmupSteps !== undefined && warmupSteps < 0) throw new UsageError('--warmup-steps must be >= 0');
  const maxGradNorm = num(values['max-grad-norm'], '--max-grad-norm', 1);
  if (maxGradNorm < 0) throw new UsageError('--max-grad-norm must be >= 0');
  const seed = num(values.seed, '--seed', 42, 'int');
  const randomInit = values['random-init'] === true;
  const trainSamples = optInt(values['train-samples'], '--train-samples');
  const evalSamples = optInt(values['eval-samples'], '--eval-samples');
  const evalSteps = optInt(values['eval-steps'], '--eval-steps');
  const saveSteps = optInt(values['save-steps'], '--save-steps');
  const patience = optInt(values['early-stopping'], '--early-stopping');
  const stopAfter = optInt(values['stop-after-steps'], '--stop-after-steps');
  const backend = values.backend ?? 'auto';
  if (backend !== 'js' && backend !== 'native' && backend !== 'auto')
    throw new UsageError(`--backend must be js, native or auto, got "${backend}"`);
  const problemFlag = values['problem-type'];
  if (
    problemFlag !== undefined &&
    !['single_label_classification', 'multi_label_classification', 'regression'].includes(problemFlag)
  ) {
    throw new UsageError(
      `--problem-type must be single_label_classification, multi_label_classification or regression, got "${problemFlag}"`,
    );
  }
  if (patience !== undefined && !values.eval) throw new UsageError('--early-stopping needs --eval');
  if (evalSteps !== undefined && !values.eval) throw new UsageError('--eval-steps needs --eval');
  const flagLabels = labelMapFromFlags(values.labels, values.label2id);

  const config = readConfig(modelDir);
  if (maxLength < 2) throw new UsageError(`--max-length must be at least 2 ([CLS] and [SEP]), got ${maxLength}`);
  if (maxLength > config.maxPositionEmbeddings) {
    throw new UsageError(
      `--max-length ${maxLength} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings} (${modelDir}/config.json)`,
    );
  }
  if (existsSync(output) && !statSync(output).isDirectory())
    throw new UsageError(`--output ${output} exists and is not a folder`);
  const hasCheckpoint = existsSync(join(output, 'checkpoints', 'latest.json'));
  if (values.resume && !hasCheckpoint)
    throw new UsageError(
      `--resume: ${output} holds no checkpoint (${join(output, 'checkpoints', 'latest.json')} missing)`,
    );
  if (!values.resume && hasCheckpoint) {
    throw new UsageError(
      `${output} already holds a training checkpoint (${latestTrainingStateDir(output)}); add --resume to continue it or choose another --output`,
    );
  }

  const tokDir = values.tokenizer ?? modelDir;
  let tokLoaded: FinetuneTokenizer | null = null;
  // Loaded after the data files were read and checked, so data errors come first (and fast).
  const getTok = async (): Promise<FinetuneTokenizer> => {
    if (tokLoaded) return tokLoaded;
    const t = await loadFinetuneTokenizer(tokDir);
    if (t.vocabSize > config.vocabSize) {
      throw new Error(
        `${tokDir}: the tokenizer has ${t.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}: tokenizer and model do not match`,
      );
    }
    tokLoaded = t;
    return t;
  };
  const modelLabels = genericLabels(config) ? undefined : { ...config.label2id };

  // ---- data ----
  const kernels = getKernels({ backend: backend as BackendChoice });
  // Every step goes to a JSON-lines log (default next to the checkpoints), whatever the terminal shows.
  const progress = rankProgress({ logFile: values.log ?? join(output, 'train_log.jsonl') });
  let numLabels: number;
  let id2label: Record<number, string>;
  let problemType: ProblemType =
    (problemFlag as ProblemType | undefined) ?? config.problemType ?? 'single_label_classification';
  let trainEnc: EncodedExample[];
  let evalEnc: EncodedExample[] | null = null;
  let evalFn: (() => Record<string, number>) | undefined;
  let buildModel: () => Promise<BertForSequenceClassification | BertForTokenClassification>;
  const t0 = performance.now();

  if (task === 'text-classification') {
    const label2id = flagLabels ?? modelLabels;
    const readOpts = {
      textColumn: values['text-column'],
      textPairColumn: values['text-pair-column'],
      labelColumn: values['label-column'],
      label2id,
      problemType,
      numLabels: label2id ? Object.keys(label2id).length : undefined,
    };
    let train = await readTextClassification(values.train!, readOpts);
    let evalEx = values.eval ? await readTextClassification(values.eval, readOpts) : null;
    if (trainSamples !== undefined) train = sampleSubset(train, trainSamples, seed);
    if (evalEx && evalSamples !== undefined) evalEx = sampleSubset(evalEx, evalSamples, seed + 1);
    if (problemType === 'single_label_classification') {
      const maxId = Math.max(...train.map((e) => e.label as number), ...(evalEx ?? []).map((e) => e.label as number));
      numLabels = label2id ? new Set(Object.values(label2id)).size : Math.max(2, maxId + 1);
    } else {
      numLabels = (train[0]!.label as number[]).length;
      if (problemType === 'regression' && numLabels !== 1)
        throw new Error(`${values.train}: regression with ${numLabels} targets per example; bert-ts expects one`);
    }
    id2label = label2id
      ? Object.fromEntries(Object.entries(label2id).map(([k, v]) => [v, k]))
      : Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
    progress.message(
      `read ${train.length} training examples${evalEx ? ` and ${evalEx.length} evaluation examples` : ''}; tokenizing (max length ${maxLength})`,
    );
    const tok = await getTok();
    trainEnc = encodeText(tok, train, maxLength);
    evalEnc = evalEx ? encodeText(tok, evalEx, maxLength) : null;
    const overrides = {
      num_labels: numLabels,
      id2label,
      label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
      problem_type: problemType,
    };
    buildModel = async () =>
      loadForFinetuning(BertForSequenceClassification, modelDir, overrides, {
        kernels,
        seed,
        randomInit,
        warn: (m) => progress.message(m),
      });
  } else {
    let label2id = flagLabels ?? modelLabels;
    if (!label2id) {
      // CoNLL-style string tags with no mapping given: use the CoNLL-2003 order when every tag belongs to it (the
      // ids HF's conll2003 dataset uses), else the sorted tag set (what HF run_ner does for string labels).
      const tags = await collectTags(values.train!);
      const names = [...tags].every((t) => CONLL2003_LABELS.includes(t)) ? [...CONLL2003_LABELS] : [...tags].sort();
      label2id = Object.fromEntries(names.map((n, i) => [n, i]));
    }
    numLabels = Object.keys(label2id).length;
    id2label = Object.fromEntries(Object.entries(label2id).map(([k, v]) => [v, k]));
    let train = await readConllJsonl(values.train!, { label2id });
    let evalEx = values.eval ? await readConllJsonl(values.eval, { label2id }) : null;
    if (trainSamples !== undefined) train = sampleSubset(train, trainSamples, seed);
    if (evalEx && evalSamples !== undefined) evalEx = sampleSubset(evalEx, evalSamples, seed + 1);
    progress.message(
      `read ${train.length} training sentences${evalEx ? ` and ${evalEx.length} evaluation sentences` : ''}; tokenizing (max length ${maxLength})`,
    );
    const tok = await getTok();
    trainEnc = encodeTokens(tok, train, maxLength);
    evalEnc = evalEx ? encodeTokens(tok, evalEx, maxLength) : null;
    problemType = 'single_label_classification';
    const overrides = { num_labels: numLabels, id2label, label2id };
    buildModel = async () =>
      loadForFinetuning(BertForTokenClassification, modelDir, overrides, {
        kernels,
        seed,
        randomInit,
        warn: (m) => progress.message(m),
      });
  }
  const tok = await getTok();
  const model = await buildModel();
  if (evalEnc) {
    const ev = evalEnc;
    const data = encodedDataset(ev, task === 'token-classification' ? 'token' : 'sequence', tok.padId);
    evalFn =
      task === 'token-classification'
        ? () =>
            evaluateTokenClassification(
              model,
              data,
              ev.map((e) => e.tokenLabels!),
              id2label,
              evalBatch,
            ).metrics
        : () =>
            evaluateSequenceClassification(
              model,
              data,
              ev.map((e) => e.label!),
              numLabels,
              problemType,
              evalBatch,
            ).metrics;
  }
  const metric =
    values.metric ?? (task === 'token-classification' ? 'f1' : problemType === 'regression' ? 'mse' : 'accuracy');
  const prepSeconds = (performance.now() - t0) / 1000;

  mkdirSync(output, { recursive: true });
  const trainer = new Trainer(
    bertTrainerModel(model),
    new EpochSampler(encodedDataset(trainEnc, task === 'token-classification' ? 'token' : 'sequence', tok.padId), {
      batchSize,
      seed,
      lengthBucketing: Boolean(values['length-bucketing']),
    }),
    {
      epochs,
      gradAccum,
      lr,
      optimizer: { name: optimizer, eps, betas: [beta1, beta2], weightDecay },
      schedule,
      warmupRatio,
      warmupSteps,
      maxGradNorm,
      evalSteps,
      evaluate: evalFn,
      metricForBest: metric,
      greaterIsBetter: !['loss', 'mse', 'mae'].includes(metric),
      earlyStoppingPatience: patience,
      output,
      saveSteps,
      resume: Boolean(values.resume),
      progress,
      kernels,
      shouldStop: stopAfter === undefined ? undefined : (step) => step >= stopAfter,
      settings: {
        model: modelDir,
        task,
        maxLength,
        train: values.train,
        trainSamples: trainSamples ?? null,
        numLabels,
        problemType,
        randomInit,
      },
    },
  );
  progress.message(
    `fine-tuning ${model.architecture} (${kernels.name}): ${trainEnc.length} examples, ${trainer.totalSteps} steps, ` +
      `batch ${batchSize}${gradAccum > 1 ? ` x ${gradAccum}` : ''}, ${optimizer} lr ${lr} ${schedule}`,
  );
  const result = await trainer.train();
  if (result.stoppedBy === 'stop') {
    progress.message(`stopped after step ${result.steps} of ${result.totalSteps}; continue with --resume`);
    return 0;
  }

  // ---- output: a HF model folder (under mpirun, rank 0 writes it; the replicas hold the same weights) ----
  if (getDistributed().rank !== 0) return 0;
  await model.save(output);
  const tokFiles = copyTokenizerFiles(tokDir, output);
  const last = result.evals.at(-1);
  const summary = {
    model: output,
    task,
    architecture: model.architecture,
    backend: kernels.name,
    train_examples: trainEnc.length,
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
    eval: last?.metrics ?? null,
    best_eval: result.evals.find((e) => e.step === result.bestStep)?.metrics ?? null,
    tokenizer_files: tokFiles,
  };
  writeFileAtomic(join(output, 'eval_results.json'), JSON.stringify(summary, null, 2) + '\n');
  if (values['no-summary'] !== true) process.stdout.write(JSON.stringify(summary) + '\n');
  return 0;
}

export default finetuneCommand;
