// Dynamic batching: texts from concurrent requests are gathered into batches of at most maxBatch, waiting at most
// maxWaitMs, behind a bounded queue, and handed to one predictBatch call per batch.
import { InputError, isInputError } from '../model/errors.js';
import { ServerError } from './errors.js';

/**
 * Runs a model on a batch of texts (or other inputs, I); must return one result per input, in order. `options` are
 * the call options every text of the batch shares (a request's validated parameters); absent when none were given.
 */
export type PredictBatch<R, I = string> = (texts: I[], options?: CallOptions) => Promise<R[]>;

/** Call options of one request (JSON values), shared by each of its texts. */
export type CallOptions = Record<string, unknown>;

export interface BatcherOptions<R, I = string> {
  predictBatch: PredictBatch<R, I>;
  /** Most texts in one predictBatch call. */
  maxBatch: number;
  /** Longest time the first text of a batch waits for others to join it. */
  maxWaitMs: number;
  /** Most texts waiting (not yet handed to predictBatch); more are refused with a ServerError 503 queue_full. */
  maxQueue: number;
  /** How many predictBatch calls may run at once (one per worker thread of the pool behind it). */
  concurrency?: number;
  /** When a batch fails, retry its texts one at a time so only the failing ones get errors (default true). */
  isolateFailures?: boolean;
  /** Called after each batch, for metrics. */
  onBatch?: (size: number, seconds: number, failed: boolean) => void;
}

/** One queued text; `done` delivers its result or error to the request that owns it. */
interface Item<R, I> {
  text: I;
  /** Texts are batched only with texts of equal options (same key). */
  options: CallOptions | undefined;
  key: string;
  done: (error: Error | null, result?: R) => void;
}

