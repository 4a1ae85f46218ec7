// Forward benchmark: BERT-base or RoBERTa-base (random weights) at 32x128 and 1x128, bert-ts vs onnxruntime-node on
// the same weights (exported with src/export/onnx.ts). Timings alternate the two runtimes rep by rep in one process, so that load from
// other processes hits both alike; peak RSS is measured in a separate child process per runtime and shape.
// Usage: node --import tsx bench/forward.ts [--reps 5] [--shapes 32x128,1x128] [--model bert|roberta] [--no-rss]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BertModel, RobertaModel } from '../src/model/bert.js';
import { exportBertOnnx } from '../src/export/onnx.js';
import { getKernels } from '../src/native/index.js';
import { BERT_BASE_CONFIG, ROBERTA_BASE_CONFIG, forwardFlops, median, sgemmLimit } from './bert-base.js';
import * as peer from './forward-peer.js';

const { values } = parseArgs({
  options: {
    ...peer.PEER_BENCH_FLAGS,
    shapes: { type: 'string', default: '32x128,1x128' },
    model: { type: 'string', default: 'bert' },
  },
});
if (values.model !== 'bert' && values.model !== 'roberta') throw new Error('bench/forward: --model is bert or roberta');
const roberta = values.model === 'roberta';
const CONFIG = roberta ? ROBERTA_BASE_CONFIG : BERT_BASE_CONFIG;
const newModel = (): BertModel =>
  roberta
    ? new RobertaModel(CONFIG, { seed: SEED, kernels: getKernels() })
    : new BertModel(CONFIG, { seed: SEED, kernels: getKernels() });
const reps = Number(values.reps);
const SEED = 1;
const SCRIPT = fileURLToPath(import.meta.url);

/** RSS child: one runtime, one shape, warm-up + one forward; prints its peak RSS. */
async function child(): Promise<void> {
  const [B, T] = peer.parseShape(values.shape!, 'bench/forward');
  await peer.rssChild(
    values.child === 'bert'
      ? peer.bertRunner(newModel(), B, T)
      : peer.ortRunner(await peer.ortSession(values.onnx!, true), B, T),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bert-bench-'));
  try {
    const model = newModel();
    const onnx = join(dir, 'model.onnx');
    writeFileSync(onnx, exportBertOnnx(CONFIG, model.parameters(), { head: 'base' }));
    const session = await peer.ortSession(onnx, true);
    const sessionNoSpin = await peer.ortSession(onnx, false);
    const rows = [];
    for (const shape of values.shapes!.split(',')) {
      const [B, T] = peer.parseShape(shape, 'bench/forward');
      const bert = peer.bertRunner(model, B, T),
        onnxRun = peer.ortRunner(session, B, T),
        onnxNoSpin = peer.ortRunner(sessionNoSpin, B, T);
      const a = bert().slice(),
        b = await onnxRun(); // warm-up, and the two must agree
      await onnxNoSpin();
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      const tb: number[] = [],
        to: number[] = [],
        tn: number[] = [],
        limits: number[] = [];
      for (let r = 0; r < reps; r++) {
        let t0 = process.hrtime.bigint();
        bert();
        tb.push(peer.secondsSince(t0));
        t0 = process.hrtime.bigint();
        await onnxRun();
        to.push(peer.secondsSince(t0));
        t0 = process.hrtime.bigint();
        await onnxNoSpin();
        tn.push(peer.secondsSince(t0));
        limits.push(sgemmLimit(B * T, 1).gflops); // the limit under the same load as this rep
      }
      const limit = { gflops: median(limits), perShape: sgemmLimit(B * T).perShape };
      const flops = forwardFlops(B, T);
      const stats = (runtime: string, times: number[]) => {
        const s = median(times);
        return {
          runtime,
          medianS: s,
          tokensPerS: (B * T) / s,
          gflops: flops / s / 1e9,
          shareOfSgemm: flops / s / 1e9 / limit.gflops,
          peakRssMiB: 0,
          samples: times,
        };
      };
      const row = {
        shape,
        tokens: B * T,
        gflopPerForward: flops / 1e9,
        sgemmLimitGflops: limit.gflops,
        sgemmLimitSamples: limits,
        sgemmPerShape: limit.perShape,
        bert: stats(`bert-ts ${model.kernels.name}`, tb),
        ort: stats(`onnxruntime-node ${peer.threads} threads`, to),
        ortNoSpin: stats(`onnxruntime-node ${peer.threads} thr, no spin`, tn),
        // Against the faster of ORT's two thread-pool settings.
        speedupVsOrt: Math.min(median(to), median(tn)) / median(tb),
        maxAbsDiffVsOrt: maxDiff,
      };
      if (!values['no-rss']) {
        row.bert.peakRssMiB = peer.childRss(SCRIPT, 'bench/forward', 'bert', shape, onnx, ['--model', values.model]);
        row.ort.peakRssMiB = peer.childRss(SCRIPT, 'bench/forward', 'ort', shape, onnx, ['--model', values.model]);
        row.ortNoSpin.peakRssMiB = row.ort.peakRssMiB;
      }
      rows.push(row);
      process.stderr.write(
        `${shape}: bert-ts ${row.bert.tokensPerS.toFixed(0)} tok/s, ORT ${row.ort.tokensPerS.toFixed(0)} / ${row.ortNoSpin.tokensPerS.toFixed(0)} (no spin) tok/s\n`,
      );
    }
    console.log(
      JSON.stringify({
        bench: 'forward',
        model: values.model,
        threads: peer.threads,
        reps,
        loadavg: (await import('node:os')).loadavg(),
        rows,
      }),
    );
    console.log(
      `\n${'shape'.padEnd(8)} ${'runtime'.padEnd(34)} ${'median s'.padStart(9)} ${'tok/s'.padStart(8)} ${'GFLOP/s'.padStart(8)} ${'of sgemm'.padStart(9)} ${'peak RSS'.padStart(9)}`,
    );
    for (const r of rows) {
      for (const x of [r.bert, r.ort, r.ortNoSpin]) {
        console.log(
          `${r.shape.padEnd(8)} ${x.runtime.padEnd(34)} ${x.medianS.toFixed(3).padStart(9)} ${x.tokensPerS.toFixed(0).padStart(8)} ${x.gflops.toFixed(1).padStart(8)} ${x.shareOfSgemm.toFixed(2).padStart(9)} ${(x.peakRssMiB.toFixed(0) + ' MiB').padStart(9)}`,
        );
      }
      console.log(
        `${r.shape.padEnd(8)} bert-ts / best ORT throughput ${r.speedupVsOrt.toFixed(2)}x; sgemm limit ${r.sgemmLimitGflops.toFixed(1)} GFLOP/s; max |bert-ts - ORT| ${r.maxAbsDiffVsOrt.toExponential(1)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await child();
else await main();
