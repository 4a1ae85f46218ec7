// Body of a pool worker (a worker thread or a child process): loads the predictor named in workerData (thread)
// or BERT_WORKER_SPEC (process), then answers the batches WorkerPool sends.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isInputError } from '../model/errors.js';

type Predictor = (inputs: unknown[], options?: Record<string, unknown>) => Promise<unknown[]> | unknown[];
interface PredictorModule {
  createPredictor: (args: unknown) => Promise<Predictor | { predict: Predictor; info?: unknown }>;
}

interface Port {
  post(message: unknown): void;
  onMessage(listener: (message: { id: number; inputs: unknown[]; options?: Record<string, unknown> }) => void): void;
}

function connect(): { port: Port; spec: { module: string; args: unknown } } {
  const thread = parentPort;
  if (thread) {
    return {
      port: { post: (m) => thread.postMessage(m), onMessage: (l) => thread.on('message', l) },
      spec: workerData as { module: string; args: unknown },
    };
  }
  const send = process.send?.bind(process);
  const raw = process.env.BERT_WORKER_SPEC;
  if (!send || !raw)
    throw new Error('worker-entry must run in a worker thread or a child process started by WorkerPool');
  // The pool disconnects to stop us: exit from the main thread (native thread pools are torn down cleanly there).
  process.on('disconnect', () => process.exit(0));
  // Ctrl-C reaches the whole process group; the parent decides when workers stop (it disconnects), so a worker
  // does not die under a batch or get respawned in the middle of a graceful shutdown.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  return {
    port: {
      // A reply racing a disconnect has nobody to go to: drop it instead of crashing on ERR_IPC_CHANNEL_CLOSED.
      post: (m) => {
        if (process.connected) send(m, undefined, undefined, () => {});
      },
      onMessage: (l) => process.on('message', l),
    },
    spec: JSON.parse(raw) as { module: string; args: unknown },
  };
}

const { port, spec } = connect();
const { module, args } = spec;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

try {
  const loaded = (await import(pathToFileURL(module).href)) as PredictorModule;
  if (typeof loaded.createPredictor !== 'function') throw new Error(`${module} does not export createPredictor`);
  const made = await loaded.createPredictor(args);
  const predict = typeof made === 'function' ? made : made.predict;
  const info = typeof made === 'function' ? undefined : made.info;
  port.onMessage(async (request) => {
    try {
      const outputs = await predict(request.inputs, request.options);
      port.post({ type: 'result', id: request.id, outputs });
    } catch (error) {
      port.post({ type: 'error', id: request.id, message: message(error), invalidInput: isInputError(error) });
    }
  });
  port.post({ type: 'ready', info });
} catch (error) {
  port.post({ type: 'fatal', message: message(error) });
}
