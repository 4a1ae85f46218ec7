// `bert serve`: the HTTP JSON service over a model in worker processes (dynamic batching, bounded queue).
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { dtypeFlag, requireModel } from '../inputs.js';
import type { ServeTask } from '../../server/model-server.js';

export const usage = `Usage: bert serve --model DIR [--port N] [options]

Serves a model over HTTP on loopback (or --host), on the route of its task:
  POST /predict   pipeline tasks. {"inputs": "text"} or {"inputs": ["a", "b"]} (also "text" / "texts") -> the
                  pipeline's output for one text (e.g. [{"label": "POSITIVE", "score": 0.98}]) or a list of them;
                  for question-answering {"inputs": {"question": "...", "context": "..."}} or a list of such objects.
                  {"parameters": {...}} sets the task's call options with HF's names (e.g. {"top_k": 2})
  POST /embed     sentence-embedding (a sentence-transformers folder: its pooling, Dense, Normalize, prompts).
                  {"inputs": "text" | ["a", "b"], "parameters": {"normalize", "prompt_name", "prompt",
                  "truncate_dim"}} -> one embedding (a list of numbers) or a list of them, as encode() gives
  POST /rerank    text-ranking (a one-label cross-encoder). {"query": "...", "documents": ["...", ...],
                  "parameters": {"top_k", "return_documents"}} -> [{"corpus_id", "score", "text"?}], best first
  GET  /health    {"status": "ok", "queueDepth", "inFlightBatches", "task", "model", "dtype"}
  GET  /metrics   Prometheus text: requests by route and code, latency and batch-size histograms per route, queue
Parameters also take their camelCase names (topK, promptName, ...); an unknown one is a 400 naming the known ones.
Concurrent requests are batched (up to --max-batch texts or pairs, or --max-wait-ms); when --max-queue wait, new
requests get 503 with Retry-After. Errors are JSON: {"error": {"code", "message"}}. Inference runs in worker
processes, so health checks answer while the model computes. SIGINT / SIGTERM shut down gracefully.

Options:
  --model DIR              model folder or hub id
  --tokenizer DIR          tokenizer folder when the model folder has none
  --task NAME              text-classification | token-classification | fill-mask | feature-extraction |
                           question-answering | sentence-embedding | text-ranking. Default: sentence-embedding for a
                           sentence-transformers folder, text-ranking for a cross-encoder, else the task of the
                           model's "architectures" (text-classification when it names none); a wrong one is refused
  --port N                 default 8080 (0 picks a free port; the chosen one is printed)
  --host ADDR              default 127.0.0.1
  --workers N              worker processes, each holding a copy of the model (default 1)
  --dtype NAME             fp32 | q8 | bf16: what the model's linear layers compute in (default fp32; q8 dynamic
                           int8, bf16 needs AVX512-BF16 or AMX); check q8 first with bert evaluate --compare fp32
  --max-batch N            texts per model call (default 32)
  --max-wait-ms N          longest wait for a batch to fill (default 5)
  --max-queue N            texts waiting before 503 (default 1024)
  --max-body-bytes N       larger bodies get 413 (default 1048576)
  --max-texts N            texts (or documents) per request (default 256)
  --request-timeout-ms N   time to receive a whole request before 408 (default 30000)
  --max-length N           truncate texts to N tokens (default: the model's maximum; pipeline tasks)
  --top-k N                text-classification labels per text (default 1)
  --aggregation NAME       token-classification strategy (default simple)
  -h, --help               this text`;

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
      dtype: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const model = requireModel(values);
    const port = intFlag(values, 'port', 8080, 0)!;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const host = (values.host as string | undefined) ?? '127.0.0.1';
    const callOptions: Record<string, unknown> = {};
    if (values['top-k'] !== undefined) callOptions.topK = intFlag(values, 'top-k', 1);
    if (values.aggregation !== undefined) callOptions.aggregationStrategy = values.aggregation;

    const { createModelServer } = await import('../../server/model-server.js');
    const server = await createModelServer({
      model,
      task: values.task as ServeTask | undefined,
      tokenizer: values.tokenizer as string | undefined,
      maxLength: intFlag(values, 'max-length', undefined, 3),
      workers: intFlag(values, 'workers', 1)!,
      dtype: dtypeFlag(values.dtype),
      callOptions,
      maxBatch: intFlag(values, 'max-batch', 32),
      maxWaitMs: intFlag(values, 'max-wait-ms', 5, 0),
      maxQueue: intFlag(values, 'max-queue', 1024),
      maxBodyBytes: intFlag(values, 'max-body-bytes', 1 << 20),
      maxTexts: intFlag(values, 'max-texts', 256),
      requestTimeoutMs: intFlag(values, 'request-timeout-ms', 30_000),
    });
    const address = await server.listen(port, host);
    const url = `http://${address.host}:${address.port}`;
    const { task, route, workers, dtype } = server;
    process.stderr.write(`${JSON.stringify({ event: 'listening', url, route, task, model, workers, dtype })}\n`);
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
  });
}

export default serveCommand;
