// Data-parallel training step: the one Trainer's step time (fine-tuning or pre-training, BERT-mini or BERT-base shapes,
// random weights and tokens, every sequence full length), and the share of it this rank waited for the gradient
// all-reduce. Run it as one process with 2 threads and as 2 ranks with 1 thread each, in each BERT_MPI_OVERLAP mode:
//   OMP_NUM_THREADS=2 node --import tsx bench/distributed-step.ts --task finetune
//   OMP_NUM_THREADS=1 mpirun -np 2 node --import tsx bench/distributed-step.ts --task finetune
//   OMP_NUM_THREADS=1 BERT_MPI_OVERLAP=async mpirun -np 2 node --import tsx bench/distributed-step.ts --task finetune
// Prints (rank 0) one JSON line: median step seconds over the steps after the first, communication share.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BertForPreTraining, BertForSequenceClassification } from '../src/model/bert.js';
import type { BertInputs } from '../src/model/inputs.js';
import { getKernels } from '../src/native/index.js';
import { EpochSampler, type IndexedDataset } from '../src/data/samplers.js';
import { collatePretraining } from '../src/data/batching.js';
import type { PretrainingBatch } from '../src/data/batching.js';
import type { PretrainingInstance } from '../src/data/pretraining.js';
import { Trainer, type TrainerModel } from '../src/train/trainer.js';
import { bertTrainerModel } from '../src/train/bert-adapter.js';
import { pretrainingTrainerModel } from '../src/train/pretrain-model.js';
import { getDistributed } from '../src/train/distributed.js';
import { ProgressReporter } from '../src/train/progress.js';
import { BERT_BASE_CONFIG, median } from './bert-base.js';

const { values } = parseArgs({
  options: {
    task: { type: 'string', default: 'finetune' },
    model: { type: 'string', default: 'mini' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '128' },
    steps: { type: 'string', default: '6' },
  },
});
const B = Number(values.batch),
  T = Number(values.seq),
  steps = Number(values.steps);
const config =
  values.model === 'base'
    ? BERT_BASE_CONFIG
    : { ...BERT_BASE_CONFIG, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 };
const kernels = getKernels();
const dist = getDistributed();

let x = 12345;
const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n) + 0;
const V = config.vocab_size;
const examples = B * (steps + 1);

function finetune(): { model: TrainerModel<BertInputs>; sampler: EpochSampler<BertInputs> } {
  const model = new BertForSequenceClassification({ ...config, num_labels: 2 }, { seed: 1, kernels });
  const ids = Array.from({ length: examples }, () => Int32Array.from({ length: T }, () => 1000 + rand(V - 1000)));
  const data: IndexedDataset<BertInputs> = {
    size: examples,
    lengthOf: () => T,
    collate: (idx) => ({
      inputIds: { data: Int32Array.from(idx.flatMap((i) => Array.from(ids[i] ?? []))), shape: [idx.length, T] },
      attentionMask: { data: new Int32Array(idx.length * T).fill(1), shape: [idx.length, T] },
      labels: { data: Int32Array.from(idx, (i) => i % 2), shape: [idx.length] },
    }),
  };
  return { model: bertTrainerModel(model), sampler: new EpochSampler(data, { batchSize: B, seed: 1 }) };
}

function pretrain(): { model: TrainerModel<PretrainingBatch>; sampler: EpochSampler<PretrainingBatch> } {
  const model = new BertForPreTraining(config, { seed: 1, kernels });
  // 15% of the positions predicted (BERT's max_predictions_per_seq 20 at 128).
  const M = Math.round(T * 0.15);
  const instances: PretrainingInstance[] = Array.from({ length: examples }, () => {
    const positions = Int32Array.from({ length: M }, (_, m) => 1 + m * Math.floor((T - 2) / M));
    return {
      inputIds: Int32Array.from({ length: T }, () => 1000 + rand(V - 1000)),
      segmentALength: T / 2,
      isRandomNext: rand(2) === 1,
      maskedPositions: positions,
      maskedLabels: Int32Array.from(positions, () => 1000 + rand(V - 1000)),
    };
  });
  const data: IndexedDataset<PretrainingBatch> = {
    size: examples,
    lengthOf: () => T,
    collate: (idx) =>
      collatePretraining(
        idx.map((i) => instances[i]!),
        0,
      ),
  };
  return { model: pretrainingTrainerModel(model), sampler: new EpochSampler(data, { batchSize: B, seed: 1 }) };
}

async function main(): Promise<void> {
  const { model, sampler } = (values.task === 'pretrain' ? pretrain() : finetune()) as {
    model: TrainerModel<unknown>;
    sampler: EpochSampler<unknown>;
  };
  const times: number[] = [];
  let last = performance.now();
  const trainer = new Trainer(model, sampler, {
    maxSteps: steps + 1,
    lr: 1e-4,
    optimizer: { name: 'adamw', weightDecay: 0.01 },
    schedule: 'constant',
    kernels,
    progress: new ProgressReporter({ stream: { write: () => true }, tty: false }),
    shouldStop: (step) => {
      const now = performance.now();
      if (step > 0) times.push((now - last) / 1000);
      last = now;
      return false;
    },
  });
  const r = await trainer.train();
  times.push((performance.now() - last) / 1000);
  const stepSeconds = median(times.slice(1));
  const commPerStep = r.communicationSeconds / r.steps;
  if (dist.rank === 0)
    process.stdout.write(
      JSON.stringify({
        bench: 'distributed-step',
        task: values.task,
        model: values.model,
        batch: B,
        seq: T,
        ranks: dist.size,
        threads: Number(process.env.OMP_NUM_THREADS ?? 0) || null,
        overlap: dist.size > 1 ? dist.overlap : null,
        bucketMiB: dist.size > 1 ? dist.bucketBytes / 2 ** 20 : null,
        stepSeconds: Number(stepSeconds.toFixed(4)),
        examplesPerSecond: Number((B / stepSeconds).toFixed(2)),
        communicationSecondsPerStep: Number(commPerStep.toFixed(4)),
        communicationShare: Number((commPerStep / stepSeconds).toFixed(3)),
        parameters: model.parameters().reduce((n, p) => n + p.data.length, 0),
        load: Number((loadavg()[0] ?? 0).toFixed(2)),
      }) + '\n',
    );
}

await main();
