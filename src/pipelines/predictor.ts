// Worker-side entry of a pipeline pool: createPredictor loads a pipeline and answers batches with predictEach.
import { pipeline, type AnyPipeline } from './pipeline.js';
import type { PipelineOptions, Task } from './types.js';

/** Structured-cloneable description of the pipeline a worker loads (kernels are chosen inside the worker). */
export interface PredictorArgs {
  task: Task;
  model: string;
  options?: Omit<PipelineOptions, 'kernels' | 'warn'>;
  /** Options of every call (topK, aggregationStrategy, pooling, ...). */
  callOptions?: Record<string, unknown>;
}

export async function createPredictor(args: PredictorArgs): Promise<{
  predict: (inputs: unknown[], options?: Record<string, unknown>) => Promise<unknown[]>;
  info: { task: string; model: string; labels: string[]; dtype: string };
}> {
  const pipe = (await pipeline(args.task, args.model, { ...args.options, warn: () => {} })) as AnyPipeline;
  const predictEach = pipe.predictEach as (inputs: unknown[], options?: Record<string, unknown>) => Promise<unknown[]>;
  return {
    // A call's own options (a server request's parameters) override the pool's.
    predict: (inputs, options) => predictEach(inputs, { ...args.callOptions, ...options }),
    info: { task: pipe.task, model: args.model, labels: Object.values(pipe.config.id2label), dtype: pipe.dtype },
  };
}
