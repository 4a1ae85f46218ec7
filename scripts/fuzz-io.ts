// Long mutation-fuzzing run: `npx tsx scripts/fuzz-io.ts [seconds] [seed] [checkpoints|folders|all]`.
// checkpoints: the safetensors and .bin readers; folders: tokenizer.json, tokenizer_config.json, vocab.txt,
// config.json and model.safetensors loaded through fromPretrained (default: checkpoints).
// Prints one JSON line per target and a summary; exit status 1 if any case escaped as a non-typed error or hung.
// A watchdog thread kills the run and names the case if one case runs for more than 10 s (a real hang).
import { Worker } from 'node:worker_threads';
import { ioFuzzTargets, runIoFuzz, type FuzzTarget } from '../test/io/helpers/fuzz-io.js';
import { folderFuzzTargets } from '../test/io/helpers/fuzz-folders.js';

const seconds = Number(process.argv[2] ?? 60);
let seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const which = process.argv[4] ?? 'checkpoints';
if (!['checkpoints', 'folders', 'all'].includes(which)) {
  console.error(`unknown target set ${which}: give checkpoints, folders or all`);
  process.exit(2);
}
const folders = which === 'checkpoints' ? null : folderFuzzTargets();
const targets: FuzzTarget[] = [...(which === 'folders' ? [] : ioFuzzTargets()), ...(folders?.targets ?? [])];

// Watchdog: the main thread bumps `beat[0]` before each case (and writes the case's target index, iteration and
// seed); synchronous code that never returns cannot be interrupted, so another thread notices and names the case.
const beat = new Int32Array(new SharedArrayBuffer(16));
const HANG_MS = 10_000;
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads'); const { writeSync } = require('node:fs');
   const beat = new Int32Array(workerData.buffer); let last = -1, since = Date.now();
   setInterval(() => {
     const now = Atomics.load(beat, 0);
     if (now !== last) { last = now; since = Date.now(); return; }
     if (Date.now() - since > ${HANG_MS}) {
       writeSync(2, 'HANG: target ' + workerData.names[Atomics.load(beat, 1)] + ', seed ' + Atomics.load(beat, 3) + ', iteration ' + Atomics.load(beat, 2) + '\\n');
       process.kill(process.pid, 'SIGKILL');
     }
   }, 500);`,
  { eval: true, workerData: { buffer: beat.buffer, names: targets.map((t) => t.name) } },
);
watchdog.unref();
const onCase = (name: string, iteration: number) => {
  Atomics.add(beat, 0, 1);
  Atomics.store(
    beat,
    1,
    targets.findIndex((t) => t.name === name),
  );
  Atomics.store(beat, 2, iteration);
  Atomics.store(beat, 3, seed);
};

const deadline = Date.now() + seconds * 1000;
const totals = new Map<
  string,
  { cases: number; accepted: number; rejected: number; failures: number; slowestMs: number }
>();
const failures: unknown[] = [];
while (Date.now() < deadline) {
  for (const target of targets) {
    const r = await runIoFuzz([target], seed, 200, 2000, onCase);
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
folders?.cleanup();
for (const [name, t] of totals)
  console.log(JSON.stringify({ target: name, ...t, slowestMs: Number(t.slowestMs.toFixed(1)) }));
for (const f of failures.slice(0, 10)) console.log(JSON.stringify(f));
const sum = (k: 'cases' | 'accepted' | 'rejected') => [...totals.values()].reduce((s, t) => s + t[k], 0);
console.log(
  `fuzz-io (${which}): ${sum('cases')} cases in ${seconds} s, ${sum('accepted')} accepted / ${sum('rejected')} rejected, ${failures.length} failures (last seed ${seed - 1})`,
);
process.exit(failures.length ? 1 : 0);
