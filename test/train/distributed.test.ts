// Data parallelism: `mpirun -np 2 bert finetune` ends with the one-process run's weights, loss curve and a loadable folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/data/rng.js';
import { createPretrainingData } from '../../src/data/pretraining-dataset.js';
import { shareRange } from '../../src/data/samplers.js';
import { latestTrainingStateDir } from '../../src/train/training-state.js';
import {
  DEFAULT_BUCKET_MB,
  GradientBuckets,
  checkReplicasAgree,
  communicationSettings,
  flatSpan,
  parameterChecksum,
  singleProcess,
  type Distributed,
} from '../../src/train/distributed.js';
import { tempDir } from '../helpers/temp.js';

const FIX = resolve('../shared/fixtures/hf-tiny');
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
// Skipped only where mpirun is absent (CI installs Open MPI); an addon built without MPI then fails the runs, loudly.
const skipMpi = mpirun.status !== 0 ? 'mpirun is not installed (Debian: openmpi-bin libopenmpi-dev)' : false;

test('shareRange: contiguous shares in rank order cover a batch exactly once, sizes within one', () => {
  for (const n of [0, 1, 5, 8, 13])
    for (const size of [1, 2, 3, 4]) {
      const seen: number[] = [];
      for (let r = 0; r < size; r++) {
        const [a, b] = shareRange(n, r, size);
        assert.ok(b - a === Math.floor(n / size) || b - a === Math.ceil(n / size), `n ${n} size ${size} rank ${r}`);
        for (let i = a; i < b; i++) seen.push(i);
      }
      assert.deepEqual(
        seen,
        Array.from({ length: n }, (_, i) => i),
      );
    }
});

test('flatSpan: the one buffer that adjacent views tile, null with a gap or another buffer', () => {
  const buf = new Float32Array(10);
  const span = flatSpan([buf.subarray(4, 10), buf.subarray(1, 4)]);
  assert.equal(span?.byteOffset, 4);
  assert.equal(span?.length, 9);
  assert.equal(flatSpan([buf.subarray(0, 3), buf.subarray(4, 10)]), null);
  assert.equal(flatSpan([buf.subarray(0, 3), new Float32Array(2)]), null);
});

test('GradientBuckets: whole buckets from the end start as backward reports them, the rest at finish, weighted', () => {
  const started: [number, number][] = [];
  let waited = 0;
  const dist: Distributed = {
    ...singleProcess,
    size: 2,
    bucketBytes: 4 * Float32Array.BYTES_PER_ELEMENT,
    startAllreduceSum: (b) => void started.push([b.byteOffset / 4, b.length]),
    waitAll: () => void waited++,
  };
  const grads = new Float32Array(10).fill(1);
  const buckets = new GradientBuckets(dist, grads, (span, f) => span.forEach((v, i) => (span[i] = v * f)));
  buckets.begin();
  buckets.factor = 0.5;
  buckets.ready(7 * 4); // elements 7..9 final: no whole bucket yet
  assert.deepEqual(started, []);
  buckets.ready(3 * 4); // 3..9 final: bucket [6, 10)
  assert.deepEqual(started, [[6, 4]]);
  buckets.finish(); // [2, 6), then the short [0, 2)
  assert.deepEqual(started, [
    [6, 4],
    [2, 4],
    [0, 2],
  ]);
  assert.equal(waited, 1);
  assert.deepEqual(Array.from(grads), Array(10).fill(0.5));
  // A rank with nothing to back-propagate starts the same buckets in the same order.
  started.length = 0;
  buckets.begin();
  buckets.finish();
  assert.deepEqual(started, [
    [6, 4],
    [2, 4],
    [0, 2],
  ]);
});

test('communicationSettings: bucket size in MiB and the overlap switch from the environment', () => {
  assert.deepEqual(communicationSettings({}), { bucketBytes: DEFAULT_BUCKET_MB * 1024 * 1024, overlap: 'eager' });
  assert.deepEqual(communicationSettings({ BERT_MPI_BUCKET_MB: '0.5', BERT_MPI_OVERLAP: 'off' }), {
    bucketBytes: 512 * 1024,
    overlap: 'off',
  });
  assert.throws(() => communicationSettings({ BERT_MPI_BUCKET_MB: '0' }), /BERT_MPI_BUCKET_MB/);
  assert.throws(
    () => communicationSettings({ BERT_MPI_OVERLAP: 'yes' }),
    /BERT_MPI_OVERLAP must be one of eager, async, off/,
  );
});

