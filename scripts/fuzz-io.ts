// Long mutation-fuzzing run over the checkpoint readers: `npx tsx scripts/fuzz-io.ts [seconds] [seed]`.
// Prints one JSON line per target and a summary; exit status 1 if any case escaped as a non-typed error.
import { ioFuzzTargets, runIoFuzz } from '../test/io/helpers/fuzz-io.js';

const seconds = Number(process.argv[2] ?? 60);
let seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const targets = ioFuzzTargets();
const deadline = Date.now() + seconds * 1000;
const totals = new Map<string, { cases: number; accepted: number; rejected: number; failures: number; slowestMs: number }>();
const failures: unknown[] = [];
while (Date.now() < deadline) {
  for (const target of targets) {
    const r = runIoFuzz([target], seed, 200);
    const t = totals.get(target.name) ?? { cases: 0, accepted: 0, rejected: 0, failures: 0, slowestMs: 0 };
    t.cases += r.cases;
    t.accepted += r.accepted;
    t.rejected += r.rejected;
    t.failures += r.failures.length;
    t.slowestMs = Math.max(t.slowestMs, r.slowestMs);
    totals.set(target.name, t);
    failures.push(...r.failures);
  }
  seed++;
}
for (const [name, t] of totals) console.log(JSON.stringify({ target: name, ...t, slowestMs: Number(t.slowestMs.toFixed(1)) }));
for (const f of failures.slice(0, 10)) console.log(JSON.stringify(f));
const cases = [...totals.values()].reduce((s, t) => s + t.cases, 0);
console.log(`fuzz-io: ${cases} cases in ${seconds} s, ${failures.length} failures (last seed ${seed - 1})`);
process.exit(failures.length ? 1 : 0);