export class DynamicBatcher<R, I = string> {
  private readonly queue: Item<R, I>[] = [];
  private head = 0; // index of the first live item; the array is compacted lazily so dequeue stays O(1)
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private closed = false;
  private readonly concurrency: number;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: BatcherOptions<R, I>) {
    for (const key of ['maxBatch', 'maxQueue'] as const) {
      const value = options[key];
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
    this.concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
  }

  /** Texts waiting for a batch. */
  get depth(): number {
    return this.queue.length - this.head;
  }

  /** predictBatch calls in progress. */
  get inFlight(): number {
    return this.running;
  }

  /**
   * Queues the texts and resolves with their results in order. All texts of one call are admitted or refused
   * together, so a request never half-enters the queue. Texts with different `options` never share a batch.
   */
  submit(texts: I[], options?: CallOptions): Promise<R[]> {
    if (this.closed) return Promise.reject(new ServerError(503, 'shutting_down', 'the server is shutting down'));
    if (this.depth + texts.length > this.options.maxQueue) {
      return Promise.reject(
        new ServerError(
          503,
          'queue_full',
          `the queue holds ${this.depth} texts and ${texts.length} more would exceed its limit of ${this.options.maxQueue}; retry later`,
        ),
      );
    }
    if (texts.length === 0) return Promise.resolve([]);
    const key = options === undefined ? '' : optionsKey(options);
    return new Promise<R[]>((resolve, reject) => {
      const results = new Array<R>(texts.length);
      let remaining = texts.length;
      let failed = false;
      texts.forEach((text, i) => {
        this.queue.push({
          text,
          options,
          key,
          done: (error, result) => {
            if (failed) return;
            if (error) {
              failed = true;
              reject(error);
              return;
            }
            results[i] = result as R;
            if (--remaining === 0) resolve(results);
          },
        });
      });
      this.schedule();
    });
  }

  /** Refuses new texts, fails queued ones, and resolves once running batches have finished. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const error = new ServerError(503, 'shutting_down', 'the server shut down before this text was processed');
    while (this.depth > 0) this.take(this.depth).forEach((item) => item.done(error));
    if (this.running > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Up to n items from the head of the queue, stopping at the first whose options differ from the head's. */
  private take(n: number, sameOptions = false): Item<R, I>[] {
    let end = Math.min(this.queue.length, this.head + n);
    if (sameOptions) {
      const key = this.queue[this.head]?.key;
      for (let i = this.head + 1; i < end; i++) {
        if (this.queue[i]?.key !== key) {
          end = i;
          break;
        }
      }
    }
    const items = this.queue.slice(this.head, end);
    this.head += items.length;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return items;
  }

  private schedule(): void {
    while (this.running < this.concurrency && this.depth >= this.options.maxBatch) this.dispatch();
    if (this.depth === 0 || this.running >= this.concurrency) return;
    if (this.options.maxWaitMs === 0) {
      this.dispatch();
      return;
    }
    // A partial batch waits for company, but only maxWaitMs from the moment the timer started.
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.depth > 0 && this.running < this.concurrency) this.dispatch();
        this.schedule();
      }, this.options.maxWaitMs);
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const items = this.take(this.options.maxBatch, true);
    const first = items[0];
    if (first === undefined) return;
    this.running++;
    const started = process.hrtime.bigint();
    void this.runItems(
      items.map((item) => item.text),
      first.options,
    ).then((outcomes) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.running--;
      this.options.onBatch?.(
        items.length,
        seconds,
        outcomes.some((o) => !o.ok),
      );
      items.forEach((item, i) => {
        // runItems answers every text; should it ever not, the request fails instead of waiting forever.
        const outcome = outcomes[i] ?? {
          ok: false,
          error: new ServerError(500, 'inference_failed', 'the batch returned no result for this text'),
        };
        if (outcome.ok) item.done(null, outcome.value);
        else item.done(outcome.error);
      });
      if (this.running === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        waiters.forEach((wake) => wake());
      }
      if (!this.closed) this.schedule();
    });
  }

  /** One predictBatch call, checked: the right number of results or a ServerError 500 inference_failed. */
  private async call(texts: I[], options: CallOptions | undefined): Promise<R[]> {
    let results: R[];
    try {
      results =
        options === undefined
          ? await this.options.predictBatch(texts)
          : await this.options.predictBatch(texts, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // An error caused by the text itself (also one flagged across a worker boundary) is the client's.
      if (error instanceof InputError) throw error;
      if (isInputError(error)) throw new InputError('', message, { cause: error });
      throw new ServerError(500, 'inference_failed', `inference failed: ${message}`);
    }
    if (!Array.isArray(results) || results.length !== texts.length) {
      const got = Array.isArray(results) ? `${results.length} results` : typeof results;
      throw new ServerError(
        500,
        'inference_failed',
        `predictBatch returned ${got} for a batch of ${texts.length} texts`,
      );
    }
    return results;
  }

  /**
   * Runs a batch; when it fails, runs its texts one by one so that one bad text (say, one the tokenizer refuses)
   * fails only its own request, not the unrelated requests batched with it.
   */
  private async runItems(texts: I[], options: CallOptions | undefined): Promise<Outcome<R>[]> {
    try {
      return (await this.call(texts, options)).map((value) => ({ ok: true, value }));
    } catch (error) {
      if (texts.length === 1 || this.options.isolateFailures === false) {
        return texts.map(() => ({ ok: false, error: error as Error }));
      }
      const outcomes: Outcome<R>[] = [];
      for (const text of texts) {
        try {
          // call() checked that one text gave one result.
          outcomes.push({ ok: true, value: (await this.call([text], options))[0]! });
        } catch (single) {
          outcomes.push({ ok: false, error: single as Error });
        }
      }
      return outcomes;
    }
  }
}

/** The same options give the same key whatever the order of their fields. */
function optionsKey(options: CallOptions): string {
  return JSON.stringify(
    Object.keys(options)
      .sort()
      .map((k) => [k, options[k]]),
  );
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: Error };
