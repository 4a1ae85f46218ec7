// MPI through the native addon: detects an mpirun/srun launch, initialises MPI once and finalises it at a clean exit.
import { loadNativeAddon } from './addon.js';

/** Typed arrays the MPI bindings accept (the element type picks the MPI datatype). */
export type MpiBuffer = Float32Array | Float64Array | Int32Array | Uint8Array;

/** The raw MPI functions of the addon (native/src/mpi.cc); present only when the addon was built with MPI. */
export interface NativeMpi {
  init(): { rank: number; size: number; library: string };
  finalize(): void;
  /** Element-wise sum over all ranks, in place; every rank gets the same result. */
  allreduceSum(buffer: MpiBuffer): void;
  /** Starts the in-place sum (MPI_Iallreduce); the buffer must not be read or written until waitAll(). */
  iallreduceSum(buffer: MpiBuffer): void;
  /** Drives the started sums (MPI_Testall); true when none is left in flight. */
  progress(): boolean;
  /** Waits for every started sum (MPI_Waitall). */
  waitAll(): void;
  /** Root's contents into every rank's buffer (same length everywhere). */
  broadcast(buffer: MpiBuffer, root: number): void;
  barrier(): void;
  /** Seconds (MPI_Wtime). */
  wtime(): number;
}

/** MPI_COMM_WORLD as this process sees it. */
export interface MpiWorld {
  readonly rank: number;
  readonly size: number;
  readonly library: string;
  readonly mpi: NativeMpi;
}

/**
 * When this process was started by mpirun (Open MPI), srun --mpi=pmix or another PMI launcher: the world size its
 * environment states, or 0 when it states none (MPI_Init then tells); null when no launcher started it.
 */
export function launchedWorldSize(env: Readonly<Record<string, string | undefined>> = process.env): number | null {
  const launched = env.OMPI_COMM_WORLD_SIZE !== undefined || env.PMIX_RANK !== undefined || env.PMI_RANK !== undefined;
  if (!launched) return null;
  const n = Number(env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE ?? env.SLURM_NTASKS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

let world: MpiWorld | null | undefined;

/**
 * MPI_COMM_WORLD when this process runs under an MPI launcher with more than one rank, else null (one process,
 * nothing initialised). Throws when launched with several ranks but the addon lacks MPI: running N independent copies
 * of a training run would silently waste N-1 machines.
 */
export function mpiWorld(): MpiWorld | null {
  if (world !== undefined) return world;
  const launched = launchedWorldSize();
  if (launched === null || launched === 1) return (world = null);
  const mpi = loadNativeAddon()?.mpi;
  if (!mpi)
    throw new Error(
      `started by an MPI launcher${launched > 0 ? ` with ${launched} ranks` : ''}, but the bert-ts native addon was built without MPI: ` +
        'install Open MPI (Debian: openmpi-bin libopenmpi-dev) and rebuild it (npm run build:native)',
    );
  const info = mpi.init();
  // A rank that fails exits non-zero without finalising, so the launcher ends the whole job instead of hanging.
  process.on('exit', (code) => {
    if (code === 0) mpi.finalize();
  });
  return (world = info.size > 1 ? { ...info, mpi } : null);
}