test('checkReplicasAgree: passes on equal replicas, stops with the ranks that differ', () => {
  // Rank 0 of two, simulated: the all-reduce adds rank 1's checksum (of `theirs`) into its slot.
  const rank0 = (theirs: Float32Array): Distributed => ({
    ...singleProcess,
    rank: 0,
    size: 2,
    allreduceSum: (b) => {
      b[1] = (b[1] ?? 0) + parameterChecksum([theirs]);
    },
  });
  const w = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
  checkReplicasAgree(rank0(Float32Array.from(w)), [w], 3);
  const off = Float32Array.from(w);
  off[7] = (off[7] ?? 0) + 1e-6;
  assert.throws(() => checkReplicasAgree(rank0(off), [w], 3), /replicas disagree after step 3.*ranks 1 differ/);
  // Two values swapped: a plain sum would miss it, the position weights do not.
  const swapped = Float32Array.from(w);
  swapped[3] = w[4] ?? 0;
  swapped[4] = w[3] ?? 0;
  assert.throws(() => checkReplicasAgree(rank0(swapped), [w], 3), /replicas disagree/);
});

/** Reviews whose sentiment word decides the label (as the fine-tuning end-to-end test). */
function reviews(n: number, seed: number): string {
  const filler = 'the movie was shot in paris with a captain and a professor near the bridge'.split(' ');
  const r = new Rng(seed);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = r.int(2);
    const words = Array.from({ length: 4 + r.int(10) }, () => filler[r.int(filler.length)] ?? 'the');
    words.splice(r.int(words.length), 0, label ? 'good' : 'bad');
    rows.push(JSON.stringify({ text: words.join(' '), label: label ? 'positive' : 'negative' }));
  }
  return rows.join('\n') + '\n';
}

interface RunOutput {
  losses: number[];
  weights: ReturnType<typeof readSafetensors>['tensors'];
  stdout: string;
}

