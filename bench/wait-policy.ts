// How long OpenMP threads should spin before sleeping: BERT-base 1x128 inference forwards (bench/profile-forward.ts)
// in child processes under each libgomp setting, round-robin so that load from other processes hits all alike.
// libgomp reads its wait policy once at start-up, hence one process per setting and round.
// Usage: node --import tsx bench/wait-policy.ts [--rounds 5] [--reps 5] [--shape 1x128] [--spins passive,10000,100000]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './bert-base.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    reps: { type: 'string', default: '5' },
    shape: { type: 'string', default: '1x128' },
    spins: { type: 'string', default: 'passive,1000,10000,30000,100000' },
  },
});
const profile = fileURLToPath(new URL('./profile-forward.ts', import.meta.url));
const settings = values.spins!.split(',');
const results = new Map<string, number[]>(settings.map((s) => [s, []]));

for (let round = 0; round < Number(values.rounds); round++) {
  for (const setting of settings) {
    const env = { ...process.env };
    delete env.OMP_WAIT_POLICY;
    delete env.GOMP_SPINCOUNT;
    if (setting === 'passive') env.OMP_WAIT_POLICY = 'passive';
    else env.GOMP_SPINCOUNT = setting;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', profile, '--shape', values.shape!, '--reps', values.reps!],
      { env, encoding: 'utf8' },
    );
    const ms = /median ([\d.]+) ms/.exec(r.stdout)?.[1];
    if (r.status !== 0 || ms === undefined) throw new Error(`bench/wait-policy: ${setting} failed:\n${r.stderr}`);
    results.get(setting)!.push(Number(ms));
  }
}
console.log(
  `BERT-base ${values.shape} forward, median ms per setting over ${values.rounds} rounds (each a median of ${values.reps} reps)`,
);
for (const [setting, ms] of results) {
  console.log(
    `${setting.padEnd(10)} median ${median(ms).toFixed(1)} ms   rounds: ${ms.map((v) => v.toFixed(0)).join(' ')}`,
  );
}
