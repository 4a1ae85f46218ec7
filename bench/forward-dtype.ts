// Forward benchmark by dtype: bert-ts fp32 / q8 / bf16 against ONNX Runtime on the same BERT-base weights (its fp32
// export and that export dynamically quantized by Python onnxruntime's quantize_dynamic, per-channel int8 weights,
// MatMuls with constant weights only, as transformers.js's model_quantized.onnx), timings interleaved rep by rep;
// peak RSS per runtime in a child process. `--accuracy DIR` adds q8 / bf16 vs fp32 on IMDb test reviews (masked-LM
// logits at every 7th token, [MASK]ed), ORT's quantized export of the same model beside them.
// Usage: node --import tsx bench/forward-dtype.ts [--reps 5] [--shapes 1x128,32x128] [--python PATH] [--no-rss]
//          [--accuracy ../shared/models/bert-mini-imdb-hf --texts 64]
// --python: a Python with onnxruntime (default $BERT_BENCH_PYTHON or python3); without it ORT q8 rows are skipped.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { BertForMaskedLM, BertModel } from '../src/model/bert.js';
import { exportBertOnnx } from '../src/export/onnx.js';
import type { OnnxHead } from '../src/export/onnx.js';
import type { ModelDtype } from '../src/model/linear-dtype.js';
import { getKernels, loadNativeAddon } from '../src/native/index.js';
import { BertTokenizer } from '../src/tokenizer/index.js';
import { BERT_BASE_CONFIG, forwardFlops, median } from './bert-base.js';
import {
  bertRunner,
  childRss,
  int64Tensor,
  ortRunner,
  ortSession,
  parseShape,
  PEER_BENCH_FLAGS,
  quantizeOnnx,
  rssChild,
  secondsSince,
  threads,
} from './forward-peer.js';

const { values } = parseArgs({
  options: {
    ...PEER_BENCH_FLAGS,
    shapes: { type: 'string', default: '1x128,32x128' },
    python: { type: 'string', default: process.env.BERT_BENCH_PYTHON ?? 'python3' },
    accuracy: { type: 'string' },
    texts: { type: 'string', default: '64' },
  },
});
const reps = Number(values.reps);
const SEED = 1;
const SCRIPT = fileURLToPath(import.meta.url);

/** The dtypes bert-ts runs here (bf16 only where the CPU has it). */
function bertDtypes(): ModelDtype[] {
  const packed = getKernels().packedLinear;
  return (['fp32', 'q8', 'bf16'] as const).filter((d) => d === 'fp32' || packed?.unsupported(d) === null);
}

/** A BERT-base of random weights (seed SEED) in `dtype`; `from` shares its weights when given. */
function benchModel(dtype: ModelDtype, from?: BertModel): BertModel {
  const m = new BertModel(BERT_BASE_CONFIG, { seed: SEED, kernels: getKernels(), dtype, initWeights: !from });
  if (from) m.store.data.set(from.store.data);
  return m;
}

/** RSS child: one runtime, one shape, warm-up + one forward; prints its peak RSS. */
async function child(): Promise<void> {
  const [B, T] = parseShape(values.shape!, 'bench/forward-dtype');
  const [kind, dtype] = values.child!.split(':') as [string, ModelDtype];
  await rssChild(
    kind === 'bert' ? bertRunner(benchModel(dtype), B, T) : ortRunner(await ortSession(values.onnx!, false), B, T),
  );
}

interface Runtime {
  name: string;
  rssKind: string;
  onnx: string;
  run: () => Float32Array | Promise<Float32Array>;
  times: number[];
}

