// A server for one model (what `bert serve` runs): the task chosen from the folder or given, the model in a worker
// pool, and the route the task serves — POST /predict for a pipeline, /embed for embeddings, /rerank for a reranker.
import { readConfig, resolveModelFolder } from '../model/checkpoint.js';
import { InputError } from '../model/errors.js';
import { parseModelDtype, type ModelDtype } from '../model/linear-dtype.js';
import { resolveSentenceModelPath, sentenceFolderKind } from '../model/sentence/folder.js';
import { checkTaskFitsModel, taskOfModel } from '../pipelines/defaults.js';
import { createPipelinePool, createSentencePool, type PipelinePool } from '../pipelines/pool.js';
import { canonicalTask, TASKS } from '../pipelines/tasks.js';
import type { Task } from '../pipelines/types.js';
import { taskParameters } from './parameters.js';
import {
  checkWellFormed,
  inputsRoute,
  parseTextInput,
  parseTextPairInput,
  rerankRoute,
  type ServedRoute,
} from './routes.js';
import { createServer, type BertServer, type ServerOptions } from './server.js';

/** What a server can serve: a pipeline task on POST /predict, or sentence embeddings / reranking. */
export type ServeTask = Task | 'sentence-embedding' | 'text-ranking';

/** Every task a model server takes: the pipelines' and 'sentence-embedding' (/embed), 'text-ranking' (/rerank). */
export const SERVE_TASKS: readonly ServeTask[] = [...TASKS, 'sentence-embedding', 'text-ranking'];

export interface ModelServerOptions extends Omit<
  ServerOptions<unknown, unknown>,
  'predictBatch' | 'parseInput' | 'parameters' | 'routes' | 'concurrency' | 'info'
> {
  /** Model folder or hub id. */
  model: string;
  /** Branch, tag or commit when `model` is a hub id (default main). */
  revision?: string;
  /**
   * Default: from the folder — 'sentence-embedding' for a sentence-transformers folder (modules.json with a
   * Pooling module), 'text-ranking' for a cross-encoder, else the task of config.json's `architectures`
   * ('text-classification' when it names none). A task the model's fine-tuned head cannot do is refused.
   */
  task?: ServeTask;
  /** Tokenizer folder for a pipeline task whose model folder has none. */
  tokenizer?: string;
  /** Truncate texts to this many tokens (pipeline tasks; a sentence folder sets its own). */
  maxLength?: number;
  /** Worker processes, each holding a copy of the model (default 1). */
  workers?: number;
  /**
   * What the model's linear layers compute in: 'fp32' (default), 'q8' or 'bf16' (transformers.js's names; see
   * ModelOptions.dtype). Reported by GET /health.
   */
  dtype?: ModelDtype;
  /** Options of every pipeline call (e.g. topK); requests' parameters override them. */
  callOptions?: Record<string, unknown>;
}

export interface ModelServer extends BertServer {
  readonly task: ServeTask;
  /** The POST route the task is served on. */
  readonly route: '/predict' | '/embed' | '/rerank';
  readonly workers: number;
  /** What the workers' models compute in. */
  readonly dtype: ModelDtype;
}

/** The task a local folder is served as when none is given (see ModelServerOptions.task). */
export function defaultServeTask(dir: string): ServeTask {
  const kind = sentenceFolderKind(dir);
  return kind === 'sentence-transformer'
    ? 'sentence-embedding'
    : kind === 'cross-encoder'
      ? 'text-ranking'
      : (taskOfModel(readConfig(resolveModelFolder(dir))) ?? 'text-classification');
}

/**
 * Loads the model into a worker pool and returns a server (not yet listening) of its task's route. A model that
 * cannot serve the task is refused before any worker starts: a folder without modules.json
 * (or a cross-encoder's) for 'sentence-embedding', a sentence-transformers embedder for 'text-ranking'; a ranking
 * model must have one label and a trained classifier (checked as it loads).
 */
