// pipeline(task, model, options): transformers.js-style callables over a BERT checkpoint folder (or hub id),
// returning HF's output shapes.
import { resolveModelPath } from '../io/hub.js';
import {
  BertForMaskedLM,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
} from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { resolveModelFolder } from '../model/checkpoint.js';
import { isSentenceTransformersFolder, SentenceTransformer } from '../model/sentence/index.js';
import type { GroupedEntity, TokenEntity } from './aggregation.js';
import type { QaAnswer } from './qa.js';
import {
  featureExtraction,
  fillMask,
  questionAnswering,
  textClassification,
  tokenClassification,
  type ForwardModel,
  type RunnerContext,
} from './tasks.js';
import { loadPipelineTokenizer } from './tokenizer.js';
import type {
  FeatureExtractionCallOptions,
  FillMaskCallOptions,
  FillMaskResult,
  LabelScore,
  PipelineOptions,
  PipelineTokenizer,
  QaInput,
  QuestionAnsweringCallOptions,
  Task,
  TextClassificationCallOptions,
  TextInput,
  TokenClassificationCallOptions,
} from './types.js';

/** What every pipeline carries besides its call signature. */
export interface PipelineBase<I, O, C> {
  /** The canonical task name (aliases resolved). */
  readonly task: CanonicalTask;
  /** The model folder. */
  readonly model: string;
  readonly config: BertConfig;
  readonly tokenizer: PipelineTokenizer;
  /** One output per input, each in the shape a single-input call returns (what the server and workers use). */
  predictEach(inputs: I[], options?: C): Promise<O[]>;
}

export interface TextClassificationPipeline extends PipelineBase<
  TextInput,
  LabelScore[],
  TextClassificationCallOptions
> {
  /** One text: its topK labels, best first. */
  (input: TextInput, options?: TextClassificationCallOptions): Promise<LabelScore[]>;
  /** Several texts: one {label, score} each when topK is 1 (HF's shape), else a list per text. */
  (inputs: TextInput[], options?: TextClassificationCallOptions): Promise<LabelScore[] | LabelScore[][]>;
}

export interface FillMaskPipeline extends PipelineBase<
  string,
  FillMaskResult[] | FillMaskResult[][],
  FillMaskCallOptions
> {
  /** One text: topK predictions (a list per [MASK] when there are several). */
  (input: string, options?: FillMaskCallOptions): Promise<FillMaskResult[] | FillMaskResult[][]>;
  (inputs: string[], options?: FillMaskCallOptions): Promise<(FillMaskResult[] | FillMaskResult[][])[]>;
}

export interface TokenClassificationPipeline extends PipelineBase<
  string,
  TokenEntity[] | GroupedEntity[],
  TokenClassificationCallOptions
> {
  (input: string, options?: TokenClassificationCallOptions): Promise<TokenEntity[] | GroupedEntity[]>;
  (inputs: string[], options?: TokenClassificationCallOptions): Promise<(TokenEntity[] | GroupedEntity[])[]>;
}

export interface QuestionAnsweringPipeline extends PipelineBase<
  QaInput,
  QaAnswer | QaAnswer[],
  QuestionAnsweringCallOptions
> {
  /** One question: the best answer, or a list when topK > 1. */
  (input: QaInput, options?: QuestionAnsweringCallOptions): Promise<QaAnswer | QaAnswer[]>;
  (question: string, context: string, options?: QuestionAnsweringCallOptions): Promise<QaAnswer | QaAnswer[]>;
  (inputs: QaInput[], options?: QuestionAnsweringCallOptions): Promise<(QaAnswer | QaAnswer[])[]>;
}

export interface FeatureExtractionPipeline extends PipelineBase<
  string,
  number[] | number[][],
  FeatureExtractionCallOptions
