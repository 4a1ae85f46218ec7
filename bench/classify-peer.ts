// Text classification on real texts: bert-ts pipeline('text-classification') vs transformers.js's (onnxruntime-node
// underneath, its default threads) on the same fine-tuned model (our ONNX export of the same weights, and for q8 that
// export dynamically quantized as transformers.js's model_quantized.onnx is) and the same IMDb test reviews of
// varying length: one text per call, and lists of --batch-size texts (transformers.js also given length-sorted lists).
// Reps alternate the runtimes in one process; the top labels must agree. bert-ts's threads: OMP_NUM_THREADS.
// Usage: node --import tsx bench/classify-peer.ts --model DIR [--dtype fp32|q8] [--texts 128] [--batch-size 32]
//          [--reps 3] [--python PATH]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportOnnxFolder } from '../src/export/folder.js';
import { getKernels } from '../src/native/index.js';
import { pipeline as bertPipeline } from '../src/pipelines/index.js';
import { median } from './bert-base.js';
import { jsonlTexts, quantizeOnnx, secondsSince } from './forward-peer.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    dtype: { type: 'string', default: 'fp32' },
    texts: { type: 'string', default: '128' },
    'batch-size': { type: 'string', default: '32' },
    reps: { type: 'string', default: '3' },
    python: { type: 'string', default: process.env.BERT_BENCH_PYTHON ?? 'python3' },
  },
});
if (!values.model) throw new Error('usage: bench/classify-peer.ts --model DIR [--dtype fp32|q8]');
const dtype = values.dtype as 'fp32' | 'q8';
if (dtype !== 'fp32' && dtype !== 'q8') throw new Error(`--dtype must be fp32 or q8, got ${values.dtype}`);
const batchSize = Number(values['batch-size']);

type Label = { label: string; score: number };
type Classify = (texts: string[], batch: number, sorted: boolean) => Promise<string[]>;

/** Calls `one(list)` on lists of `batch` texts (length-sorted when asked) and returns the top labels in input order. */
async function inLists(texts: string[], batch: number, sorted: boolean, one: (l: string[]) => Promise<Label[]>) {
  const order = texts.map((_, i) => i);
  if (sorted) order.sort((a, b) => texts[b]!.length - texts[a]!.length || a - b);
  const out = new Array<string>(texts.length);
  for (let s = 0; s < order.length; s += batch) {
    const idx = order.slice(s, s + batch);
    const labels = await one(idx.map((i) => texts[i]!));
    idx.forEach((i, r) => (out[i] = labels[r]!.label));
  }
  return out;
}

async function bertTs(model: string): Promise<Classify> {
  const clf = await bertPipeline('text-classification', model, { dtype });
  return (texts, batch, sorted) =>
    inLists(texts, batch, sorted, async (l) => {
      // One text gives [top label]; a list one top label per text (topK 1), as transformers.js.
      return (batch === 1 ? await clf(l[0]!) : await clf(l)) as Label[];
    });
}

async function transformersJs(onnx: string): Promise<Classify> {
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const clf = await pipeline('text-classification', onnx, { dtype, device: 'cpu' });
  return (texts, batch, sorted) =>
    inLists(texts, batch, sorted, async (l) => {
      return (await clf(batch === 1 ? l[0]! : l)) as Label[];
    });
}

const texts = jsonlTexts('../shared/data/imdb/test.jsonl.gz', Number(values.texts));
const dir = mkdtempSync(join(tmpdir(), 'bert-classify-bench-'));
try {
  const { onnxPath } = exportOnnxFolder(values.model, dir, { task: 'text-classification' });
  if (dtype === 'q8') {
    const failed = quantizeOnnx(values.python!, onnxPath, join(dir, 'onnx', 'model_quantized.onnx'));
    if (failed) throw new Error(failed);
  }
  const runners: Array<[string, Classify, boolean]> = [
    [
      `bert-ts ${dtype} (${getKernels().name}, OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? 'default'})`,
      await bertTs(values.model),
      false,
    ],
    [`transformers.js ${dtype}`, await transformersJs(dir), false],
    [`transformers.js ${dtype}, length-sorted lists`, await transformersJs(dir), true],
  ];
  const rows = [];
  for (const batch of [1, batchSize]) {
    const runs = batch === 1 ? runners.slice(0, 2) : runners;
    const first = await Promise.all(runs.map(([, run, sorted]) => run(texts, batch, sorted))); // warm-up
    const agree = first[1]!.filter((l, i) => l === first[0]![i]).length / texts.length;
    const times: number[][] = runs.map(() => []);
    for (let r = 0; r < Number(values.reps); r++) {
      for (let k = 0; k < runs.length; k++) {
        const t0 = process.hrtime.bigint();
        await runs[k]![1](texts, batch, runs[k]![2]);
        times[k]!.push(secondsSince(t0));
      }
    }
    const bert = median(times[0]!);
    runs.forEach(([name], k) => {
      const m = median(times[k]!);
      rows.push({ batch, runtime: name, medianS: m, textsPerS: texts.length / m, bertTsSpeedup: m / bert });
    });
    rows.push({ batch, topLabelAgreement: agree });
  }
  const flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '')
    .split(' ')
    .filter((f) => /^(avx2|avx512f|avx512_vnni|avx512_bf16|avx_vnni|fma)$/.test(f));
  console.log(
    JSON.stringify({
      bench: 'classify-peer',
      model: values.model,
      dtype,
      texts: texts.length,
      batchSize,
      reps: Number(values.reps),
      cpu: cpus()[0]?.model,
      flags,
      loadavg: loadavg(),
      rows,
    }),
  );
  for (const r of rows) console.log(JSON.stringify(r));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