export async function createModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const {
    model,
    task: given,
    tokenizer,
    maxLength,
    workers,
    callOptions: calls,
    revision,
    dtype: givenDtype,
    ...limits
  } = options;
  const dtype = parseModelDtype(givenDtype ?? 'fp32', 'serve');
  if (given !== undefined && !SERVE_TASKS.includes(given)) {
    throw new InputError('serve', (name) => `${name('task')} must be one of ${SERVE_TASKS.join(', ')}, got "${given}"`);
  }
  // A hub id is downloaded once here (with a sentence-transformers folder's module files) for the workers to share.
  const dir = await resolveSentenceModelPath(model, { revision });
  const task = given ?? defaultServeTask(dir);
  checkServable(dir, task);
  let pool: PipelinePool;
  let routes: Record<string, ServedRoute<unknown, unknown>>;
  let route: ModelServer['route'];
  if (task === 'sentence-embedding' || task === 'text-ranking') {
    pool = await createSentencePool({ kind: task === 'text-ranking' ? 'rerank' : 'embed', model: dir, dtype, workers });
    if (task === 'text-ranking') {
      route = '/rerank';
      routes = { [route]: rerankRoute((pairs) => pool.predictEach(pairs) as Promise<number[]>) };
    } else {
      route = '/embed';
      const parameters = taskParameters(task);
      routes = { [route]: inputsRoute({ predictBatch: (texts, o) => pool.predictEach(texts, o), parameters }) };
    }
  } else {
    const callOptions = { ...taskDefaults(task), ...calls };
    pool = await createPipelinePool({
      task,
      model: dir,
      options: { maxLength, tokenizer, dtype },
      callOptions,
      workers,
    });
    route = '/predict';
    routes = {
      [route]: inputsRoute<unknown, unknown>({
        predictBatch: (inputs, o) => pool.predictEach(inputs, o),
        parseInput: parseInputOf(task),
        parameters: taskParameters(task, callOptions),
      }),
    };
  }
  const server = createServer({
    ...limits,
    routes,
    concurrency: pool.size,
    info: { task: pool.info.task, model, dtype: pool.info.dtype },
  });
  return {
    ...server,
    task,
    route,
    workers: pool.size,
    dtype,
    async close() {
      await server.close();
      await pool.close();
    },
  };
}

/** What one input of a task's request may be: {question, context}, a string or a text pair, or a string. */
function parseInputOf(task: Task): (value: unknown) => unknown {
  if (task === 'question-answering') return parseQaInput;
  if (task === 'text-classification' || task === 'sentiment-analysis') return parseTextPairInput;
  return parseTextInput;
}

/** Options a pipeline task is served with unless given: entity groups, one pooled normalised vector per text. */
function taskDefaults(task: Task): Record<string, unknown> {
  if (task === 'token-classification' || task === 'ner') return { aggregationStrategy: 'simple' };
  if (task === 'feature-extraction') return { pooling: 'mean', normalize: true };
  return {};
}

/** Refuses a local folder that cannot serve the task's route, saying which task it can serve. */
function checkServable(dir: string, task: ServeTask): void {
  const kind = sentenceFolderKind(dir);
  const refuse = (why: string, instead: ServeTask | null): never => {
    throw new InputError('serve', (name) =>
      instead === null ? `${dir} ${why}` : `${dir} ${why}; serve it with ${name('task')} ${instead}`,
    );
  };
  if (task === 'sentence-embedding' && kind !== 'sentence-transformer') {
    if (kind === 'cross-encoder') refuse('is a cross-encoder, which cannot serve POST /embed', 'text-ranking');
    refuse('cannot serve POST /embed: it is not a sentence-transformers folder (no modules.json)', null);
  }
  if (task === 'text-ranking' && kind === 'sentence-transformer')
    refuse('is a sentence-transformers embedder, which cannot serve POST /rerank', 'sentence-embedding');
  if (task !== 'sentence-embedding' && task !== 'text-ranking') {
    const folder = resolveModelFolder(dir);
    checkTaskFitsModel(canonicalTask(task), readConfig(folder), folder);
  }
}

/** question-answering requests carry {"question", "context"} objects instead of strings. */
export function parseQaInput(value: unknown): { question: string; context: string } {
  const v = value as { question?: unknown; context?: unknown } | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    Array.isArray(v) ||
    typeof v.question !== 'string' ||
    typeof v.context !== 'string'
  ) {
    throw new InputError('', 'must be an object {"question": string, "context": string}');
  }
  checkWellFormed(v.question, 'the question');
  checkWellFormed(v.context, 'the context');
  return { question: v.question, context: v.context };
}
