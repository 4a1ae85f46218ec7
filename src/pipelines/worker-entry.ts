// Body of a pool worker: loads the predictor named in workerData, then answers batches posted by WorkerPool.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

type Predictor = (inputs: unknown[]) => Promise<unknown[]> | unknown[];
interface PredictorModule {
  createPredictor: (args: unknown) => Promise<Predictor | { predict: Predictor; info?: unknown }>;
}

const { module, args } = workerData as { module: string; args: unknown };
const port = parentPort;
if (!port) throw new Error('worker-entry must run inside a worker thread');

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

try {
  const loaded = (await import(pathToFileURL(module).href)) as PredictorModule;
  if (typeof loaded.createPredictor !== 'function') throw new Error(`${module} does not export createPredictor`);
  const made = await loaded.createPredictor(args);
  const predict = typeof made === 'function' ? made : made.predict;
  const info = typeof made === 'function' ? undefined : made.info;
  port.on('message', async (request: { id: number; inputs: unknown[] }) => {
    try {
      const outputs = await predict(request.inputs);
      port.postMessage({ type: 'result', id: request.id, outputs });
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: message(error) });
    }
  });
  port.postMessage({ type: 'ready', info });
} catch (error) {
  port.postMessage({ type: 'fatal', message: message(error) });
}