/** Runs a `bert` command as one process (ranks 1) or under mpirun; reads the step losses of its JSON-lines log. */
function runCommand(
  name: string,
  args: string[],
  ranks: number,
  out: string,
  log: string,
  extraEnv: Record<string, string> = {},
): RunOutput {
  // One thread per rank: the ranks share this machine's cores.
  const env = { ...process.env, OMP_NUM_THREADS: '1', ...extraEnv };
  const r = spawnSync(...launch(name, args, ranks), { encoding: 'utf8', env });
  assert.equal(r.status, 0, `${name} on ${ranks} rank(s) failed:\n${r.stderr}\n${r.stdout}`);
  const losses = readFileSync(join(out, log), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"step"'))
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
  // A stopped run leaves a training state but no model folder yet.
  const model = join(out, 'model.safetensors');
  return { losses, weights: existsSync(model) ? readSafetensors(model).tensors : new Map(), stdout: r.stdout };
}

/** Runs `bert <name>` (inference) as one process or under mpirun; returns its stdout. */
function runInference(name: string, args: string[], ranks: number): string {
  const r = spawnSync(...launch(name, args, ranks), {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, `${name} on ${ranks} rank(s) failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test(
  'mpirun -np 2 bert embed writes the one-process embeddings, in input order',
  { skip: skipMpi, timeout: 120_000 },
  () => {
    const dir = tempDir('mpi-embed');
    const input = join(dir, 'texts.jsonl');
    // 23 texts of different lengths in batches of 4: 6 batches, rank 0 computes 0, 2, 4 and rank 1 computes 1, 3, 5.
    writeFileSync(
      input,
      reviews(23, 17)
        .trim()
        .split('\n')
        .map((l, i) => JSON.stringify({ id: i, text: (JSON.parse(l) as { text: string }).text }))
        .join('\n') + '\n',
    );
    const embed = (ranks: number) =>
      runInference(
        'embed',
        [
          '--model',
          join(FIX, 'seq_cls3'),
          '--tokenizer',
          join(FIX, 'tokenizer'),
          '--input',
          input,
          '--batch-size',
          '4',
        ],
        ranks,
      );
    const one = embed(1);
    const lines = one.trim().split('\n');
    assert.equal(lines.length, 23);
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { id: number }).id),
      Array.from({ length: 23 }, (_, i) => i),
    );
    assert.equal(embed(2), one);
  },
);

/** The program and arguments that run `bert <name>` as one process or under mpirun with `ranks` ranks. */
function launch(name: string, args: string[], ranks: number): [string, string[]] {
  const cmd = ['--import', 'tsx', 'test/train/helpers/run-command.ts', name, ...args];
  if (ranks === 1) return [process.execPath, cmd];
  return ['mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(ranks), process.execPath, ...cmd]];
}

/** Largest absolute difference between the weights of two runs (every tensor of `one` must be in `other`). */
function maxWeightDiff(one: RunOutput, other: RunOutput, what: string): number {
  let maxDiff = 0;
  for (const [name, t] of one.weights) {
    const u = other.weights.get(name);
    assert.ok(u, `${what}: ${name} missing`);
    const a = t.data as Float32Array;
    const b = u.data as Float32Array;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  }
  return maxDiff;
}

/** The same run at 1 process and at N ranks: the same loss curve (1e-5) and weights within 1e-4; returns the max difference. */
function compareRuns(one: RunOutput, other: RunOutput, what: string): number {
  // Rank 0 alone logs: one line per step, not two.
  assert.equal(other.losses.length, one.losses.length, what);
  other.losses.forEach((l, i) =>
    assert.ok(Math.abs(l - (one.losses[i] ?? NaN)) <= 1e-5, `${what} step ${i + 1}: ${l} vs ${one.losses[i]}`),
  );
  const maxDiff = maxWeightDiff(one, other, what);
  assert.ok(maxDiff <= 1e-4, `${what}: max abs weight difference ${maxDiff}`);
  process.stderr.write(`# ${what}: max abs weight difference ${maxDiff}\n`);
  return maxDiff;
}

/** Two runs whose reductions add the same values in the same order: bitwise the same weights and losses. */
function assertBitwise(a: RunOutput, b: RunOutput, what: string): void {
  assert.deepEqual(b.losses, a.losses, what);
  assert.equal(maxWeightDiff(a, b, what), 0, `${what}: weights differ`);
}

const FINETUNE_BASE = (model: string, train: string) => [
  ...['--model', model, '--tokenizer', join(FIX, 'tokenizer'), '--train', train, '--labels', 'negative,positive'],
  ...['--max-length', '24', '--lr', '1e-2', '--seed', '5', '--backend', 'js'],
];

test(
  'mpirun -np 2 bert finetune (dropout on) ends with the one-process weights, loss curve and a folder that loads',
  { skip: skipMpi, timeout: 180_000 },
  async () => {
    const dir = tempDir('mpi');
    // hf-tiny as it is, dropout 0.1 on: masks are drawn per example, so they do not depend on the rank count.
    const model = join(FIX, 'seq_cls3');
    const train = join(dir, 'train.jsonl');
    // 21 examples in batches of 8: the last batch of each epoch (5) splits 2 + 3, unevenly.
    writeFileSync(train, reviews(21, 3));
    const run = (out: string, ranks: number, accum: number, extra: string[] = [], env: Record<string, string> = {}) =>
      runCommand(
        'finetune',
        [...FINETUNE_BASE(model, train), '--epochs', '2', '--batch-size', String(8 / accum)].concat([
          '--grad-accum',
          String(accum),
          '--output',
          out,
          ...extra,
        ]),
        ranks,
        out,
        'train_log.jsonl',
        env,
      );
    const one = run(join(dir, 'one'), 1, 1);
    assert.equal(one.losses.length, 6);
    const two = run(join(dir, 'two'), 2, 1);
    compareRuns(one, two, 'finetune, batch 8, 2 ranks vs 1 process');
    // Buckets of 1 KiB (dozens, reduced during backward), non-blocking reductions and none during backward (all
    // after it) sum the same two values per element as the default single bucket: bitwise the same run.
    const buckets = run(join(dir, 'two-buckets'), 2, 1, [], { BERT_MPI_BUCKET_MB: String(1 / 1024) });
    assertBitwise(two, buckets, 'finetune, 2 ranks, 1 KiB buckets vs the default');
    const async = run(join(dir, 'two-async'), 2, 1, [], { BERT_MPI_OVERLAP: 'async', BERT_MPI_BUCKET_MB: '0.01' });
    assertBitwise(two, async, 'finetune, 2 ranks, async vs eager');
    const noOverlap = run(join(dir, 'two-no-overlap'), 2, 1, [], { BERT_MPI_OVERLAP: 'off' });
    assertBitwise(two, noOverlap, 'finetune, 2 ranks, overlap off vs eager');
    // Micro-batches of 4, two per step: the last step of an epoch holds 4 + 1 examples (its 1-example micro-batch
    // leaves rank 0 an empty share).
    compareRuns(run(join(dir, 'one-accum'), 1, 2), run(join(dir, 'two-accum'), 2, 2), 'finetune, batch 4 x 2');
    // Stopped at 2 ranks after step 4, resumed at 1 and at 3 ranks: the training state does not depend on the rank
    // count, and 3 ranks split the batches 2 + 3 + 3 (the last of an epoch 1 + 2 + 2).
    const stopped = join(dir, 'stopped');
    run(stopped, 2, 1, ['--stop-after-steps', '4']);
    cpSync(stopped, join(dir, 'stopped-3'), { recursive: true });
    compareRuns(one, run(stopped, 1, 1, ['--resume']), 'finetune, stopped at 2 ranks, resumed at 1');
    compareRuns(one, run(join(dir, 'stopped-3'), 3, 1, ['--resume']), 'finetune, stopped at 2 ranks, resumed at 3');
    // Rank 0 alone prints the summary line.
    assert.equal(
      two.stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{')).length,
      1,
    );
    const loaded = await BertForSequenceClassification.fromPretrained(join(dir, 'two'), { warn: () => {} });
    assert.equal(loaded.config.numLabels, 2);

    // bert evaluate: 2 ranks score interleaved batches (of 4: 6 batches, the last short) and report the one-process
    // metrics exactly (accuracy, F1, confusion matrix and the loss, added in batch order).
    const evaluate = (ranks: number) =>
      runInference(
        'evaluate',
        ['--model', join(dir, 'two'), '--data', train, '--max-length', '24', '--batch-size', '4', '--json'],
        ranks,
      );
    const evalOne = JSON.parse(evaluate(1)) as Record<string, unknown>;
    const evalTwo = JSON.parse(evaluate(2)) as Record<string, unknown>;
    for (const m of ['seconds', 'examples_per_second']) {
      delete evalOne[m];
      delete evalTwo[m];
    }
    assert.deepEqual(evalTwo, evalOne);
    assert.equal(evalOne['examples'], 21);
  },
);

test(
  'a rank killed mid-run ends the job with a clear message, leaves a complete checkpoint, and the run resumes',
  { skip: skipMpi, timeout: 180_000 },
  async () => {
    const dir = tempDir('mpi-kill');
    const model = join(FIX, 'seq_cls3');
    const train = join(dir, 'train.jsonl');
    // 160 examples in batches of 4: 40 steps, a training state every 3.
    writeFileSync(train, reviews(160, 8));
    const args = (out: string) => [
      ...FINETUNE_BASE(model, train),
      ...['--epochs', '1', '--batch-size', '4', '--save-steps', '3', '--output', out],
    ];
    // The reference: the same job at 2 ranks, uninterrupted.
    const whole = runCommand('finetune', args(join(dir, 'whole')), 2, join(dir, 'whole'), 'train_log.jsonl');
    const out = join(dir, 'killed');
    mkdirSync(out);
    const pids = join(dir, 'pids');
    mkdirSync(pids);
    const [program, argv] = launch('finetune', args(out), 2);
    const child = spawn(program, argv, {
      env: { ...process.env, OMP_NUM_THREADS: '1', BERT_TEST_PID_DIR: pids },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exit = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    // Rank 1 is killed once rank 0 has logged step 10 (training states were written at steps 3, 6 and 9).
    const log = join(out, 'train_log.jsonl');
    const steps = () => (existsSync(log) ? readFileSync(log, 'utf8').split('"event":"step"').length - 1 : 0);
    const deadline = Date.now() + 120_000;
    while (steps() < 10 && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    const killedAt = steps();
    assert.ok(killedAt >= 10 && killedAt < 40, `the run was still going when rank 1 was killed (step ${killedAt})`);
    process.kill(Number(readFileSync(join(pids, 'rank-1.pid'), 'utf8')), 'SIGKILL');
    const code = await exit;
    assert.notEqual(code, 0, 'the job fails when a rank dies');
    // Open MPI's launcher names the rank and the signal, and ends the other ranks.
    assert.match(output, /rank 1[^\n]*(signal 9|Killed)/i, output);
    assert.ok(steps() < 40, 'the job stopped before its end');
    // The published training state is whole: the run resumes from it (at 2 ranks) to the uninterrupted run's weights,
    // bitwise (a resume restores weights, optimizer moments, data position and dropout counter exactly).
    const latest = latestTrainingStateDir(out);
    assert.ok(latest && existsSync(join(latest, 'training_state.json')), `a complete training state in ${latest}`);
    const resumed = runCommand('finetune', [...args(out), '--resume'], 2, out, 'train_log.jsonl');
    assert.equal(maxWeightDiff(whole, resumed, 'killed and resumed'), 0, `rank killed at step ${killedAt}, resumed`);
    process.stderr.write(`# finetune, rank 1 killed at step ${killedAt}, resumed: bitwise the uninterrupted weights\n`);
  },
);

test(
  'mpirun -np 2 bert pretrain (MLM + NSP) ends with the one-process weights and loss curve',
  { skip: skipMpi, timeout: 180_000 },
  async () => {
    const dir = tempDir('mpi-pt');
    // A word-level vocabulary over synthetic documents (sentences of 4-11 words, 3-6 sentences each).
    const r = new Rng(11);
    const lexicon = Array.from({ length: 60 }, (_, i) => `w${i}`);
    const docs = Array.from({ length: 40 }, () =>
      Array.from(
        { length: 3 + r.int(4) },
        () => Array.from({ length: 4 + r.int(8) }, () => lexicon[r.int(lexicon.length)] ?? 'w0').join(' ') + ' .',
      ).join(' '),
    );
    const vocabTokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', ...lexicon];
    const ids = new Map(vocabTokens.map((t, i) => [t, i]));
    const vocabDir = join(dir, 'vocab');
    mkdirSync(vocabDir);
    writeFileSync(join(vocabDir, 'vocab.txt'), vocabTokens.join('\n') + '\n');
    const textFile = join(dir, 'docs.jsonl');
    writeFileSync(textFile, docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const dataDir = join(dir, 'data');
    await createPretrainingData({
      tokenizer: {
        tokenize: (t) => t.split(/\s+/).filter(Boolean),
        convertTokensToIds: (ts) => ts.map((t) => ids.get(t) ?? 1),
      },
      vocabTokens,
      maxSeqLength: 32,
      maxPredictionsPerSeq: 5,
      inputs: [textFile],
      outputDir: dataDir,
      dupeFactor: 1,
    });
    const configFile = join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 64,
        max_position_embeddings: 32,
        hidden_dropout_prob: 0.1,
        attention_probs_dropout_prob: 0.1,
      }),
    );
    const run = (out: string, ranks: number) =>
      runCommand(
        'pretrain',
        [
          ...['--config', configFile, '--data', dataDir, '--vocab', vocabDir, '--batch-size', '7', '--steps', '5'],
          ...['--lr', '3e-3', '--seed', '3', '--output', out, '--backend', 'js'],
        ],
        ranks,
        out,
        'log.jsonl',
      );
    // Batches of 7 split 3 + 4: the ranks' masked-token counts differ, so the MLM and NSP terms weigh differently.
    compareRuns(run(join(dir, 'one'), 1), run(join(dir, 'two'), 2), 'pretrain, batch 7, 2 ranks vs 1 process');
  },
);