> {
  /** One text: [tokens][hidden] without pooling, [hidden] with cls/mean pooling, the folder's embedding with model. */
  (input: string, options?: FeatureExtractionCallOptions): Promise<number[] | number[][]>;
  (inputs: string[], options?: FeatureExtractionCallOptions): Promise<(number[] | number[][])[]>;
}

export type CanonicalTask =
  'text-classification' | 'fill-mask' | 'token-classification' | 'question-answering' | 'feature-extraction';

const ALIASES: Record<Task, CanonicalTask> = {
  'text-classification': 'text-classification',
  'sentiment-analysis': 'text-classification',
  'fill-mask': 'fill-mask',
  'token-classification': 'token-classification',
  ner: 'token-classification',
  'question-answering': 'question-answering',
  'feature-extraction': 'feature-extraction',
};

export const TASKS = Object.keys(ALIASES) as Task[];

/** The canonical name of a task or alias; a clear error for anything else. */
export function canonicalTask(task: string): CanonicalTask {
  const canonical = ALIASES[task as Task];
  if (!canonical) throw new Error(`unknown task "${task}"; supported: ${TASKS.join(', ')}`);
  return canonical;
}

/** Resolves a model argument to a local folder: a folder as is, a hub id ("org/name") through the HF cache. */
export async function resolveModel(model: string | undefined, options: PipelineOptions): Promise<string> {
  if (!model) {
    throw new Error(
      'pipeline() needs a model: a folder written by save_pretrained / bert train, or a hub id like "org/name"',
    );
  }
  return resolveModelPath(model, { revision: options.revision });
}

function context<O>(model: ForwardModel<O>, tokenizer: PipelineTokenizer, options: PipelineOptions): RunnerContext<O> {
  const limit = Math.min(tokenizer.modelMaxLength, model.config.maxPositionEmbeddings);
  const maxLength = Math.min(options.maxLength ?? limit, limit);
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(maxLength) || maxLength < 3)
    throw new RangeError(`maxLength must be an integer >= 3, got ${maxLength}`);
  return { model, tokenizer, maxLength, batchSize };
}

/** Attaches the shared properties to a call function (a pipeline is a function, as in transformers.js). */
function callable<F extends object, B extends object>(fn: F, base: B): F & B {
  return Object.assign(fn, base);
}

