// Data parallelism as the Trainer sees it: rank, size and the collectives on flat buffers; one process by default.
import { mpiWorld } from '../native/mpi.js';
import { ProgressReporter, type ProgressOptions } from './progress.js';

/** The collectives data-parallel training needs; {@link singleProcess} is the default, MPI the real one. */
export interface Distributed {
  /** This process's rank (0 writes logs, progress, training state and the final model). */
  readonly rank: number;
  /** Number of ranks; 1 for one process. */
  readonly size: number;
  /** Element-wise sum over the ranks, in place; every rank ends with the same values. */
  allreduceSum(buffer: Float32Array | Float64Array | Uint8Array): void;
  /** Starts allreduceSum on `buffer` (non-blocking); it must not be touched until {@link waitAll}. */
  startAllreduceSum(buffer: Float32Array): void;
  /** Lets the started sums progress (MPI makes progress inside its calls): called between layers of backward. */
  progress(): void;
  /** Waits for every started sum. */
  waitAll(): void;
  /**
   * Gradient buckets: the all-reduce of a span of gradients starts once backward has finished this many bytes of them
   * (the layers above). Environment BERT_MPI_BUCKET_MB, default {@link DEFAULT_BUCKET_MB}.
   */
  readonly bucketBytes: number;
  /**
   * When the gradient buckets are reduced (environment BERT_MPI_OVERLAP): 'eager' (default), each with a blocking
   * all-reduce as soon as backward has finished it, between layers; 'async', each started with a non-blocking
   * all-reduce as backward finishes it and waited for after backward (overlap where the network progresses
   * it); 'off', all after backward.
   */
  readonly overlap: OverlapMode;
  /** Root's values into every rank's buffer. */
  broadcast(buffer: Float32Array | Float64Array, root: number): void;
  barrier(): void;
}

/** One process: every collective is the identity. */
export const singleProcess: Distributed = {
  rank: 0,
  size: 1,
  allreduceSum: () => undefined,
  startAllreduceSum: () => undefined,
  progress: () => undefined,
  waitAll: () => undefined,
  bucketBytes: 0,
  overlap: 'off',
  broadcast: () => undefined,
  barrier: () => undefined,
};

/** Default gradient bucket size in MiB (bench/allreduce.ts: above it the shared-memory bandwidth is reached). */
export const DEFAULT_BUCKET_MB = 4;

/** When gradient buckets are reduced: see {@link Distributed.overlap}. */
export type OverlapMode = 'eager' | 'async' | 'off';
const OVERLAP_MODES: readonly OverlapMode[] = ['eager', 'async', 'off'];

/** The bucket size and overlap mode from the environment (BERT_MPI_BUCKET_MB, BERT_MPI_OVERLAP). */
export function communicationSettings(env: Readonly<Record<string, string | undefined>> = process.env): {
  bucketBytes: number;
  overlap: OverlapMode;
} {
  const raw = env.BERT_MPI_BUCKET_MB;
  const mb = raw === undefined || raw === '' ? DEFAULT_BUCKET_MB : Number(raw);
  if (!(mb > 0) || !Number.isFinite(mb))
    throw new RangeError(`BERT_MPI_BUCKET_MB must be a positive number of MiB, got ${JSON.stringify(raw)}`);
  const overlap = env.BERT_MPI_OVERLAP === undefined || env.BERT_MPI_OVERLAP === '' ? 'eager' : env.BERT_MPI_OVERLAP;
  if (!OVERLAP_MODES.includes(overlap as OverlapMode))
    throw new RangeError(`BERT_MPI_OVERLAP must be one of ${OVERLAP_MODES.join(', ')}, got ${JSON.stringify(overlap)}`);
  return { bucketBytes: Math.round(mb * 1024 * 1024), overlap: overlap as OverlapMode };
}

/** Thrown when the ranks of a data-parallel run disagree (their replicas of the model differ). */
export class DistributedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DistributedError';
  }
}

let current: Distributed | null = null;

/**
 * MPI_COMM_WORLD when this process was started by an MPI launcher with more than one rank (mpirun, srun), else
 * {@link singleProcess}: outside a launcher nothing changes.
 */
