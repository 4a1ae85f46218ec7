// A pool of workers (child processes by default, or worker threads) that each load a predictor (by default a
// pipeline) and answer batches, so inference never blocks the caller's event loop (the HTTP server's, in particular).
import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** What a worker is told to load. `module` must export `createPredictor(args)` resolving to a batch function. */
export interface WorkerSpec {
  /** Absolute path or file URL of an ES module exporting `createPredictor(args: unknown)`. */
  module: string;
  /** Structured-cloneable arguments passed to `createPredictor` (e.g. `{task, model, options}`). */
  args: unknown;
}

export interface WorkerPoolOptions extends WorkerSpec {
  /** Worker threads (default 1: the native kernels already use every core for one batch). */
  size?: number;
  /** Longest wait for a worker to load its model (default 120 s). */
  startTimeoutMs?: number;
  /** Environment for the workers (e.g. a thread count for the native backend); default: a copy of this process's. */
  env?: Record<string, string>;
  /**
   * 'process' (default): each worker is a child process, so a native crash or an OpenMP runtime that cannot
   * outlive a non-main thread only ever takes down that child, which the pool replaces. 'thread': worker_threads,
   * cheaper to start and sharing memory with this process.
   */
  isolation?: 'process' | 'thread';
}

/** What the pool needs from a worker, whether a thread or a child process. */
interface WorkerHandle {
  send(message: Request): void;
  onMessage(listener: (reply: Reply) => void): void;
  onError(listener: (error: Error) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  stop(): Promise<void>;
}

function threadWorker(module: string, args: unknown, env: Record<string, string> | undefined): WorkerHandle {
  const { script, eval: isEval } = workerScript();
  const worker = new Worker(script, { eval: isEval, workerData: { module, args }, env: env ?? { ...process.env } });
  return {
    send: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onError: (listener) => worker.on('error', listener),
    onExit: (listener) => worker.on('exit', (code) => listener(code, null)),
    stop: async () => {
      await worker.terminate();
    },
  };
}

function processWorker(module: string, args: unknown, env: Record<string, string> | undefined): WorkerHandle {
  const execArgv = [...process.execArgv];
  // From source the child needs tsx's loader for the .ts entry; the parent has it unless started oddly.
  if (fromSource && !execArgv.some((a) => a.includes('tsx'))) execArgv.push('--import', 'tsx');
  const child: ChildProcess = fork(fileURLToPath(ENTRY), [], {
    execArgv,
    serialization: 'advanced', // structured clone, as worker_threads: typed arrays and nested objects survive
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...(env ?? process.env), BERT_WORKER_SPEC: JSON.stringify({ module, args }) },
  });
  return {
    send: (message) => {
      child.send(message);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as Reply)),
    onError: (listener) => child.on('error', listener),
    onExit: (listener) => child.on('exit', listener),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // Disconnecting lets the child finish and exit from its main thread; kill it if it does not.
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (child.connected) child.disconnect();
        else child.kill('SIGTERM');
      }),
  };
}

type Request = { id: number; inputs: unknown[]; options?: Record<string, unknown> };
type Reply =
  | { type: 'ready'; info?: unknown }
  | { type: 'result'; id: number; outputs: unknown[] }
  | { type: 'error'; id: number; message: string; invalidInput?: boolean }
  | { type: 'fatal'; message: string };

interface Job {
  inputs: unknown[];
  options?: Record<string, unknown>;
  resolve: (outputs: unknown[]) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: WorkerHandle;
  job: Job | null;
  id: number;
}

/** A worker died, failed to start, or its predictor threw; `invalidInput` marks errors caused by the input. */
export class WorkerError extends Error {
  constructor(
    message: string,
    readonly invalidInput = false,
  ) {
    super(message);
  }
}

const fromSource = import.meta.url.endsWith('.ts'); // running from source under tsx (tests), or from dist
const ENTRY = new URL(`./worker-entry${fromSource ? '.ts' : '.js'}`, import.meta.url);

/**
 * Node 20 workers do not apply the parent's `--import tsx` hooks to their own entry module, so from source the
 * worker starts with a small bootstrap that registers tsx first. From dist the entry is plain JavaScript.
 */
