// ModernBERT unpadding: the same batches of IMDb reviews (shuffled, not length-sorted: as fine-tuning draws them,
// truncated at --max-length) run padded (unpad: false, every position as transformers' eager path) and unpadded
// (the default), interleaved: inference forward and training step (forward + backward) seconds, medians over --reps,
// the padding share of the batches, and the speed-up. The model is ModernBERT-base's layer widths (hidden 768, 12
// heads, GeGLU 1152, window 128, a global layer every 3) with --layers layers, randomly initialised.
// Usage: node --import tsx bench/modernbert-unpad.ts [--layers 6] [--batch 8] [--max-length 512] [--reps 3]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ModernBertForSequenceClassification } from '../src/model/bert.js';
import { getKernels } from '../src/native/index.js';
import { BertTokenizer } from '../src/tokenizer/tokenizer.js';
import { maxRssMiB, median } from './bert-base.js';
import { jsonlTexts } from './forward-peer.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '6' },
    batch: { type: 'string', default: '8' },
    'max-length': { type: 'string', default: '512' },
    reps: { type: 'string', default: '3' },
  },
});
const L = Number(values.layers),
  B = Number(values.batch),
  maxLength = Number(values['max-length']),
  reps = Number(values.reps);

const kernels = getKernels();
const config = {
  vocab_size: 30522, // the tokenizer below (bert-base-uncased) stands in for ModernBERT's: the lengths are what count
  hidden_size: 768,
  num_hidden_layers: L,
  num_attention_heads: 12,
  intermediate_size: 1152,
  max_position_embeddings: 8192,
  global_attn_every_n_layers: 3,
  local_attention: 128,
  classifier_pooling: 'mean',
  pad_token_id: 0,
  num_labels: 2,
};
const models = {
  padded: new ModernBertForSequenceClassification(config, { kernels, seed: 1, unpad: false }),
  unpadded: new ModernBertForSequenceClassification(config, { kernels, seed: 1 }),
};

// The batches: reviews in a fixed shuffled order (a linear congruential draw), B per batch, reps + 1 batches.
const tokenizer = BertTokenizer.fromPretrained('../shared/vocab/bert-base-uncased');
const texts = jsonlTexts('../shared/data/imdb/test.jsonl.gz', 25000);
let state = 12345;
const pick = (): string => texts[(state = (state * 1103515245 + 12345) % 2147483648) % texts.length]!;
const batches = Array.from({ length: reps + 1 }, () => {
  const enc = tokenizer(Array.from({ length: B }, pick), {
    padding: true,
    truncation: true,
    max_length: maxLength,
    return_tensor: false,
  });
  const ids = enc.input_ids as number[][],
    mask = enc.attention_mask as number[][];
  const T = ids[0]!.length;
  return {
    T,
    attended: mask.flat().reduce((a, b) => a + b, 0),
    inputs: {
      inputIds: { data: Int32Array.from(ids.flat()), shape: [B, T] },
      attentionMask: { data: Int32Array.from(mask.flat()), shape: [B, T] },
      labels: { data: Int32Array.from({ length: B }, (_, i) => i % 2), shape: [B] },
    },
  };
});

const seconds = (f: () => void): number => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const times = {
  padded: { forward: [] as number[], step: [] as number[] },
  unpadded: { forward: [] as number[], step: [] as number[] },
};
const losses = { padded: [] as number[], unpadded: [] as number[] };
for (const [r, batch] of batches.entries()) {
  for (const name of ['padded', 'unpadded'] as const) {
    const model = models[name];
    const forward = seconds(() => model.forward(batch.inputs, { grad: false }));
    let loss = 0;
    const step = seconds(() => {
      model.zeroGrad();
      loss = model.forward(batch.inputs, { train: true, seed: r }).loss!;
      model.backward();
    });
    losses[name].push(loss);
    if (r === 0) continue; // warm-up: buffers, oneDNN primitives
    times[name].forward.push(forward);
    times[name].step.push(step);
  }
}
const measured = batches.slice(1);
const tokens = measured.reduce((n, b) => n + B * b.T, 0),
  attended = measured.reduce((n, b) => n + b.attended, 0);
const lossGap = Math.max(...losses.padded.map((l, i) => Math.abs(l - losses.unpadded[i]!)));
const row = (what: 'forward' | 'step') => ({
  padded_s: median(times.padded[what]),
  unpadded_s: median(times.unpadded[what]),
  speedup: median(times.padded[what]) / median(times.unpadded[what]),
});
console.log(
  JSON.stringify(
    {
      kernels: kernels.name,
      layers: L,
      batch: B,
      maxLength,
      reps,
      seqLengths: measured.map((b) => b.T),
      paddingShare: 1 - attended / tokens,
      forward: row('forward'),
      trainStep: row('step'),
      largestLossDifference: lossGap,
      peakRssMiB: maxRssMiB(),
      load: loadavg()[0],
    },
    null,
    2,
  ),
);
