// SIGKILL at many random moments: `npx tsx scripts/sigkill-loop.ts [kills] [seed] [finetune|pretrain|both]`.
// Runs a small `bert finetune` (hf-tiny, IMDb sample) and/or `bert pretrain` (tiny preset, shards made here) once
// uninterrupted, then again in episodes: each attempt is killed with SIGKILL after a seeded random delay (a quarter
// anywhere from process start-up on, the rest during training: steps, checkpoint writes, the final save), and
// restarted with --resume until one attempt finishes; the final
// model.safetensors of every episode must be byte-identical to the uninterrupted run's. Prints one JSON line per kill
// and a summary per task; exit status 1 if any episode ends with different weights or a resume fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { seeded } from '../test/helpers/seeded.js';

const kills = Number(process.argv[2] ?? 25);
const seed = Number(process.argv[3] ?? 1);
const which = process.argv[4] ?? 'both';
if (!Number.isInteger(kills) || kills < 1 || !['finetune', 'pretrain', 'both'].includes(which)) {
  console.error('usage: npx tsx scripts/sigkill-loop.ts [kills >= 1] [seed] [finetune|pretrain|both]');
  process.exit(2);
}
const SHARED = '../shared';
const work = mkdtempSync(join(tmpdir(), 'bert-ts-sigkill-loop-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The `bert` CLI from the sources (no build needed). */
const bert = (args: string[]) => [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]] as const;

function runToEnd(args: string[]): void {
  const [cmd, argv] = bert(args);
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bert ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
}

interface Attempt {
  /** 'killed' or 'finished'; the exit code of a finished run must be 0. */
  outcome: 'killed' | 'finished';
  code: number | null;
  ms: number;
  lastStep: number | null;
  /** When the first step's progress line appeared (ms after the start), or null. */
  firstStepMs: number | null;
  stderr: string;
}

/** Starts one run and kills it after `killAfterMs` (if it is still running). */
function attempt(args: string[], killAfterMs: number): Promise<Attempt> {
  const [cmd, argv] = bert(args);
  const started = performance.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stderr = '';
  let firstStepMs: number | null = null;
  const seen = (d: Buffer) => {
    output += d.toString();
    if (firstStepMs === null && output.includes('"step":')) firstStepMs = performance.now() - started;
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', (d: Buffer) => (seen(d), (stderr += d.toString())));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, killAfterMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const steps = [...output.matchAll(/"step":(\d+)/g)].map((m) => Number(m[1]));
      resolve({
        outcome: killed && code === null ? 'killed' : 'finished',
        code,
        ms: performance.now() - started,
        lastStep: steps.length ? Math.max(...steps) : null,
        firstStepMs,
        stderr,
      });
    });
  });
}

/** Where a kill landed: from what it left in checkpoints/, and whether this attempt had finished a step. */
function killPhase(out: string, stepsSeen: boolean): string {
  const ck = join(out, 'checkpoints');
  if (!existsSync(join(ck, 'latest.json')))
    return stepsSeen ? 'before the first checkpoint was published' : 'start-up, nothing saved yet';
  const latest = (JSON.parse(readFileSync(join(ck, 'latest.json'), 'utf8')) as { dir: string }).dir;
  const leftovers = readdirSync(ck).filter((f) => f !== 'latest.json' && f !== latest);
  const tempInLatest = readdirSync(join(ck, latest)).some((f) => f.includes('.tmp-'));
  if (leftovers.length > 0 || tempInLatest) return 'during a checkpoint write';
  return stepsSeen ? 'mid-step (between checkpoints)' : 'start-up or resume (before its first step)';
}

interface TaskSummary {
  task: string;
  kills: number;
  episodes: number;
  identical: number;
  phases: Record<string, number>;
  referenceMs: number;
  firstStepMs: number;
  failures: string[];
}