export function getDistributed(): Distributed {
  if (current) return current;
  const world = mpiWorld();
  if (!world) return (current = singleProcess);
  const { mpi } = world;
  const settings = communicationSettings();
  current = {
    rank: world.rank,
    size: world.size,
    ...settings,
    allreduceSum: (buffer) => {
      // In messages of at most one bucket: Open MPI 4.1's shared-memory all-reduce of 43 MB in one call takes ~17x
      // the time of the same bytes in 4 MiB pieces (bench/allreduce.ts, docs/distributed.md).
      const step = Math.max(1, Math.floor(settings.bucketBytes / buffer.BYTES_PER_ELEMENT));
      for (let i = 0; i < buffer.length; i += step) mpi.allreduceSum(buffer.subarray(i, i + step));
    },
    startAllreduceSum: (buffer) => mpi.iallreduceSum(buffer),
    progress: () => void mpi.progress(),
    waitAll: () => mpi.waitAll(),
    broadcast: (buffer, root) => mpi.broadcast(buffer, root),
    barrier: () => mpi.barrier(),
  };
  return current;
}

/** A progress reporter that writes on rank 0 only (the others keep the records, silently). */
export function rankProgress(options: ProgressOptions, dist: Distributed = getDistributed()): ProgressReporter {
  if (dist.rank === 0) return new ProgressReporter(options);
  return new ProgressReporter({ stream: { write: () => true, isTTY: false }, tty: false });
}

/**
 * The Float32Array that the arrays tile exactly (one buffer, adjacent, no gaps) — the flat gradient buffer that one
 * all-reduce covers — or null when they do not (then each is reduced on its own).
 */
export function flatSpan(arrays: readonly Float32Array[]): Float32Array | null {
  const first = arrays[0];
  if (!first) return null;
  const sorted = [...arrays].sort((a, b) => a.byteOffset - b.byteOffset);
  let end = sorted[0]?.byteOffset ?? 0;
  const start = end;
  for (const a of sorted) {
    if (a.buffer !== first.buffer || a.byteOffset !== end) return null;
    end += a.byteLength;
  }
  return new Float32Array(first.buffer, start, (end - start) / Float32Array.BYTES_PER_ELEMENT);
}

/**
 * A cheap fingerprint of parameter values (a position-weighted float64 sum): equal on replicas that agree, and
 * different when one value differs (the weights keep a difference from cancelling against another).
 */
export function parameterChecksum(arrays: readonly Float32Array[]): number {
  let sum = 0;
  let k = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++, k++) sum += (a[i] ?? 0) * (1 + (k % 1021) / 1021);
  return sum;
}

/**
 * Stops the run with a clear error when the ranks' checksums differ: every rank puts its own in its slot, one
 * all-reduce gives every rank all of them, so every rank reaches the same verdict.
 */
export function checkReplicasAgree(dist: Distributed, arrays: readonly Float32Array[], step: number): void {
  if (dist.size === 1) return;
  const sums = new Float64Array(dist.size);
  sums[dist.rank] = parameterChecksum(arrays);
  dist.allreduceSum(sums);
  const ref = sums[0];
  const bad: number[] = [];
  sums.forEach((s, r) => {
    if (!Object.is(s, ref)) bad.push(r);
  });
  if (bad.length > 0)
    throw new DistributedError(
      `data-parallel replicas disagree after step ${step}: parameter checksums per rank [${Array.from(sums).join(', ')}] ` +
        `(ranks ${bad.join(', ')} differ from rank 0). The ranks must run the same bert-ts build, kernels and thread ` +
        'settings on the same data; resume from the last training state',
    );
}

/**
 * The flat gradient buffer cut into fixed buckets of `dist.bucketBytes` from its end (the last layers' gradients, which
 * backward finishes first) and reduced while backward runs: `ready(byteOffset)` (backward's report that the
 * gradients from there to the end are final) starts every whole bucket above it; `finish()` starts the rest and waits.
 * Every rank starts the same buckets in the same order whatever its timing (a rank with an empty share only calls
 * finish()), as MPI requires of collectives.
 */
export class GradientBuckets {
  /** Elements [started, length) are started. */
  private started = 0;
  /** The gradients of this step are multiplied by this before their reduction starts (the rank's loss weight). */
  factor = 1;
  /** Seconds spent in gradient reductions (progress and waiting), over the run. */
  seconds = 0;

