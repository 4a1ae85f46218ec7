// Pipelines off the main thread: a WorkerPool whose workers each load the same pipeline (see predictor.ts).
import { WorkerPool } from './worker.js';
import type { PredictorArgs } from './predictor.js';
import type { SentencePredictorArgs } from './sentence-predictor.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const PREDICTOR = new URL(`./predictor${ext}`, import.meta.url).href;
const SENTENCE_PREDICTOR = new URL(`./sentence-predictor${ext}`, import.meta.url).href;

interface PoolSettings {
  workers?: number;
  env?: Record<string, string>;
  isolation?: 'process' | 'thread';
}

export interface PipelinePool {
  /**
   * One output per input, in the single-input shape of the task; runs in a worker thread. `options` are call
   * options over those the pool was created with.
   */
  predictEach(inputs: unknown[], options?: Record<string, unknown>): Promise<unknown[]>;
  /** dtype: what the workers' models compute in ('fp32', 'q8', 'bf16'). */
  readonly info: { task: string; model: string; labels: string[]; dtype: string };
  readonly size: number;
  close(): Promise<void>;
}

/**
 * Starts `workers` workers (default 1; child processes unless isolation is 'thread'), each loading
 * `pipeline(task, model, options)`.
 */
export function createPipelinePool(args: PredictorArgs & PoolSettings): Promise<PipelinePool> {
  const { workers, env, isolation, ...predictor } = args;
  return startPool(PREDICTOR, predictor, { workers, env, isolation });
}

/**
 * Starts workers that each load a SentenceTransformer (kind 'embed': texts -> number[] embeddings, call options
 * those of encode) or a CrossEncoder (kind 'rerank': [query, document] pairs -> scores; refused unless it has one
 * label and a trained classifier).
 */
export function createSentencePool(args: SentencePredictorArgs & PoolSettings): Promise<PipelinePool> {
  const { workers, env, isolation, ...predictor } = args;
  return startPool(SENTENCE_PREDICTOR, predictor, { workers, env, isolation });
}

async function startPool(module: string, args: unknown, settings: PoolSettings): Promise<PipelinePool> {
  const pool = await WorkerPool.create({
    module,
    args,
    size: settings.workers ?? 1,
    env: settings.env,
    isolation: settings.isolation,
  });
  return {
    predictEach: (inputs, options) => pool.run(inputs, options),
    info: pool.info as PipelinePool['info'],
    get size() {
      return pool.size;
    },
    close: () => pool.close(),
  };
}