export function pipeline(
  task: 'text-classification' | 'sentiment-analysis',
  model?: string,
  options?: PipelineOptions,
): Promise<TextClassificationPipeline>;
export function pipeline(task: 'fill-mask', model?: string, options?: PipelineOptions): Promise<FillMaskPipeline>;
export function pipeline(
  task: 'token-classification' | 'ner',
  model?: string,
  options?: PipelineOptions,
): Promise<TokenClassificationPipeline>;
export function pipeline(
  task: 'question-answering',
  model?: string,
  options?: PipelineOptions,
): Promise<QuestionAnsweringPipeline>;
export function pipeline(
  task: 'feature-extraction',
  model?: string,
  options?: PipelineOptions,
): Promise<FeatureExtractionPipeline>;
export function pipeline(task: Task, model?: string, options?: PipelineOptions): Promise<AnyPipeline>;
export async function pipeline(task: Task, model?: string, options: PipelineOptions = {}): Promise<AnyPipeline> {
  const canonical = canonicalTask(task);
  const dir = await resolveModel(model, options);
  // One real path for the tokenizer and the model: a folder symlink swapped meanwhile cannot pair two versions.
  const folder = resolveModelFolder(dir);
  const tokenizer = await loadPipelineTokenizer(options.tokenizer ?? folder);
  const load = { kernels: options.kernels, warn: options.warn };
  switch (canonical) {
    case 'text-classification': {
      const m = await BertForSequenceClassification.fromPretrained(folder, load);
      const ctx = context(m, tokenizer, options);
      const predictEach = async (inputs: TextInput[], o?: TextClassificationCallOptions) =>
        textClassification(ctx, inputs, o);
      const call = async (input: TextInput | TextInput[], o?: TextClassificationCallOptions) => {
        if (!Array.isArray(input)) return (await predictEach([input], o))[0];
        const each = await predictEach(input, o);
        return (o?.topK ?? 1) === 1 ? each.map((r) => r[0]) : each;
      };
      return callable(call, {
        task: canonical,
        model: dir,
        config: m.config,
        tokenizer,
        predictEach,
      }) as TextClassificationPipeline;
    }
    case 'fill-mask': {
      const m = await BertForMaskedLM.fromPretrained(folder, load);
      const ctx = context(m, tokenizer, options);
      const predictEach = async (inputs: string[], o?: FillMaskCallOptions) => fillMask(ctx, inputs, o);
      const call = async (input: string | string[], o?: FillMaskCallOptions) =>
        Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0];
      return callable(call, {
        task: canonical,
        model: dir,
        config: m.config,
        tokenizer,
        predictEach,
      }) as FillMaskPipeline;
    }
    case 'token-classification': {
      const m = await BertForTokenClassification.fromPretrained(folder, load);
      const ctx = context(m, tokenizer, options);
      const predictEach = async (inputs: string[], o?: TokenClassificationCallOptions) =>
        tokenClassification(ctx, inputs, o);
      const call = async (input: string | string[], o?: TokenClassificationCallOptions) =>
        Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0];
      return callable(call, {
        task: canonical,
        model: dir,
        config: m.config,
        tokenizer,
        predictEach,
      }) as TokenClassificationPipeline;
    }
    case 'question-answering': {
      const m = await BertForQuestionAnswering.fromPretrained(folder, load);
      const ctx = context(m, tokenizer, options);
      const predictEach = async (inputs: QaInput[], o?: QuestionAnsweringCallOptions) => {
        const ranked = questionAnswering(ctx, inputs, o);
        // HF returns the answer itself for top_k 1, a list otherwise.
        return ranked.map((answers) => ((o?.topK ?? 1) === 1 && answers.length === 1 ? answers[0] : answers));
      };
      const call = async (
        input: QaInput | QaInput[] | string,
        contextOrOptions?: string | QuestionAnsweringCallOptions,
        maybeOptions?: QuestionAnsweringCallOptions,
      ) => {
        if (typeof input === 'string') {
          if (typeof contextOrOptions !== 'string')
            throw new TypeError('question-answering: pass (question, context) or {question, context}');
          return (await predictEach([{ question: input, context: contextOrOptions }], maybeOptions))[0];
        }
        const o = typeof contextOrOptions === 'string' ? maybeOptions : contextOrOptions;
        return Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0];
      };
      return callable(call, {
        task: canonical,
        model: dir,
        config: m.config,
        tokenizer,
        predictEach,
      }) as QuestionAnsweringPipeline;
    }
    case 'feature-extraction': {
      const quiet = { ...load, warn: options.warn ?? (() => {}) };
      // A sentence-transformers folder brings its own pooling and normalisation (modules.json).
      const sentence = isSentenceTransformersFolder(folder)
        ? await SentenceTransformer.fromPretrained(folder, quiet)
        : null;
      const m = sentence?.bert ?? (await BertModel.fromPretrained(folder, quiet));
      const ctx = context(m, tokenizer, options);
      const predictEach = async (inputs: string[], o?: FeatureExtractionCallOptions) =>
        featureExtraction(ctx, inputs, o, sentence);
      const call = async (input: string | string[], o?: FeatureExtractionCallOptions) =>
        Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0];
      return callable(call, {
        task: canonical,
        model: dir,
        config: m.config,
        tokenizer,
        predictEach,
      }) as FeatureExtractionPipeline;
    }
  }
}

export type AnyPipeline =
  | TextClassificationPipeline
  | FillMaskPipeline
  | TokenClassificationPipeline
  | QuestionAnsweringPipeline
  | FeatureExtractionPipeline;
