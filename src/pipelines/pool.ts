// Pipelines off the main thread: a WorkerPool whose workers each load the same pipeline (see predictor.ts).
import { WorkerPool } from './worker.js';
import type { PredictorArgs } from './predictor.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const PREDICTOR = new URL(`./predictor${ext}`, import.meta.url).href;

export interface PipelinePool {
  /**
   * One output per input, in the single-input shape of the task; runs in a worker thread. `options` are call
   * options over those the pool was created with.
   */
  predictEach(inputs: unknown[], options?: Record<string, unknown>): Promise<unknown[]>;
  readonly info: { task: string; model: string; labels: string[] };
  readonly size: number;
  close(): Promise<void>;
}

/**
 * Starts `workers` workers (default 1; child processes unless isolation is 'thread'), each loading
 * `pipeline(task, model, options)`.
 */
export async function createPipelinePool(
  args: PredictorArgs & { workers?: number; env?: Record<string, string>; isolation?: 'process' | 'thread' },
): Promise<PipelinePool> {
  const { workers, env, isolation, ...predictor } = args;
  const pool = await WorkerPool.create({ module: PREDICTOR, args: predictor, size: workers ?? 1, env, isolation });
  return {
    predictEach: (inputs, options) => pool.run(inputs, options),
    info: pool.info as PipelinePool['info'],
    get size() {
      return pool.size;
    },
    close: () => pool.close(),
  };
}