async function speed(dir: string): Promise<void> {
  const fp32 = benchModel('fp32');
  const models = new Map<ModelDtype, BertModel>(
    bertDtypes().map((d) => [d, d === 'fp32' ? fp32 : benchModel(d, fp32)]),
  );
  const onnx = join(dir, 'model.onnx'),
    onnxQ8 = join(dir, 'model_quantized.onnx');
  writeFileSync(onnx, exportBertOnnx(BERT_BASE_CONFIG, fp32.parameters(), { head: 'base' }));
  const whyNoOrtQ8 = quantizeOnnx(values.python!, onnx, onnxQ8);
  if (whyNoOrtQ8) process.stderr.write(`bench/forward-dtype: no ORT q8 rows: ${whyNoOrtQ8}\n`);
  const sessions: Array<[string, string, ort.InferenceSession]> = [];
  for (const [label, path] of whyNoOrtQ8
    ? [['fp32', onnx]]
    : [
        ['fp32', onnx],
        ['q8', onnxQ8],
      ]) {
    sessions.push([`ORT ${label}`, path!, await ortSession(path!, true)]);
    sessions.push([`ORT ${label} no spin`, path!, await ortSession(path!, false)]);
  }
  const rows = [];
  for (const shape of values.shapes!.split(',')) {
    const [B, T] = parseShape(shape, 'bench/forward-dtype');
    const runtimes: Runtime[] = [
      ...[...models].map(([d, m]) => ({
        name: `bert-ts ${d}`,
        rssKind: `bert:${d}`,
        onnx,
        run: bertRunner(m, B, T),
        times: [],
      })),
      ...sessions.map(([name, path, s]) => ({ name, rssKind: 'ort', onnx: path, run: ortRunner(s, B, T), times: [] })),
    ];
    const outputs = new Map<string, Float32Array>();
    for (const r of runtimes) outputs.set(r.name, (await r.run()).slice()); // warm-up (packs weights, JITs kernels)
    for (let i = 0; i < reps; i++) {
      for (const r of runtimes) {
        const t0 = process.hrtime.bigint();
        await r.run();
        r.times.push(secondsSince(t0));
      }
    }
    const ref = outputs.get('bert-ts fp32')!;
    const maxDiff = (a: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0);
    const flops = forwardFlops(B, T);
    const bertFp32 = median(runtimes[0]!.times);
    const row = {
      shape,
      tokens: B * T,
      runtimes: runtimes.map((r) => ({
        runtime: r.name,
        medianS: median(r.times),
        tokensPerS: (B * T) / median(r.times),
        gflopsFp32Equivalent: flops / median(r.times) / 1e9,
        speedupVsBertFp32: bertFp32 / median(r.times),
        maxAbsDiffVsBertFp32: maxDiff(outputs.get(r.name)!),
        peakRssMiB: values['no-rss'] ? null : childRss(SCRIPT, 'bench/forward-dtype', r.rssKind, shape, r.onnx),
        samples: r.times,
      })),
    };
    rows.push(row);
    process.stderr.write(
      `${shape}: ${row.runtimes.map((r) => `${r.runtime} ${r.tokensPerS.toFixed(0)}`).join(', ')} tok/s\n`,
    );
  }
  const info = loadNativeAddon()?.info();
  console.log(JSON.stringify({ bench: 'forward-dtype', threads, reps, isa: info?.isa, loadavg: loadavg(), rows }));
  console.log(
    `\nCPU ISA (oneDNN): ${info?.isa}; ${threads} threads; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `${'shape'.padEnd(7)} ${'runtime'.padEnd(20)} ${'median s'.padStart(9)} ${'tok/s'.padStart(8)} ${'x bert fp32'.padStart(11)} ${'max |d| fp32'.padStart(12)} ${'peak RSS'.padStart(9)}`,
  );
  for (const row of rows) {
    for (const r of row.runtimes) {
      console.log(
        `${row.shape.padEnd(7)} ${r.runtime.padEnd(20)} ${r.medianS.toFixed(4).padStart(9)} ${r.tokensPerS.toFixed(0).padStart(8)} ${r.speedupVsBertFp32.toFixed(2).padStart(11)} ${r.maxAbsDiffVsBertFp32.toExponential(1).padStart(12)} ${(r.peakRssMiB === null ? '-' : r.peakRssMiB.toFixed(0) + ' MiB').padStart(9)}`,
      );
    }
  }
}

/** IMDb test reviews spread over the file (it is sorted by label), `<br />` as newlines. */
function imdbTexts(n: number): string[] {
  const lines = gunzipSync(readFileSync(new URL('../../shared/data/imdb/test.jsonl.gz', import.meta.url)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  const step = Math.max(1, Math.floor(lines.length / n));
  const out: string[] = [];
  for (let i = 0; i < n && i * step < lines.length; i++)
    out.push((JSON.parse(lines[i * step]!) as { text: string }).text.replaceAll('<br />', '\n'));
  return out;
}

interface Agreement {
  positions: number;
  top1Agreement: number;
  maxAbsLogitDiff: number;
}

function compare(ref: Float32Array[], other: Float32Array[], V: number): Agreement {
  let positions = 0,
    agree = 0,
    maxDiff = 0;
  const argmax = (a: Float32Array, o: number) => {
    let best = o;
    for (let j = o + 1; j < o + V; j++) if (a[j]! > a[best]!) best = j;
    return best - o;
  };
  for (let t = 0; t < ref.length; t++) {
    const a = ref[t]!,
      b = other[t]!;
    for (let o = 0; o < a.length; o += V) {
      positions++;
      if (argmax(a, o) === argmax(b, o)) agree++;
      for (let j = o; j < o + V; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
    }
  }
  return { positions, top1Agreement: agree / positions, maxAbsLogitDiff: maxDiff };
}

/** Masked-LM logits of q8 / bf16 (and ORT's quantized export) vs fp32 at the [MASK]ed positions of IMDb reviews. */
async function accuracy(dir: string, modelDir: string): Promise<void> {
  const tok = BertTokenizer.fromPretrained(modelDir);
  const maskId = tok.tokenToId('[MASK]')!;
  const texts = imdbTexts(Number(values.texts));
  const batches = texts.map((text) => {
    const e = tok.encode(text, null, { maxLength: 128, truncation: true });
    const ids = Int32Array.from(e.inputIds);
    const masked: number[] = [];
    for (let i = 1; i < ids.length - 1; i += 7) {
      ids[i] = maskId;
      masked.push(i);
    }
    return { ids, masked };
  });
  const logitsAt = (all: Float32Array, masked: number[], V: number) => {
    const out = new Float32Array(masked.length * V);
    masked.forEach((p, j) => out.set(all.subarray(p * V, (p + 1) * V), j * V));
    return out;
  };
  const results: Record<string, Agreement> = {};
  let reference: Float32Array[] = [];
  let V = 0;
  let fp32Model: BertForMaskedLM | null = null;
  for (const dtype of bertDtypes()) {
    const model = await BertForMaskedLM.fromPretrained(modelDir, { dtype, kernels: getKernels(), warn: () => {} });
    V = model.config.vocabSize;
    const outs = batches.map(({ ids, masked }) => {
      const logits = model.forward({ inputIds: { data: ids, shape: [1, ids.length] } }, { grad: false }).logits.data;
      return logitsAt(logits, masked, V);
    });
    if (dtype === 'fp32') {
      reference = outs;
      fp32Model = model;
    } else results[`bert-ts ${dtype}`] = compare(reference, outs, V);
  }
  // ORT: its fp32 run of our export (the export's own error) and its dynamically quantized export
  const onnx = join(dir, 'mlm.onnx'),
    onnxQ8 = join(dir, 'mlm_quantized.onnx');
  const head: OnnxHead = 'masked-lm';
  writeFileSync(onnx, exportBertOnnx(fp32Model!.config.toJson(), fp32Model!.parameters(), { head }));
  const whyNot = quantizeOnnx(values.python!, onnx, onnxQ8);
  for (const [label, path] of whyNot
    ? [['ORT fp32', onnx]]
    : [
        ['ORT fp32', onnx],
        ['ORT q8', onnxQ8],
      ]) {
    const session = await ortSession(path!, false);
    const outs: Float32Array[] = [];
    for (const { ids, masked } of batches) {
      const T = ids.length;
      const feeds = {
        input_ids: int64Tensor(ids, [1, T]),
        attention_mask: int64Tensor(new Int32Array(T).fill(1), [1, T]),
        token_type_ids: int64Tensor(new Int32Array(T), [1, T]),
      };
      outs.push(logitsAt((await session.run(feeds)).logits!.data as Float32Array, masked, V));
    }
    results[label!] = compare(reference, outs, V);
  }
  if (whyNot) process.stderr.write(`bench/forward-dtype: no ORT q8 accuracy: ${whyNot}\n`);
  console.log(JSON.stringify({ bench: 'forward-dtype-accuracy', model: modelDir, texts: texts.length, results }));
  console.log(
    `\nmasked-LM logits vs bert-ts fp32, ${texts.length} IMDb test reviews (<= 128 tokens), model ${modelDir}`,
  );
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(14)} top-1 agreement ${(100 * r.top1Agreement).toFixed(2)}% of ${r.positions} positions; max |logit diff| ${r.maxAbsLogitDiff.toFixed(4)}`,
    );
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bert-bench-dtype-'));
  try {
    if (values.shapes) await speed(dir);
    if (values.accuracy) await accuracy(dir, values.accuracy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await child();
else await main();
