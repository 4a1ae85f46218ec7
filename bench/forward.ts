// Forward benchmark: BERT-base (random weights) at 32x128 and 1x128, bert-ts vs onnxruntime-node on the same weights.
// Usage: node --import tsx bench/forward.ts [--reps 3] [--rounds 2] [--shapes 32x128,1x128]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BertModel } from '../src/model/bert.js';
import { exportBertOnnx } from '../src/export/onnx.js';
import { getKernels } from '../src/native/index.js';
import { BERT_BASE_CONFIG, benchInputs, forwardFlops, maxRssMiB, median, sgemmLimit } from './bert-base.js';

const { values } = parseArgs({
  options: {
    child: { type: 'string' }, onnx: { type: 'string' }, batch: { type: 'string' }, seq: { type: 'string' },
    reps: { type: 'string', default: '3' }, rounds: { type: 'string', default: '2' }, shapes: { type: 'string', default: '32x128,1x128' },
  },
});
const reps = Number(values.reps);
const threads = availableParallelism();
const SEED = 1;

interface ChildResult {
  runtime: string;
  times: number[];
  rssMiB: number;
  probe: number[];
}

/** Forward passes in this process (bert-ts or ORT), printed as one JSON line. */
async function child(): Promise<void> {
  const B = Number(values.batch), T = Number(values.seq);
  const { ids, mask, types } = benchInputs(B, T);
  const times: number[] = [];
  let probe: number[] = [];
  if (values.child === 'bert') {
    const model = new BertModel(BERT_BASE_CONFIG, { seed: SEED, kernels: getKernels() });
    const inputs = { inputIds: { data: ids, shape: [B, T] }, attentionMask: { data: mask, shape: [B, T] }, tokenTypeIds: { data: types, shape: [B, T] } };
    for (let r = 0; r <= reps; r++) {
      const t0 = process.hrtime.bigint();
      const out = model.forward(inputs);
      const t = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r > 0) times.push(t); // rep 0 warms up (activation buffers, oneDNN kernels)
      probe = Array.from(out.lastHiddenState.data.subarray(0, 8));
    }
    console.log(JSON.stringify({ runtime: `bert-ts ${model.kernels.name}`, times, rssMiB: maxRssMiB(), probe } satisfies ChildResult));
  } else {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(values.onnx!, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
    });
    const big = (a: Int32Array) => new ort.Tensor('int64', BigInt64Array.from(a, (v) => BigInt(v)), [B, T]);
    const feeds = { input_ids: big(ids), attention_mask: big(mask), token_type_ids: big(types) };
    for (let r = 0; r <= reps; r++) {
      const t0 = process.hrtime.bigint();
      const out = await session.run(feeds);
      const t = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r > 0) times.push(t);
      probe = Array.from((out.last_hidden_state!.data as Float32Array).subarray(0, 8));
    }
    console.log(JSON.stringify({ runtime: `onnxruntime-node (${threads} threads)`, times, rssMiB: maxRssMiB(), probe } satisfies ChildResult));
  }
}

function runChild(kind: string, B: number, T: number, onnx: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, '--batch', String(B), '--seq', String(T), '--reps', String(reps), '--onnx', onnx], {
    encoding: 'utf8', maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench/forward child ${kind} ${B}x${T} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bert-bench-'));
  try {
    // The same seeded weights in every process: the ONNX file is exported from a model built with SEED.
    const onnx = join(dir, 'model.onnx');
    {
      const model = new BertModel(BERT_BASE_CONFIG, { seed: SEED });
      writeFileSync(onnx, exportBertOnnx(BERT_BASE_CONFIG, model.parameters(), { head: 'base' }));
    }
    const rows = [];
    for (const shape of values.shapes!.split(',')) {
      const [B, T] = shape.split('x').map(Number);
      const limit = sgemmLimit(B * T);
      const bert: ChildResult[] = [], ort: ChildResult[] = [];
      // Alternate the runtimes so that load from other processes hits both alike.
      for (let round = 0; round < Number(values.rounds); round++) {
        bert.push(runChild('bert', B, T, onnx));
        ort.push(runChild('ort', B, T, onnx));
      }
      const flops = forwardFlops(B, T);
      const tb = median(bert.flatMap((r) => r.times)), to = median(ort.flatMap((r) => r.times));
      const probeDiff = Math.max(...bert[0].probe.map((v, i) => Math.abs(v - ort[0].probe[i])));
      const row = {
        shape, tokens: B * T, gflopPerForward: flops / 1e9, sgemmLimitGflops: limit.gflops,
        bert: { runtime: bert[0].runtime, medianS: tb, tokensPerS: (B * T) / tb, gflops: flops / tb / 1e9, shareOfSgemm: flops / tb / 1e9 / limit.gflops, peakRssMiB: Math.max(...bert.map((r) => r.rssMiB)), samples: bert.flatMap((r) => r.times) },
        ort: { runtime: ort[0].runtime, medianS: to, tokensPerS: (B * T) / to, gflops: flops / to / 1e9, shareOfSgemm: flops / to / 1e9 / limit.gflops, peakRssMiB: Math.max(...ort.map((r) => r.rssMiB)), samples: ort.flatMap((r) => r.times) },
        speedupVsOrt: to / tb,
        maxAbsDiffFirstValues: probeDiff,
      };
      rows.push(row);
      process.stderr.write(`${shape}: bert-ts ${row.bert.tokensPerS.toFixed(0)} tok/s, ORT ${row.ort.tokensPerS.toFixed(0)} tok/s\n`);
    }
    console.log(JSON.stringify({ bench: 'forward', threads, reps, rounds: Number(values.rounds), rows }));
    console.log(`\n${'shape'.padEnd(8)} ${'runtime'.padEnd(34)} ${'median s'.padStart(9)} ${'tok/s'.padStart(8)} ${'GFLOP/s'.padStart(8)} ${'of sgemm'.padStart(9)} ${'peak RSS'.padStart(9)}`);
    for (const r of rows) {
      for (const x of [r.bert, r.ort]) {
        console.log(`${r.shape.padEnd(8)} ${x.runtime.padEnd(34)} ${x.medianS.toFixed(3).padStart(9)} ${x.tokensPerS.toFixed(0).padStart(8)} ${x.gflops.toFixed(1).padStart(8)} ${x.shareOfSgemm.toFixed(2).padStart(9)} ${(x.peakRssMiB.toFixed(0) + ' MiB').padStart(9)}`);
      }
      console.log(`${r.shape.padEnd(8)} bert-ts / ORT throughput: ${r.speedupVsOrt.toFixed(2)}x   (sgemm limit ${r.sgemmLimitGflops.toFixed(1)} GFLOP/s; outputs agree to ${r.maxAbsDiffFirstValues.toExponential(1)})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await child();
else await main();
