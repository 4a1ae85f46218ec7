// Training-step benchmark: BERT-base sequence classification, forward + backward + AdamW on 16x128 tokens,
// as a share of the machine's sgemm limit counting 3x the forward FLOPs; peak RSS.
// Usage: node --import tsx bench/train-step.ts [--reps 3] [--batch 16] [--seq 128]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BertForSequenceClassification } from '../src/model/bert.js';
import { getKernels } from '../src/native/index.js';
import { AdamW } from '../src/train/optim.js';
import { BERT_BASE_CONFIG, benchInputs, forwardFlops, maxRssMiB, median, sgemmLimit } from './bert-base.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '128' },
  },
});
const reps = Number(values.reps),
  B = Number(values.batch),
  T = Number(values.seq);

const kernels = getKernels();
const model = new BertForSequenceClassification(
  { ...BERT_BASE_CONFIG, architectures: ['BertForSequenceClassification'], num_labels: 2 },
  { seed: 1, kernels },
);
const optimizer = new AdamW(model.parameters(), { name: 'adamw', weightDecay: 0.01 }, kernels);
const { ids, mask, types } = benchInputs(B, T);
const labels = Int32Array.from({ length: B }, (_, i) => i % 2);
const inputs = {
  inputIds: { data: ids, shape: [B, T] },
  attentionMask: { data: mask, shape: [B, T] },
  tokenTypeIds: { data: types, shape: [B, T] },
  labels: { data: labels, shape: [B] },
};

const phases = { forward: [] as number[], backward: [] as number[], optimizer: [] as number[], step: [] as number[] };
// The sgemm limit is measured between steps, so that it sees the same machine load as the steps it is compared to.
const limits: number[] = [];
const losses: number[] = [];
for (let r = 0; r <= reps; r++) {
  const t0 = process.hrtime.bigint();
  model.zeroGrad();
  const out = model.forward(inputs, { train: true });
  const t1 = process.hrtime.bigint();
  model.backward();
  const t2 = process.hrtime.bigint();
  optimizer.step(2e-5);
  const t3 = process.hrtime.bigint();
  losses.push(out.loss ?? Number.NaN);
  if (r === 0) continue; // warm-up: buffers, oneDNN kernels
  phases.forward.push(Number(t1 - t0) / 1e9);
  phases.backward.push(Number(t2 - t1) / 1e9);
  phases.optimizer.push(Number(t3 - t2) / 1e9);
  phases.step.push(Number(t3 - t0) / 1e9);
  limits.push(sgemmLimit(B * T, 1).gflops);
}
const limit = { gflops: median(limits) };
const flops = 3 * forwardFlops(B, T);
const step = median(phases.step);
const result = {
  bench: 'train-step',
  kernels: kernels.name,
  batch: B,
  seq: T,
  reps,
  medianStepS: step,
  medianForwardS: median(phases.forward),
  medianBackwardS: median(phases.backward),
  medianOptimizerS: median(phases.optimizer),
  tokensPerS: (B * T) / step,
  gflops: flops / step / 1e9,
  sgemmLimitGflops: limit.gflops,
  shareOfSgemm: flops / step / 1e9 / limit.gflops,
  peakRssMiB: maxRssMiB(),
  losses,
  samples: phases.step,
  sgemmLimitSamples: limits,
  loadavg: loadavg(),
};
console.log(JSON.stringify(result));
console.log(
  `\ntrain step ${B}x${T} (${kernels.name}): median ${step.toFixed(2)} s (forward ${result.medianForwardS.toFixed(2)}, backward ${result.medianBackwardS.toFixed(2)}, AdamW ${result.medianOptimizerS.toFixed(2)})`,
);
console.log(
  `  ${result.tokensPerS.toFixed(0)} tokens/s, ${result.gflops.toFixed(1)} GFLOP/s counting 3x forward = ${result.shareOfSgemm.toFixed(2)} of the sgemm limit (${limit.gflops.toFixed(1)} GFLOP/s); peak RSS ${result.peakRssMiB.toFixed(0)} MiB`,
);
