// pipeline(task, model, options): transformers.js-style callables over a BERT checkpoint folder (or hub id),
// returning HF's output shapes.
import { resolveModelPath } from '../io/hub.js';
import type { BertConfig } from '../model/config.js';
import { resolveModelFolder } from '../model/checkpoint.js';
import type { FeatureExtractionPipeline } from './feature-extraction.js';
import type { FillMaskPipeline } from './fill-mask.js';
import type { QuestionAnsweringPipeline } from './question-answering.js';
import { runnerContext } from './runner.js';
import { canonicalTask, SUPPORTED_TASKS, type AnyTaskDefinition, type CanonicalTask } from './tasks.js';
import type { TextClassificationPipeline } from './text-classification.js';
import type { TokenClassificationPipeline } from './token-classification.js';
import { loadPipelineTokenizer } from './tokenizer.js';
import type { PipelineOptions, PipelineTokenizer, Task } from './types.js';

export { canonicalTask, TASKS, type CanonicalTask } from './tasks.js';
export type {
  FeatureExtractionPipeline,
  FillMaskPipeline,
  QuestionAnsweringPipeline,
  TextClassificationPipeline,
  TokenClassificationPipeline,
};

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

/** Resolves a model argument to a local folder: a folder as is, a hub id ("org/name") through the HF cache. */
export async function resolveModel(model: string | undefined, options: PipelineOptions): Promise<string> {
  if (!model) {
    throw new Error(
      'pipeline() needs a model: a folder written by save_pretrained / bert train, or a hub id like "org/name"',
    );
  }
  return resolveModelPath(model, { revision: options.revision });
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
  const row = SUPPORTED_TASKS[canonical] as AnyTaskDefinition;
  const loaded = await row.loadModel(folder, { kernels: options.kernels, warn: options.warn });
  const ctx = runnerContext(loaded, tokenizer, options);
  const predictEach = async (inputs: never[], o?: never) => row.run(ctx, inputs, o);
  const call =
    row.call?.(predictEach) ??
    (async (input: never | never[], o?: never) =>
      Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0]);
  return callable(call, { task: canonical, model: dir, config: loaded.config, tokenizer, predictEach }) as AnyPipeline;
}

export type AnyPipeline =
  | TextClassificationPipeline
  | FillMaskPipeline
  | TokenClassificationPipeline
  | QuestionAnsweringPipeline
  | FeatureExtractionPipeline;