async function killLoop(task: string, args: (out: string) => string[]): Promise<TaskSummary> {
  const refOut = join(work, `${task}-reference`);
  let t = performance.now();
  const ref = await attempt(args(refOut), 2 ** 31 - 1);
  if (ref.code !== 0)
    throw new Error(`${task}: the uninterrupted run failed (${ref.code}): ${ref.stderr.slice(-2000)}`);
  const referenceMs = ref.ms;
  const firstStepMs = ref.firstStepMs ?? 0;
  const reference = readFileSync(join(refOut, 'model.safetensors'));
  const rand = seeded(seed * 7919 + task.length);
  const summary: TaskSummary = {
    task,
    kills: 0,
    episodes: 0,
    identical: 0,
    phases: {},
    referenceMs: Math.round(referenceMs),
    firstStepMs: Math.round(firstStepMs),
    failures: [],
  };
  while (summary.kills < kills) {
    const out = join(work, `${task}-episode-${summary.episodes}`);
    for (let tries = 0; ; tries++) {
      if (tries > 200) throw new Error(`${task}: episode ${summary.episodes} did not finish in 200 attempts`);
      const resume = existsSync(join(out, 'checkpoints', 'latest.json'));
      // One kill in four uniform over the uninterrupted run (start-up and loading included), the others uniform over
      // its training part (steps, checkpoint writes, the final save): start-up is half of such a small run.
      const from = rand() < 0.25 ? 0 : firstStepMs;
      const delay = Math.round(from + rand() * (referenceMs - from));
      const a = await attempt([...args(out), ...(resume ? ['--resume'] : [])], delay);
      if (a.outcome === 'finished') {
        if (a.code !== 0)
          summary.failures.push(
            `${task} episode ${summary.episodes}: a ${resume ? 'resumed' : 'fresh'} run failed (${a.code}): ${a.stderr.slice(-500)}`,
          );
        break;
      }
      const phase = killPhase(out, a.lastStep !== null);
      summary.phases[phase] = (summary.phases[phase] ?? 0) + 1;
      summary.kills++;
      console.log(
        JSON.stringify({
          task,
          episode: summary.episodes,
          kill: summary.kills,
          afterMs: delay,
          resumed: resume,
          lastStepSeen: a.lastStep,
          phase,
        }),
      );
    }
    const got = existsSync(join(out, 'model.safetensors')) ? readFileSync(join(out, 'model.safetensors')) : null;
    const same = got !== null && got.equals(reference);
    if (same) summary.identical++;
    else
      summary.failures.push(
        `${task} episode ${summary.episodes}: final model.safetensors ${got ? 'differs from' : 'missing, unlike'} the uninterrupted run's`,
      );
    summary.episodes++;
    rmSync(out, { recursive: true, force: true });
  }
  t = performance.now() - t;
  console.error(`${task}: ${summary.kills} kills in ${summary.episodes} episodes, ${(t / 1000).toFixed(0)} s`);
  return summary;
}

// Data: an IMDb sample (both labels) for fine-tuning; a vocabulary and pre-training shards made by the CLI itself.
const rows = gunzipSync(readFileSync(join(SHARED, 'data/imdb/train.jsonl.gz')))
  .toString('utf8')
  .split('\n')
  .filter(Boolean);
const train = join(work, 'train.jsonl');
writeFileSync(
  train,
  rows
    .filter((_, i) => i % 521 === 0)
    .slice(0, 48)
    .join('\n') + '\n',
);
const summaries: TaskSummary[] = [];

if (which !== 'pretrain') {
  summaries.push(
    await killLoop('finetune', (out) => [
      'finetune',
      '--model',
      join(SHARED, 'fixtures/hf-tiny/seq_cls3'),
      '--tokenizer',
      join(SHARED, 'fixtures/hf-tiny/tokenizer'),
      '--train',
      train,
      '--labels',
      'negative,positive',
      '--max-length',
      '48',
      '--epochs',
      '2',
      '--batch-size',
      '4',
      '--lr',
      '1e-3',
      '--schedule',
      'linear',
      '--warmup-ratio',
      '0.1',
      '--save-steps',
      '1',
      '--seed',
      '17',
      '--backend',
      'js',
      '--no-summary',
      '--output',
      out,
    ]),
  );
}
if (which !== 'finetune') {
  const corpus = join(work, 'corpus.jsonl');
  writeFileSync(corpus, rows.filter((_, i) => i % 80 === 0).join('\n') + '\n');
  const vocab = join(work, 'vocab');
  const data = join(work, 'shards');
  mkdirSync(work, { recursive: true });
  runToEnd(['train-vocab', '--input', corpus, '--vocab-size', '2000', '--lowercase', '--output', vocab]);
  runToEnd([
    'create-pretraining-data',
    '--input',
    corpus,
    '--vocab',
    vocab,
    '--max-seq-length',
    '32',
    '--max-predictions',
    '5',
    '--dupe-factor',
    '1',
    '--seed',
    '3',
    '--output',
    data,
  ]);
  summaries.push(
    await killLoop('pretrain', (out) => [
      'pretrain',
      '--config',
      'tiny',
      '--data',
      data,
      '--vocab',
      vocab,
      '--steps',
      '16',
      '--batch-size',
      '4',
      '--lr',
      '1e-3',
      '--checkpoint-every',
      '1',
      '--seed',
      '42',
      '--backend',
      'js',
      '--output',
      out,
    ]),
  );
}
for (const s of summaries) console.log(JSON.stringify(s));
const failures = summaries.flatMap((s) => s.failures);
for (const f of failures) console.error(f);
process.exit(failures.length ? 1 : 0);
