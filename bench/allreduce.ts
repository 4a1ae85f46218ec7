// All-reduce benchmark: latency and bandwidth of the in-place float32 sum at the bucket sizes data-parallel bert-ts uses.
// Usage: mpirun -np 2 node --import tsx bench/allreduce.ts [--reps 20] [--max-mib 64]
// Prints (rank 0) a table and one JSON line. The peer in the same run is a local copy of the same buffer (memory
// bandwidth): an all-reduce over shared memory cannot beat it. Bus bandwidth follows NCCL's convention,
// algbw x 2 (n - 1) / n, the per-link traffic of a ring all-reduce.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { mpiWorld } from '../src/native/mpi.js';

const { values } = parseArgs({
  options: { reps: { type: 'string', default: '20' }, 'max-mib': { type: 'string', default: '64' } },
});
const reps = Number(values.reps);
const maxBytes = Number(values['max-mib']) * 1024 * 1024;
const world = mpiWorld();
if (!world) {
  process.stderr.write('bench/allreduce.ts: run it under an MPI launcher, e.g. mpirun -np 2 node --import tsx ...\n');
  process.exit(2);
}
const { mpi, rank, size } = world;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
// Bucket sizes in floats: small control messages, 1-25 MB buckets (Horovod/PyTorch DDP default 25 MB), then the
// whole flat gradient of BERT-mini (11.2M parameters) and BERT-base (110M) when --max-mib allows.
const sizes = [1, 256, 4096, 65536, 262144, 1 << 20, 4 << 20, 6_250_000, 11_170_000, 110_000_000].filter(
  (n) => n * 4 <= maxBytes,
);
const rows: Record<string, number>[] = [];
for (const n of sizes) {
  const buf = new Float32Array(n).fill(rank + 1);
  const copy = new Float32Array(n);
  const r = n * 4 > 64 << 20 ? Math.max(3, Math.floor(reps / 4)) : reps;
  mpi.allreduceSum(buf); // warm-up (connection set-up, page faults)
  const times: number[] = [];
  const copies: number[] = [];
  for (let i = 0; i < r; i++) {
    mpi.barrier();
    const t0 = mpi.wtime();
    mpi.allreduceSum(buf);
    times.push(mpi.wtime() - t0);
    const t1 = mpi.wtime();
    copy.set(buf);
    copies.push(mpi.wtime() - t1);
  }
  // The slowest rank's time is the collective's time.
  const t = new Float64Array([median(times)]);
  const all = new Float64Array(size);
  all[rank] = t[0] ?? 0;
  mpi.allreduceSum(all);
  const seconds = Math.max(...all);
  const bytes = n * 4;
  const algbw = bytes / seconds / 1e9;
  rows.push({
    floats: n,
    bytes,
    us: seconds * 1e6,
    algbw_GBps: algbw,
    busbw_GBps: (algbw * 2 * (size - 1)) / size,
    copy_GBps: bytes / median(copies) / 1e9,
  });
}
if (rank === 0) {
  const load = loadavg()[0] ?? 0;
  process.stdout.write(
    `all-reduce sum float32, ${size} ranks, ${world.library}, load average ${load.toFixed(1)} (figures from a busy machine are lower bounds)\n`,
  );
  process.stdout.write('      floats       MiB          us   algbw GB/s   busbw GB/s   local copy GB/s\n');
  for (const r of rows)
    process.stdout.write(
      `${String(r.floats).padStart(12)} ${((r.bytes ?? 0) / 2 ** 20).toFixed(3).padStart(9)} ${(r.us ?? 0).toFixed(1).padStart(11)} ` +
        `${(r.algbw_GBps ?? 0).toFixed(3).padStart(12)} ${(r.busbw_GBps ?? 0).toFixed(3).padStart(12)} ${(r.copy_GBps ?? 0).toFixed(2).padStart(17)}\n`,
    );
  process.stdout.write(JSON.stringify({ bench: 'allreduce', ranks: size, library: world.library, load, rows }) + '\n');
}