function workerScript(): { script: string | URL; eval: boolean } {
  if (!fromSource) return { script: ENTRY, eval: false };
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
  return { script: code, eval: true };
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  /** Workers still loading (stopped too on close). */
  private readonly starting: Slot[] = [];
  private closed = false;
  /** What the first worker reported once loaded (e.g. the pipeline's task and labels). */
  info: unknown = undefined;

  private constructor(private readonly options: WorkerPoolOptions) {}

  /** Starts the workers and resolves once every one has loaded its predictor. */
  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const size = options.size ?? 1;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Runs one batch on the first free worker; batches queue here while every worker is busy. `options` (per-call
   * options, e.g. a request's parameters) reach the predictor beside the inputs.
   */
  run(inputs: unknown[], options?: Record<string, unknown>): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new WorkerError('the worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ inputs, options, resolve, reject });
      this.pump();
    });
  }

  /** Terminates every worker; batches not finished are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new WorkerError('the worker pool was closed before this batch ran');
    this.waiting.splice(0).forEach((job) => job.reject(error));
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      slot.job?.reject(error);
      slot.job = null;
    }
    await Promise.all([...slots, ...this.starting.splice(0)].map((slot) => slot.worker.stop()));
  }

  private spawn(): Promise<void> {
    const module = this.options.module.startsWith('file:') ? fileURLToPath(this.options.module) : this.options.module;
    const isolation = this.options.isolation ?? 'process';
    const worker = (isolation === 'thread' ? threadWorker : processWorker)(module, this.options.args, this.options.env);
    const slot: Slot = { worker, job: null, id: 0 };
    this.starting.push(slot);
    const started = (): void => {
      const i = this.starting.indexOf(slot);
      if (i !== -1) this.starting.splice(i, 1);
    };
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timeoutMs = this.options.startTimeoutMs ?? 120_000;
      const timer = setTimeout(() => {
        started();
        void worker.stop();
        reject(new WorkerError(`a worker did not load ${module} within ${timeoutMs} ms`));
      }, timeoutMs);
      worker.onMessage((reply: Reply) => {
        if (reply.type === 'ready') {
          ready = true;
          clearTimeout(timer);
          started();
          if (this.closed) {
            void worker.stop();
            return reject(new WorkerError('the worker pool was closed while a worker was loading'));
          }
          this.info ??= reply.info;
          this.slots.push(slot);
          resolve();
          this.pump();
        } else if (reply.type === 'fatal') {
          clearTimeout(timer);
          started();
          reject(new WorkerError(`the worker could not load its predictor: ${reply.message}`));
          void worker.stop();
        } else {
          const job = slot.job;
          if (!job || reply.id !== slot.id) return;
          slot.job = null;
          if (reply.type === 'result') job.resolve(reply.outputs);
          else job.reject(new WorkerError(reply.message, reply.invalidInput === true));
          this.pump();
        }
      });
      worker.onError((error) => {
        clearTimeout(timer);
        if (!ready) reject(new WorkerError(`the worker failed while loading: ${error.message}`));
        slot.job?.reject(new WorkerError(`the worker crashed: ${error.message}`));
        slot.job = null;
      });
      worker.onExit((code, signal) => {
        clearTimeout(timer);
        started();
        const how = signal ? `signal ${signal}` : `code ${code}`;
        const index = this.slots.indexOf(slot);
        if (index !== -1) this.slots.splice(index, 1);
        if (!ready) reject(new WorkerError(`the worker exited with ${how} while loading`));
        slot.job?.reject(new WorkerError(`the worker exited with ${how} during a batch`));
        slot.job = null;
        // A worker that died after loading (out of memory, a native crash) is replaced so the pool keeps serving.
        if (ready && !this.closed) {
          this.spawn().catch((error: Error) => {
            if (this.slots.length === 0) this.waiting.splice(0).forEach((job) => job.reject(error));
          });
        }
      });
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.waiting.length === 0) return;
      if (slot.job) continue;
      const job = this.waiting.shift()!;
      slot.job = job;
      slot.id++;
      const request: Request = { id: slot.id, inputs: job.inputs, options: job.options };
      try {
        slot.worker.send(request);
      } catch (error) {
        slot.job = null;
        job.reject(new WorkerError(`inputs could not be sent to the worker: ${(error as Error).message}`));
      }
    }
  }
}
