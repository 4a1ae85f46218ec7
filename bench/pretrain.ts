// Pre-training throughput: BERT-mini MLM + NSP training steps with the MLM head at the masked positions only or at every token.
// Usage: node --import tsx bench/pretrain.ts [--reps 5] [--batch 32] [--seq 128] [--masked 20]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BertForPreTraining } from '../src/model/bert.js';
import type { PretrainingBatch } from '../src/data/batching.js';
import { pretrainingForward } from '../src/train/pretrain-model.js';
import { getKernels } from '../src/native/index.js';
import { clipGradNorm } from '../src/train/clip.js';
import { AdamW } from '../src/train/optim.js';
import { BERT_BASE_CONFIG, benchInputs, forwardFlops, maxRssMiB, median, sgemmShapesLimit } from './bert-base.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '128' },
    masked: { type: 'string', default: '20' },
  },
});
const reps = Number(values.reps),
  B = Number(values.batch),
  T = Number(values.seq),
  P = Number(values.masked);

/** BERT-mini (google/bert_uncased_L-4_H-256_A-4) with BERT's vocabulary; random weights. */
const MINI = {
  ...BERT_BASE_CONFIG,
  architectures: ['BertForPreTraining'],
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 1024,
};
const H = MINI.hidden_size,
  I = MINI.intermediate_size,
  V = MINI.vocab_size,
  L = MINI.num_hidden_layers;

function benchBatch(): PretrainingBatch {
  const { ids, mask, types } = benchInputs(B, T);
  const maskedIndex = new Int32Array(B * P),
    maskedLabels = new Int32Array(B * P);
  const stride = Math.floor((T - 2) / P);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < P; k++) {
      const i = b * T + 1 + k * stride + (b % stride);
      maskedIndex[b * P + k] = i;
      maskedLabels[b * P + k] = ids[i]!;
      ids[i] = 103; // [MASK]
    }
  }
  return {
    B,
    T,
    inputIds: ids,
    tokenTypeIds: types,
    attentionMask: mask,
    maskedIndex,
    maskedLabels,
    nextSentenceLabels: Int32Array.from({ length: B }, (_, b) => b % 2),
  };
}

/** Rows through the MLM head: the masked positions, or every token. */
const headRows = (gather: boolean): number => (gather ? B * P : B * T);
/** Forward FLOPs: encoder GEMMs + attention products + MLM transform and decoder over the head's rows. */
const stepFlops = (gather: boolean): number => 3 * (forwardFlops(B, T, MINI) + 2 * headRows(gather) * (H * H + V * H));
/** GEMM shapes of the step, [m, n, k, count], for the sgemm limit under the same FLOP mix. */
const gemmShapes = (gather: boolean): Array<[number, number, number, number]> => [
  [B * T, 3 * H, H, L],
  [B * T, H, H, L],
  [B * T, I, H, L],
  [B * T, H, I, L],
  [headRows(gather), H, H, 1],
  [headRows(gather), V, H, 1],
];

const kernels = getKernels();
const batch = benchBatch();
const variants = [true, false].map((gather) => {
  const model = new BertForPreTraining(MINI, { seed: 1, kernels });
  const params = model.parameters();
  return {
    gather,
    model,
    params,
    optimizer: new AdamW(params, { name: 'adamw', eps: 1e-6, weightDecay: 0.01 }, kernels),
    steps: [] as number[],
    limits: [] as number[],
    losses: [] as number[],
  };
});
const uptimeBefore = loadavg();
// Repetitions interleave the two variants so that both see the same machine load; rep 0 warms buffers and kernels.
for (let r = 0; r <= reps; r++) {
  for (const v of variants) {
    const t0 = process.hrtime.bigint();
    v.model.zeroGrad();
    const out = pretrainingForward(v.model, batch, { train: true, gather: v.gather });
    v.model.backward();
    clipGradNorm(v.params, 1, kernels);
    v.optimizer.step(1e-4);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    v.losses.push(out.loss);
    if (r === 0) continue;
    v.steps.push(s);
    v.limits.push(sgemmShapesLimit(gemmShapes(v.gather), 1).gflops);
  }
}
const rows = variants.map((v) => {
  const step = median(v.steps),
    limit = median(v.limits),
    gflops = stepFlops(v.gather) / step / 1e9;
  return {
    mlmHead: v.gather ? 'masked positions' : 'every token',
    medianStepS: step,
    tokensPerS: (B * T) / step,
    gflopPerStep: stepFlops(v.gather) / 1e9,
    gflops,
    sgemmLimitGflops: limit,
    shareOfSgemm: gflops / limit,
    samples: v.steps,
    sgemmLimitSamples: v.limits,
    losses: v.losses,
  };
});
const result = {
  bench: 'pretrain',
  model: 'BERT-mini (L4 H256 A4 I1024 V30522)',
  kernels: kernels.name,
  batch: B,
  seq: T,
  maskedPerSeq: P,
  reps,
  rows,
  speedupGather: rows[1]!.medianStepS / rows[0]!.medianStepS,
  peakRssMiB: maxRssMiB(),
  loadavgBefore: uptimeBefore,
  loadavgAfter: loadavg(),
};
console.log(JSON.stringify(result));
console.log(
  `\npre-training step, BERT-mini, ${B}x${T} tokens, ${P} masked per sequence (${kernels.name} kernels, ${reps} reps, load ${uptimeBefore[0]!.toFixed(1)})`,
);
console.log('MLM head          | median step | tokens/s | GFLOP/step | GFLOP/s | sgemm limit | of limit');
for (const r of rows) {
  console.log(
    `${r.mlmHead.padEnd(17)} | ${r.medianStepS.toFixed(3).padStart(9)} s | ${r.tokensPerS.toFixed(0).padStart(8)} | ${r.gflopPerStep.toFixed(1).padStart(10)} | ${r.gflops.toFixed(1).padStart(7)} | ${r.sgemmLimitGflops.toFixed(1).padStart(11)} | ${r.shareOfSgemm.toFixed(2).padStart(8)}`,
  );
}
console.log(
  `gathering the masked positions: ${result.speedupGather.toFixed(2)}x the tokens/s; peak RSS ${result.peakRssMiB.toFixed(0)} MiB`,
);
