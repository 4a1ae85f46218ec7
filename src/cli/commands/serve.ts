// `bert serve`: the HTTP JSON service over a pipeline running in worker threads (dynamic batching, bounded queue).
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { requireModel } from '../inputs.js';
import { checkWellFormed, parseTextInput } from '../../server/server.js';
import { InputError } from '../../model/errors.js';
import type { Task } from '../../pipelines/types.js';
import { CALL_OPTIONS } from '../../pipelines/options.js';

export const usage = `Usage: bert serve --model DIR [--port N] [options]

Serves a model over HTTP on loopback (or --host):
  POST /predict   {"inputs": "text"} or {"inputs": ["a", "b"]} (also "text" / "texts") -> the pipeline's output
                  for one text (e.g. [{"label": "POSITIVE", "score": 0.98}]) or a list of them; for
                  question-answering {"inputs": {"question": "...", "context": "..."}} or a list of such objects;
                  a list gets what the pipeline returns for a list. {"parameters": {...}} sets the task's call
                  options with HF's names (e.g. {"top_k": 2}); an unknown parameter is a 400 naming the known ones
  GET  /health    {"status": "ok", "queueDepth", "inFlightBatches", "task", "model"}
  GET  /metrics   Prometheus text: requests by code, latency and batch-size histograms, queue depth
Concurrent requests are batched (up to --max-batch texts or --max-wait-ms); when --max-queue texts wait, new
requests get 503 with Retry-After. Errors are JSON: {"error": {"code", "message"}}. Inference runs in worker
threads, so health checks answer while the model computes. SIGINT / SIGTERM shut down gracefully.

Options:
  --model DIR              model folder or hub id
  --tokenizer DIR          tokenizer folder when the model folder has none
  --task NAME              text-classification | token-classification | fill-mask | feature-extraction |
                           question-answering (default: the model's "architectures"; a wrong one is refused)
  --port N                 default 8080 (0 picks a free port; the chosen one is printed)
  --host ADDR              default 127.0.0.1
  --workers N              worker threads, each holding a copy of the model (default 1)
  --max-batch N            texts per model call (default 32)
  --max-wait-ms N          longest wait for a batch to fill (default 5)
  --max-queue N            texts waiting before 503 (default 1024)
  --max-body-bytes N       larger bodies get 413 (default 1048576)
  --max-texts N            texts per request (default 256)
  --request-timeout-ms N   time to receive a whole request before 408 (default 30000)
  --max-length N           truncate texts to N tokens (default: the model's maximum)
  --top-k N                text-classification labels per text (default 1)
  --aggregation NAME       token-classification strategy (default simple)
  -h, --help               this text`;

const SERVABLE = Object.keys(CALL_OPTIONS).concat('sentiment-analysis', 'ner') as Task[];

/** question-answering requests carry {"question", "context"} objects instead of strings. */
function parseQaInput(value: unknown): { question: string; context: string } {
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

export async function serveCommand(argv: string[]): Promise<number> {
  return runCommand('serve', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      task: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      workers: { type: 'string' },
      'max-batch': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'max-queue': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'max-texts': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'max-length': { type: 'string' },
      'top-k': { type: 'string' },
      aggregation: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const model = requireModel(values);
    const task = ((values.task as string | undefined) ??
      (await (await import('../../pipelines/pipeline.js')).modelTask(model)) ??
      'text-classification') as Task;
    if (!SERVABLE.includes(task)) throw new UsageError(`--task must be one of ${SERVABLE.join(', ')}, got "${task}"`);
    const port = intFlag(values, 'port', 8080, 0)!;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const host = (values.host as string | undefined) ?? '127.0.0.1';
    const workers = intFlag(values, 'workers', 1)!;
    const callOptions: Record<string, unknown> = {};
    if (values['top-k'] !== undefined) callOptions.topK = intFlag(values, 'top-k', 1);
    if (task === 'token-classification' || task === 'ner')
      callOptions.aggregationStrategy = (values.aggregation as string | undefined) ?? 'simple';
    if (task === 'feature-extraction') Object.assign(callOptions, { pooling: 'mean', normalize: true });

    const { createPipelinePool } = await import('../../pipelines/pool.js');
    const { createServer } = await import('../../server/server.js');
    const { taskParameters } = await import('../../server/parameters.js');
    const qa = task === 'question-answering';
    const pool = await createPipelinePool({
      task,
      model,
      options: {
        maxLength: intFlag(values, 'max-length', undefined, 3),
        tokenizer: values.tokenizer as string | undefined,
      },
      callOptions,
      workers,
    });
    const server = createServer<unknown, unknown>({
      predictBatch: (inputs: unknown[], options) => pool.predictEach(inputs, options),
      parseInput: qa ? parseQaInput : parseTextInput,
      parameters: taskParameters(task, callOptions),
      maxBatch: intFlag(values, 'max-batch', 32),
      maxWaitMs: intFlag(values, 'max-wait-ms', 5, 0),
      maxQueue: intFlag(values, 'max-queue', 1024),
      maxBodyBytes: intFlag(values, 'max-body-bytes', 1 << 20),
      maxTexts: intFlag(values, 'max-texts', 256),
      requestTimeoutMs: intFlag(values, 'request-timeout-ms', 30_000),
      concurrency: pool.size,
      info: { task: pool.info.task, model },
    });
    const address = await server.listen(port, host);
    process.stderr.write(
      `${JSON.stringify({ event: 'listening', url: `http://${address.host}:${address.port}`, task: pool.info.task, model, workers: pool.size })}\n`,
    );
    await new Promise<void>((resolve) => {
      const onInt = (): void => stop('SIGINT');
      const onTerm = (): void => stop('SIGTERM');
      const stop = (signal: string): void => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        process.stderr.write(`${JSON.stringify({ event: 'shutdown', signal })}\n`);
        resolve();
      };
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
    await server.close();
    await pool.close();
  });
}

export default serveCommand;
