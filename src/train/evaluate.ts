// evaluate(options): scores a fine-tuned model folder on labelled data, or a pre-trained one on pre-training shards.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../native/index.js';
import type { Kernels } from '../tensor/kernels.js';
import { parseModelDtype, type ModelDtype } from '../model/linear-dtype.js';
import {
  BertForMultipleChoice,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
} from '../model/bert.js';
import { readSquad, readSwag } from '../data/squad.js';
import { choicesDataset } from '../data/batching.js';
import { encodeChoices, qaDecodeOptions, QA_DEFAULTS } from './finetune-tasks.js';
import { readConfig } from '../model/checkpoint.js';
import type { ProblemType } from '../model/config.js';
import { InputError } from '../model/errors.js';
import { readTextClassification, type TextClassificationOptions } from '../data/classification.js';
import { readConllJsonl } from '../data/conll.js';
import { sampleSubset } from '../data/sampling.js';
import { encodedDataset } from '../data/batching.js';
import { readPretrainingVocab } from '../data/pretraining.js';
import { loadPretrainingModel } from './pretrain-model.js';
import { evaluatePretraining, readEvalInstances, type PretrainEvaluation } from './pretrain-eval.js';
import {
  evaluateMultipleChoice,
  evaluateQuestionAnswering,
  evaluateSequenceClassification,
  evaluateTokenClassification,
} from './evaluation.js';
import type { ClassificationReport, EntityReport, MultiLabelReport, RegressionReport } from './metrics.js';
import { encodeTextExamples, encodeTokenExamples, loadFinetuneTokenizer } from './text-encoding.js';
import { FINETUNE_TASKS, genericLabels, taskOfConfig, type FinetuneTask } from './finetune.js';

export interface EvaluateOptions extends Pick<
  TextClassificationOptions,
  'textColumn' | 'textPairColumn' | 'labelColumn'
> {
  /** A fine-tuned model folder, or a pre-trained one (BertForPreTraining) when `data` holds pre-training shards. */
  model: string;
  /** Labelled data (.jsonl(.gz), .csv/.tsv(.gz), an aclImdb split folder, CoNLL JSONL) or a shard folder. */
  data: string;
  /** Default: from config.json architectures. */
  task?: FinetuneTask;
  /** Tokens per example (default 128; question answering 384, capped by the model). */
  maxLength?: number;
  /** Question answering: context tokens shared by consecutive windows (default 128). */
  docStride?: number;
  /** Question answering: the longest answer in tokens (default 30). */
  maxAnswerLength?: number;
  batchSize?: number;
  /** Score a seeded random subset of this many examples (pre-training: the first this many instances). */
  samples?: number;
  seed?: number;
  /** Tokenizer folder when the model folder has none. */
  tokenizer?: string;
  kernels?: Kernels;
  /** What the model's linear layers compute in: 'fp32' (default), 'q8' or 'bf16' (see ModelOptions.dtype). */
  dtype?: ModelDtype;
  /** Called after each batch with examples done and total. */
  onProgress?: (done: number, total: number) => void;
  /** Where load warnings go (default console.warn). */
  warn?: (message: string) => void;
}

/** What evaluate found; `metrics` is the flat JSON summary (seconds and examples_per_second included). */
export type EvaluateResult =
  | {
      task: 'text-classification';
      metrics: Record<string, unknown>;
      report: ClassificationReport | MultiLabelReport | RegressionReport;
      problemType: ProblemType;
      id2label: Record<number, string>;
      /** [examples, numLabels], in the data's order. */
      logits: Float32Array;
    }
  | {
      task: 'token-classification';
      metrics: Record<string, unknown>;
      report: EntityReport;
      /** [labelled positions (the words' first WordPieces), numLabels], in the data's order. */
      logits: Float32Array;
    }
  | {
      task: 'question-answering';
      metrics: Record<string, unknown>;
      /** Exact match and F1 in percent (the official SQuAD script's figures), and each question's answer. */
      report: { exact_match: number; f1: number; examples: number; predictions: Record<string, string> };
    }
  | { task: 'multiple-choice'; metrics: Record<string, unknown>; report: { accuracy: number; examples: number } }
  | { task: 'pretraining'; metrics: Record<string, unknown>; report: PretrainEvaluation };

const where = 'evaluate';

function positive(value: number | undefined, option: string, min = 1): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new InputError(where, (n) => `${n(option)} must be an integer >= ${min}, got ${value}`);
}

