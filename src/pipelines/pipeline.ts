// pipeline(task, model, options): transformers.js-style callables over a BERT checkpoint folder (or hub id),
// returning HF's output shapes.
import { resolveModelPath } from '../io/hub.js';
import { HubError } from '../io/index.js';
import type { BertConfig } from '../model/config.js';
import { readConfig, resolveModelFolder } from '../model/checkpoint.js';
import { InputError } from '../model/errors.js';
import { parseModelDtype, storedQuantization, type ModelDtype } from '../model/linear-dtype.js';
import type { FeatureExtractionPipeline } from './feature-extraction.js';
import type { FillMaskPipeline } from './fill-mask.js';
import type { QuestionAnsweringPipeline } from './question-answering.js';
import { runnerContext } from './runner.js';
import { canonicalTask, SUPPORTED_TASKS, type AnyTaskDefinition, type CanonicalTask } from './tasks.js';
import type { TextClassificationPipeline } from './text-classification.js';
import type { TokenClassificationPipeline } from './token-classification.js';
import { loadPipelineTokenizer } from './tokenizer.js';
import { CALL_OPTIONS, PIPELINE_OPTIONS, readCallOptions } from './options.js';
import { checkTaskFitsModel, DEFAULT_MODELS, defaultModelDir, taskOfModel } from './defaults.js';
import type { EitherSpelling, PipelineOptions, PipelineTokenizer, Task } from './types.js';

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
  /** What the model's linear layers compute in (PipelineOptions.dtype). */
  readonly dtype: ModelDtype;
  /** One output per input, each in the shape a single-input call returns (what the server and workers use). */
  predictEach(inputs: I[], options?: C): Promise<O[]>;
  /** Releases the model and tokenizer (transformers.js's dispose); a later call is an error. */
  dispose(): Promise<void>;
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

/**
 * The task a model folder (or hub id) was fine-tuned for, from its config's `architectures` (null when it names
 * none, or a head no pipeline runs): what a caller with no task of its own should run.
 */
export async function modelTask(
  model: string,
  options: Pick<PipelineOptions, 'revision'> = {},
): Promise<CanonicalTask | null> {
  return taskOfModel(readConfig(resolveModelFolder(await resolveModel(model, options))));
}

/**
 * The model of pipeline(task) called without one: bert-ts's own pre-trained RoBERTa-mini (assets/default-model) for
 * fill-mask and feature-extraction; HuggingFace's default for the other tasks through the hub cache (DistilBERT for
 * text classification and question answering, a BERT-large for token classification).
 */
async function defaultModel(task: CanonicalTask, options: PipelineOptions): Promise<string> {
  const entry = DEFAULT_MODELS[task];
  if (entry.kind === 'embedded') return defaultModelDir();
  try {
    return await resolveModelPath(entry.id, { revision: options.revision });
  } catch (err) {
    if (!(err instanceof HubError)) throw err;
    throw new InputError(
      'pipeline',
      `the default model for ${task} is ${entry.id}, which could not be loaded from the HuggingFace hub or its ` +
        `cache (${err.message}); download it once online, or pass a local model folder as the second argument`,
      { cause: err },
    );
  }
}

/** Attaches the shared properties to a call function (a pipeline is a function, as in transformers.js). */
function callable<F extends object, B extends object>(fn: F, base: B): F & B {
  return Object.assign(fn, base);
}

/**
 * A task's pipeline over a model folder or hub id, as transformers.js's `pipeline(task, model, options)`: a function
 * taking the task's input and call options (in camelCase or HF's snake_case; an unknown option is an InputError),
 * with `task`, `model`, `config`, `tokenizer`, `predictEach` and `dispose()`. Without a model, the task's default
 * (see DEFAULT_MODELS). A fine-tuned head asked for another task is refused.
 * ```ts
 * const classify = await pipeline('sentiment-analysis', '../shared/fixtures/hf-tiny/seq_cls3', { tokenizer: '../shared/fixtures/hf-tiny/tokenizer' });
 * await classify(['good', 'bad'], { top_k: 2 }); // [[{ label, score }, { label, score }], [...]]
 * ```
 */
export function pipeline(
  task: 'text-classification' | 'sentiment-analysis',
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<TextClassificationPipeline>;
export function pipeline(
  task: 'fill-mask',
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<FillMaskPipeline>;
export function pipeline(
  task: 'token-classification' | 'ner',
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<TokenClassificationPipeline>;
export function pipeline(
  task: 'question-answering',
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<QuestionAnsweringPipeline>;
export function pipeline(
  task: 'feature-extraction',
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<FeatureExtractionPipeline>;
export function pipeline(
  task: Task,
  model?: string | null,
  options?: EitherSpelling<PipelineOptions>,
): Promise<AnyPipeline>;
export async function pipeline(
  task: Task,
  model?: string | null,
  givenOptions: EitherSpelling<PipelineOptions> = {},
): Promise<AnyPipeline> {
  const canonical = canonicalTask(task);
  const options = readCallOptions<PipelineOptions>('pipeline', givenOptions, PIPELINE_OPTIONS);
  // Checked before anything is loaded: a misspelt dtype is refused at once, naming the choices.
  const given = options.dtype === undefined ? undefined : parseModelDtype(options.dtype, 'pipeline');
  const dir =
    model === undefined || model === null ? await defaultModel(canonical, options) : await resolveModel(model, options);
  // One real path for the tokenizer and the model: a folder symlink swapped meanwhile cannot pair two versions.
  const folder = resolveModelFolder(dir);
  const config = readConfig(folder);
  checkTaskFitsModel(canonical, config, folder);
  // A quantized (q8) folder runs in q8 unless told otherwise, as fromPretrained.
  const dtype = given ?? storedQuantization(config.extra, `${folder}/config.json`) ?? 'fp32';
  const tokenizer = await loadPipelineTokenizer(options.tokenizer ?? folder);
  const row = SUPPORTED_TASKS[canonical] as unknown as AnyTaskDefinition;
  const warn = options.quiet ? () => {} : options.warn;
  const loaded = await row.loadModel(folder, { kernels: options.kernels, dtype, warn });
  const context = runnerContext(loaded, tokenizer, options);
  let ctx: typeof context | null = context;
  const known = CALL_OPTIONS[canonical];
  const readOptions = (o: unknown) => readCallOptions<never>(canonical, o, known);
  const predictEach = async (inputs: never[], o?: never) => {
    if (!ctx) throw new InputError(canonical, 'this pipeline was disposed; create a new one with pipeline()');
    return row.run(ctx, inputs, readOptions(o));
  };
  const call =
    row.call?.(predictEach, readOptions) ??
    (async (input: never | never[], o?: never) =>
      Array.isArray(input) ? predictEach(input, o) : (await predictEach([input], o))[0]);
  const dispose = async () => {
    ctx = null;
  };
  return callable(call, {
    task: canonical,
    model: dir,
    config: loaded.config,
    tokenizer,
    dtype,
    predictEach,
    dispose,
  }) as AnyPipeline;
}

export type AnyPipeline =
  | TextClassificationPipeline
  | FillMaskPipeline
  | TokenClassificationPipeline
  | QuestionAnsweringPipeline
  | FeatureExtractionPipeline;
