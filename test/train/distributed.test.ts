// Data parallelism: `mpirun -np 2 bert finetune` ends with the one-process run's weights, loss curve and a loadable folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/data/rng.js';
import { createPretrainingData } from '../../src/data/pretraining-dataset.js';
import { shareRange } from '../../src/data/samplers.js';
import {
  checkReplicasAgree,
  flatSpan,
  parameterChecksum,
  singleProcess,
  type Distributed,
} from '../../src/train/distributed.js';

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
function runCommand(name: string, args: string[], ranks: number, out: string, log: string): RunOutput {
  const cmd = [process.execPath, '--import', 'tsx', 'test/train/helpers/run-command.ts', name, ...args];
  // One thread per rank: the two ranks share this machine's cores.
  const env = { ...process.env, OMP_NUM_THREADS: '1' };
  const r =
    ranks === 1
      ? spawnSync(cmd[0] ?? 'node', cmd.slice(1), { encoding: 'utf8', env })
      : spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(ranks), ...cmd], {
          encoding: 'utf8',
          env,
        });
  assert.equal(r.status, 0, `${name} on ${ranks} rank(s) failed:\n${r.stderr}\n${r.stdout}`);
  const losses = readFileSync(join(out, log), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"step"'))
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
  // A stopped run leaves a training state but no model folder yet.
  const model = join(out, 'model.safetensors');
  return { losses, weights: existsSync(model) ? readSafetensors(model).tensors : new Map(), stdout: r.stdout };
}

/** The same run at 1 process and at 2 ranks: the same loss curve (1e-5) and weights within 1e-4; returns the max difference. */
function compareRuns(one: RunOutput, other: RunOutput, what: string): number {
  // Rank 0 alone logs: one line per step, not two.
  assert.equal(other.losses.length, one.losses.length, what);
  other.losses.forEach((l, i) =>
    assert.ok(Math.abs(l - (one.losses[i] ?? NaN)) <= 1e-5, `${what} step ${i + 1}: ${l} vs ${one.losses[i]}`),
  );
  let maxDiff = 0;
  for (const [name, t] of one.weights) {
    const u = other.weights.get(name);
    assert.ok(u, `${what}: ${name} missing`);
    const a = t.data as Float32Array;
    const b = u.data as Float32Array;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  }
  assert.ok(maxDiff <= 1e-4, `${what}: max abs weight difference ${maxDiff}`);
  process.stderr.write(`# ${what}: 2 ranks vs 1 process, max abs weight difference ${maxDiff}\n`);
  return maxDiff;
}

test(
  'mpirun -np 2 bert finetune ends with the one-process weights, loss curve and a folder that loads',
  { skip: skipMpi, timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bert-ts-mpi-'));
    // hf-tiny as it is, dropout 0.1 on: masks are drawn per example, so they do not depend on the rank count.
    const model = join(FIX, 'seq_cls3');
    const train = join(dir, 'train.jsonl');
    // 21 examples in batches of 8: the last batch of each epoch (5) splits 2 + 3, unevenly.
    writeFileSync(train, reviews(21, 3));
    const base = [
      ...['--model', model, '--tokenizer', join(FIX, 'tokenizer'), '--train', train, '--labels', 'negative,positive'],
      ...['--max-length', '24', '--epochs', '2', '--lr', '1e-2', '--seed', '5', '--backend', 'js'],
    ];
    const run = (out: string, ranks: number, accum: number, ...extra: string[]) =>
      runCommand(
        'finetune',
        [...base, '--batch-size', String(8 / accum), '--grad-accum', String(accum), '--output', out, ...extra],
        ranks,
        out,
        'train_log.jsonl',
      );
    const one = run(join(dir, 'one'), 1, 1);
    assert.equal(one.losses.length, 6);
    const two = run(join(dir, 'two'), 2, 1);
    compareRuns(one, two, 'finetune, batch 8');
    // Micro-batches of 4, two per step: the last step of an epoch holds 4 + 1 examples (its 1-example micro-batch
    // leaves rank 0 an empty share).
    compareRuns(run(join(dir, 'one-accum'), 1, 2), run(join(dir, 'two-accum'), 2, 2), 'finetune, batch 4 x 2');
    // Stopped at 2 ranks after step 4, resumed as one process: the training state does not depend on the rank count.
    const stopped = join(dir, 'stopped');
    run(stopped, 2, 1, '--stop-after-steps', '4');
    compareRuns(one, run(stopped, 1, 1, '--resume'), 'finetune, stopped at 2 ranks, resumed at 1');
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
  },
);

test(
  'mpirun -np 2 bert pretrain (MLM + NSP) ends with the one-process weights and loss curve',
  { skip: skipMpi, timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bert-ts-mpi-pt-'));
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
    compareRuns(run(join(dir, 'one'), 1), run(join(dir, 'two'), 2), 'pretrain, batch 7');
  },
);
