// Scaling projection of data-parallel training from measured figures: compute seconds per step of one node (measured
// with bench/distributed-step.ts or bench/train-step.ts) and a ring all-reduce time from the bandwidth model
//   t_allreduce = 2 (n - 1) / n * bytes / bandwidth + 2 (n - 1) * latency * buckets
// at 10 / 25 / 100 Gbit/s, for 2 to 64 nodes with a fixed batch per node (weak scaling). Efficiency without overlap
// is compute / (compute + all-reduce); with overlap the all-reduce hides behind backward (2/3 of the compute) as far
// as it lasts: compute / (compute + max(0, all-reduce - backward)).
// Usage: node --import tsx bench/scaling-projection.ts --mini-seconds S --base-seconds S [--latency-us 30] [--bucket-mib 4]
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'mini-seconds': { type: 'string' },
    'base-seconds': { type: 'string' },
    'latency-us': { type: 'string', default: '30' },
    'bucket-mib': { type: 'string', default: '4' },
  },
});
const latency = Number(values['latency-us']) * 1e-6;
const bucket = Number(values['bucket-mib']) * 2 ** 20;
const models = [
  { name: 'BERT-mini', params: 11_171_074, seconds: Number(values['mini-seconds']) },
  { name: 'BERT-base', params: 109_483_778, seconds: Number(values['base-seconds']) },
].filter((m) => m.seconds > 0);
if (models.length === 0) {
  process.stderr.write('give --mini-seconds and/or --base-seconds (compute seconds per step of one node)\n');
  process.exit(2);
}
const rows: Record<string, unknown>[] = [];
for (const m of models) {
  const bytes = m.params * 4;
  const buckets = Math.ceil(bytes / bucket);
  for (const gbit of [10, 25, 100]) {
    const bandwidth = (gbit * 1e9) / 8;
    for (const n of [2, 4, 8, 16, 32, 64]) {
      const allreduce = ((2 * (n - 1)) / n) * (bytes / bandwidth) + 2 * (n - 1) * latency * buckets;
      const backward = (2 / 3) * m.seconds;
      rows.push({
        model: m.name,
        gbit,
        nodes: n,
        computeSeconds: m.seconds,
        allreduceSeconds: Number(allreduce.toFixed(4)),
        efficiencyNoOverlap: Number((m.seconds / (m.seconds + allreduce)).toFixed(3)),
        efficiencyOverlap: Number((m.seconds / (m.seconds + Math.max(0, allreduce - backward))).toFixed(3)),
      });
    }
  }
}
process.stdout.write('model      Gbit/s  nodes  compute s  all-reduce s  efficiency (no overlap)  (overlap)\n');
for (const r of rows)
  process.stdout.write(
    `${String(r.model).padEnd(10)} ${String(r.gbit).padStart(6)} ${String(r.nodes).padStart(6)} ${String(r.computeSeconds).padStart(10)} ` +
      `${String(r.allreduceSeconds).padStart(13)} ${String(r.efficiencyNoOverlap).padStart(24)} ${String(r.efficiencyOverlap).padStart(10)}\n`,
  );
process.stdout.write(JSON.stringify({ bench: 'scaling-projection', latencyUs: latency * 1e6, rows }) + '\n');