  constructor(
    private readonly dist: Distributed,
    readonly flat: Float32Array,
    private readonly scale: (span: Float32Array, factor: number) => void,
  ) {
    this.begin();
  }

  private get bucketElements(): number {
    return Math.max(1, Math.floor(this.dist.bucketBytes / Float32Array.BYTES_PER_ELEMENT));
  }

  /** Before each backward. */
  begin(): void {
    this.started = this.flat.length;
    this.factor = 1;
  }

  /** Backward has finished the gradients at byte offsets >= byteOffset of their buffer. */
  ready(byteOffset: number): void {
    const t0 = performance.now();
    const from = Math.max(0, (byteOffset - this.flat.byteOffset) / Float32Array.BYTES_PER_ELEMENT);
    const size = this.bucketElements;
    while (this.started - size >= from) this.start(this.started - size);
    this.dist.progress();
    this.seconds += (performance.now() - t0) / 1000;
  }

  private start(from: number): void {
    const span = this.flat.subarray(from, this.started);
    if (this.factor !== 1) this.scale(span, this.factor);
    if (this.dist.overlap === 'eager') this.dist.allreduceSum(span);
    else this.dist.startAllreduceSum(span);
    this.started = from;
  }

  /** Starts the buckets not started yet (the last one may be short) and waits for all of them. */
  finish(): void {
    const t0 = performance.now();
    const size = this.bucketElements;
    while (this.started > 0) this.start(Math.max(0, this.started - size));
    this.dist.waitAll();
    this.seconds += (performance.now() - t0) / 1000;
  }
}

/** Interleaved sharding of batched inference: batch k (in input order) is rank k mod size's. */
export function ownsBatch(dist: Distributed, k: number): boolean {
  return k % dist.size === dist.rank;
}

/**
 * Per-batch values gathered on every rank: each rank fills the slots of its own batches and leaves the others zero;
 * one sum over the ranks adds only zeros to each value (x + 0 = x), so every rank gets every value exactly and can
 * combine them in batch order, as one process does.
 */
export function gatherSlots(dist: Distributed, slots: Float32Array | Float64Array): void {
  if (dist.size > 1) dist.allreduceSum(slots);
}

/** Every rank's bytes, in rank order (the lengths first, then the bytes, each in one sum with zeros elsewhere). */
function exchangeBytes(dist: Distributed, mine: Uint8Array): Uint8Array[] {
  const lengths = new Float64Array(dist.size);
  lengths[dist.rank] = mine.length;
  dist.allreduceSum(lengths);
  const offsets = [0];
  for (const n of lengths) offsets.push((offsets.at(-1) ?? 0) + n);
  const all = new Uint8Array(offsets.at(-1) ?? 0);
  all.set(mine, offsets[dist.rank]);
  dist.allreduceSum(all);
  return Array.from(lengths, (_, r) => all.subarray(offsets[r], offsets[r + 1]));
}

/**
 * Runs `compute` on interleaved shards of a stream of batches: batch k goes to rank k mod size, and rank 0 yields
 * every batch with its results in input order (results travel as JSON, so numbers arrive exactly); the other ranks
 * yield nothing. One process computes every batch. Every rank must read the same batches (the same file).
 */
export async function* shardedBatches<T, R>(
  batches: AsyncIterable<T[]> | Iterable<T[]>,
  compute: (batch: T[]) => Promise<R[]> | R[],
  dist: Distributed = getDistributed(),
): AsyncGenerator<{ batch: T[]; results: R[] }> {
  if (dist.size === 1) {
    for await (const batch of batches) yield { batch, results: await compute(batch) };
    return;
  }
  let group: T[][] = [];
  const exchange = async (): Promise<{ batch: T[]; results: R[] }[]> => {
    const own = group[dist.rank];
    const mine = own ? new TextEncoder().encode(JSON.stringify(await compute(own))) : new Uint8Array(0);
    const decoder = new TextDecoder();
    const parts = exchangeBytes(dist, mine);
    const out = group.map((batch, r) => ({ batch, results: JSON.parse(decoder.decode(parts[r])) as R[] }));
    group = [];
    return dist.rank === 0 ? out : [];
  };
  for await (const batch of batches) {
    group.push(batch);
    if (group.length === dist.size) yield* await exchange();
  }
  if (group.length > 0) yield* await exchange();
}
