// Shared pieces of the model benchmarks: the BERT-base config, deterministic inputs, FLOP counts, the sgemm limit.
import { readFileSync } from 'node:fs';
import { loadNativeAddon } from '../src/native/index.js';

/** BERT-base shapes (random weights: the benchmark measures speed, not accuracy). */
export const BERT_BASE_CONFIG = {
  architectures: ['BertModel'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
};

/** RoBERTa-base shapes (configuration of roberta-base: BPE vocabulary, positions from padding_idx 1, one token type). */
export const ROBERTA_BASE_CONFIG = {
  ...BERT_BASE_CONFIG,
  architectures: ['RobertaModel'],
  model_type: 'roberta',
  vocab_size: 50265,
  max_position_embeddings: 514,
  type_vocab_size: 1,
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
};

/** Token ids (LCG, reproducible), all-ones mask, segment 0 then 1: the same inputs for every runtime. */
export function benchInputs(batch: number, seq: number): { ids: Int32Array; mask: Int32Array; types: Int32Array } {
  const n = batch * seq;
  const ids = new Int32Array(n),
    mask = new Int32Array(n).fill(1),
    types = new Int32Array(n);
  let s = 20240607;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = 1000 + (s % 29000);
    types[i] = i % seq >= seq / 2 ? 1 : 0;
  }
  for (let b = 0; b < batch; b++) ids[b * seq] = 101;
  return { ids, mask, types };
}

/** Encoder forward FLOPs (2 per multiply-add): the GEMMs plus the two attention products; pooler/head ignored. */
export function forwardFlops(batch: number, seq: number, c = BERT_BASE_CONFIG): number {
  const N = batch * seq,
    H = c.hidden_size,
    I = c.intermediate_size;
  return c.num_hidden_layers * (2 * N * 4 * H * H + 2 * N * 2 * H * I + 2 * 2 * batch * seq * seq * H);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * The machine's GEMM limit for a model of `tokens` rows: oneDNN's own sgemm (no bert-ts code) on the encoder's
 * GEMM shapes, combined by FLOP share (total FLOPs / total time). GFLOP/s.
 */
export function sgemmLimit(tokens: number, reps = 3): { gflops: number; perShape: Record<string, number> } {
  const H = BERT_BASE_CONFIG.hidden_size,
    I = BERT_BASE_CONFIG.intermediate_size;
  // [m, n, k, count per layer]: QKV (fused), attention output, FFN up, FFN down.
  return sgemmShapesLimit(
    [
      [tokens, 3 * H, H, 1],
      [tokens, H, H, 1],
      [tokens, I, H, 1],
      [tokens, H, I, 1],
    ],
    reps,
  );
}

/** oneDNN's raw sgemm on GEMM shapes [m, n, k, count], combined by FLOP share (total FLOPs / total time). GFLOP/s. */
export function sgemmShapesLimit(
  shapes: ReadonlyArray<readonly [number, number, number, number]>,
  reps = 3,
): { gflops: number; perShape: Record<string, number> } {
  const addon = loadNativeAddon();
  if (!addon) throw new Error('sgemmLimit needs the native addon');
  let flops = 0,
    seconds = 0;
  const perShape: Record<string, number> = {};
  for (const [m, n, k, count] of shapes) {
    const a = new Float32Array(m * k).fill(0.5),
      b = new Float32Array(n * k).fill(0.25),
      c = new Float32Array(m * n);
    addon.sgemmReference(false, true, m, n, k, 1, a, k, b, k, 0, c, n);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint();
      addon.sgemmReference(false, true, m, n, k, 1, a, k, b, k, 0, c, n);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const t = median(times);
    perShape[`${m}x${n}x${k}`] = (2 * m * n * k) / t / 1e9;
    flops += 2 * m * n * k * count;
    seconds += t * count;
  }
  return { gflops: flops / seconds / 1e9, perShape };
}

/**
 * Peak resident memory of this process in MiB: VmHWM on Linux (getrusage's maxrss carries the parent's peak over
 * fork + exec, which would charge a benchmark child with its parent's memory), maxRSS elsewhere.
 */
export function maxRssMiB(): number {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
