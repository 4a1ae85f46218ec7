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
  allreduceSum(buffer: Float32Array | Float64Array): void;
  /** Root's values into every rank's buffer. */
  broadcast(buffer: Float32Array | Float64Array, root: number): void;
  barrier(): void;
}

/** One process: every collective is the identity. */
export const singleProcess: Distributed = {
  rank: 0,
  size: 1,
  allreduceSum: () => undefined,
  broadcast: () => undefined,
  barrier: () => undefined,
};

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
  current = {
    rank: world.rank,
    size: world.size,
    allreduceSum: (buffer) => mpi.allreduceSum(buffer),
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