/** Scores `options.model` on `options.data` (see EvaluateOptions). */
export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  const o = options;
  positive(o.batchSize, 'batchSize');
  positive(o.samples, 'samples');
  positive(o.seed, 'seed', 0);
  positive(o.docStride, 'docStride', 0);
  positive(o.maxAnswerLength, 'maxAnswerLength');
  const kernels = o.kernels ?? getKernels();
  const dtype = parseModelDtype(o.dtype ?? 'fp32', where);
  const batchSize = o.batchSize ?? 32;
  const seed = o.seed ?? 42;
  // A seeded subset when `samples` is set, else every example.
  const sampled = <T>(ex: T[]): T[] => (o.samples === undefined ? ex : sampleSubset(ex, o.samples, seed));
  const t0 = performance.now();
  const timed = (metrics: Record<string, unknown>, examples: number): Record<string, unknown> => {
    const seconds = (performance.now() - t0) / 1000;
    return {
      ...metrics,
      seconds: Number(seconds.toFixed(2)),
      examples_per_second: Number((examples / seconds).toFixed(2)),
    };
  };
  if (existsSync(join(o.data, 'dataset.json'))) {
    const vocab = readPretrainingVocab(o.tokenizer ?? o.model);
    const instances = readEvalInstances(o.data, o.samples ?? Infinity, vocab, seed);
    const { model, newlyInitialized } = await loadPretrainingModel(o.model, { kernels, dtype, warn: () => {} });
    if (newlyInitialized.length > 0) {
      const first = newlyInitialized[0];
      throw new InputError(o.model, `not a pre-trained BERT (no ${first}); the MLM and NSP heads are needed`);
    }
    if (model.config.vocabSize !== vocab.size) {
      throw new InputError(
        o.model,
        `vocab_size ${model.config.vocabSize}, but the data was made with a vocabulary of ${vocab.size} tokens`,
      );
    }
    const report = evaluatePretraining(model, instances, batchSize, vocab.padId);
    return { task: 'pretraining', metrics: timed({ ...report }, report.instances), report };
  }
  const config = readConfig(o.model);
  const task = o.task ?? taskOfConfig(config);
  if (!FINETUNE_TASKS.includes(task))
    throw new InputError(where, (n) => `${n('task')} must be one of ${FINETUNE_TASKS.join(', ')}, got "${task}"`);
  const maxLength =
    o.maxLength ?? (task === 'question-answering' ? Math.min(QA_DEFAULTS.maxLength, config.maxSequenceLength) : 128);
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > config.maxSequenceLength) {
    throw new InputError(
      where,
      (n) =>
        `${n('maxLength')} ${maxLength} must be in [2, ${config.maxSequenceLength}] (max_position_embeddings of ${o.model})`,
    );
  }
  const tok = await loadFinetuneTokenizer(o.tokenizer ?? o.model);
  const { id2label, label2id } = config;
  const warn = o.warn;
  if (task === 'question-answering') {
    const ex = sampled(await readSquad(o.data));
    const model = await BertForQuestionAnswering.fromPretrained(o.model, { kernels, dtype, warn });
    const impossible = ex.some((e) => e.answers.length === 0);
    const decode = qaDecodeOptions(maxLength, { ...o, evalBatchSize: batchSize }, impossible);
    const ev = evaluateQuestionAnswering(model, tok, ex, decode);
    const report = {
      exact_match: ev.metrics['exact_match']!,
      f1: ev.metrics['f1']!,
      examples: ex.length,
      predictions: Object.fromEntries(ex.map((e, i) => [e.id, ev.predictions[i]!])),
    };
    return { task, metrics: timed({ ...ev.metrics }, ex.length), report };
  }
  if (task === 'multiple-choice') {
    const ex = sampled(await readSwag(o.data));
    const enc = encodeChoices(tok, ex, maxLength);
    const model = await BertForMultipleChoice.fromPretrained(o.model, { kernels, dtype, warn });
    const ev = evaluateMultipleChoice(
      model,
      choicesDataset(enc, tok.padId),
      enc.map((e) => e.label),
      batchSize,
    );
    const report = { accuracy: ev.metrics['accuracy']!, examples: ex.length };
    return { task, metrics: timed({ ...ev.metrics }, ex.length), report };
  }

  if (task === 'text-classification') {
    const problemType: ProblemType = config.problemType ?? 'single_label_classification';
    const ex = sampled(
      await readTextClassification(o.data, {
        textColumn: o.textColumn,
        textPairColumn: o.textPairColumn,
        labelColumn: o.labelColumn,
        label2id: genericLabels(config) ? undefined : label2id,
        numLabels: config.numLabels,
        problemType,
      }),
    );
    const enc = encodeTextExamples(tok, ex, maxLength);
    const model = await BertForSequenceClassification.fromPretrained(o.model, { kernels, dtype, warn });
    const ev = evaluateSequenceClassification(
      model,
      encodedDataset(enc, 'sequence', tok.padId),
      enc.map((e) => e.label ?? -100),
      config.numLabels,
      problemType,
      batchSize,
      o.onProgress,
    );
    const metrics: Record<string, unknown> = { ...ev.metrics };
    if (problemType === 'single_label_classification') {
      const r = ev.report as ClassificationReport;
      metrics['per_class'] = Object.fromEntries(r.perClass.map((c, i) => [id2label[i] ?? String(i), c]));
      metrics['confusion_matrix'] = r.confusion;
    }
    return {
      task,
      metrics: timed(metrics, ex.length),
      report: ev.report,
      problemType,
      id2label: { ...id2label },
      logits: ev.logits,
    };
  }
  const ex = sampled(await readConllJsonl(o.data, { label2id, numLabels: config.numLabels }));
  const enc = encodeTokenExamples(tok, ex, maxLength);
  const model = await BertForTokenClassification.fromPretrained(o.model, { kernels, dtype, warn });
  const ev = evaluateTokenClassification(
    model,
    encodedDataset(enc, 'token', tok.padId),
    enc.map((e) => e.tokenLabels ?? []),
    id2label,
    batchSize,
    o.onProgress,
  );
  const r = ev.report;
  const metrics = {
    ...ev.metrics,
    per_type: r.perType,
    true_entities: r.trueEntities,
    predicted_entities: r.predictedEntities,
  };
  return { task, metrics: timed(metrics, ex.length), report: r, logits: ev.logits };
}
