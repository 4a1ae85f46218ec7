// Sentence-embedding benchmark: bert-ts SentenceTransformer.encode vs transformers.js (@huggingface/transformers,
// onnxruntime-node underneath) feature-extraction with mean pooling + normalize, on the same model (a
// sentence-transformers folder made from --model: Transformer -> mean Pooling -> Normalize; the ONNX export of the
// same weights by src/export for transformers.js) and the same IMDb texts. Reps alternate the runtimes in one
// process; peak RSS is measured in one child process per runtime; the embeddings must agree (cosine >= 0.99999).
// Usage: node --import tsx bench/embed-peer.ts [--model DIR] [--texts 256] [--batch-size 32] [--max-length 256]
//        [--reps 5] [--no-rss]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportOnnxFolder } from '../src/export/folder.js';
import { SentenceTransformer } from '../src/model/sentence/index.js';
import { getKernels } from '../src/native/index.js';
import { maxRssMiB, median } from './bert-base.js';
import { jsonlTexts, secondsSince, threads } from './forward-peer.js';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    dir: { type: 'string' },
    model: { type: 'string', default: '../shared/models/bert-mini-imdb-hf' },
    texts: { type: 'string', default: '256' },
    'batch-size': { type: 'string', default: '32' },
    'max-length': { type: 'string', default: '256' },
    reps: { type: 'string', default: '5' },
    'no-rss': { type: 'boolean', default: false },
  },
});
const SCRIPT = fileURLToPath(import.meta.url);
const batchSize = Number(values['batch-size']);
const maxLength = Number(values['max-length']);

/**
 * `dir/st`: the model as a sentence-transformers folder (legacy layout: mean pooling, Normalize, max_seq_length),
 * `dir/onnx-model`: its ONNX export in transformers.js's layout with the same max length in tokenizer_config.json.
 */
function prepare(model: string, dir: string): { st: string; onnx: string } {
  const st = join(dir, 'st');
  mkdirSync(join(st, '1_Pooling'), { recursive: true });
  mkdirSync(join(st, '2_Normalize'), { recursive: true });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt'])
    copyFileSync(join(model, f), join(st, f));
  const tokenizerConfig = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8')) as object;
  writeFileSync(join(st, 'tokenizer_config.json'), JSON.stringify({ ...tokenizerConfig, model_max_length: maxLength }));
  const hidden = (JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
  const type = (m: string): string => `sentence_transformers.models.${m}`;
  writeFileSync(
    join(st, 'modules.json'),
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: type('Transformer') },
      { idx: 1, name: '1', path: '1_Pooling', type: type('Pooling') },
      { idx: 2, name: '2', path: '2_Normalize', type: type('Normalize') },
    ]),
  );
  writeFileSync(
    join(st, '1_Pooling', 'config.json'),
    JSON.stringify({ word_embedding_dimension: hidden, pooling_mode_mean_tokens: true }),
  );
  writeFileSync(join(st, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: maxLength }));
  const onnx = join(dir, 'onnx-model');
  exportOnnxFolder(st, onnx, { task: 'feature-extraction' });
  return { st, onnx };
}

type Embed = (texts: string[]) => Promise<Float32Array[]>;

async function bertEmbed(st: string): Promise<Embed> {
  const model = await SentenceTransformer.fromPretrained(st, { kernels: getKernels() });
  return async (texts) => model.encode(texts, { batchSize });
}

/** transformers.js's feature-extraction pipeline, called per batch of texts (in the given order, or length-sorted). */
async function transformersJsEmbed(onnx: string, sorted: boolean): Promise<Embed> {
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const extract = await pipeline('feature-extraction', onnx, { dtype: 'fp32', device: 'cpu' });
  return async (texts) => {
    const order = texts.map((_, i) => i);
    if (sorted) order.sort((a, b) => texts[b]!.length - texts[a]!.length || a - b);
    const out = new Array<Float32Array>(texts.length);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      const t = await extract(
        idx.map((i) => texts[i]!),
        { pooling: 'mean', normalize: true },
      );
      const data = t.data as Float32Array;
      const dim = data.length / idx.length;
      idx.forEach((i, r) => (out[i] = data.slice(r * dim, (r + 1) * dim)));
    }
    return out;
  };
}

function runner(kind: string, paths: { st: string; onnx: string }): Promise<Embed> {
  return kind === 'bert' ? bertEmbed(paths.st) : transformersJsEmbed(paths.onnx, kind === 'tjs-sorted');
}

/** Peak RSS (MiB) of a child that loads one runtime and embeds the texts twice. */
function childRss(kind: string, dir: string): number {
  const args = ['--import', 'tsx', SCRIPT, '--child', kind, '--dir', dir];
  for (const k of ['texts', 'batch-size', 'max-length'] as const) args.push(`--${k}`, String(values[k]));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/embed-peer: RSS child ${kind} failed:\n${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { rssMiB: number }).rssMiB;
}

/** The smallest cosine between a[i] and b[i] over the indices `which`. */
function minCosine(a: Float32Array[], b: Float32Array[], which: number[]): number {
  let worst = 1;
  which.forEach((i) => {
    const x = a[i]!;
    const y = b[i]!;
    let dot = 0,
      nx = 0,
      ny = 0;
    for (let k = 0; k < x.length; k++) {
      dot += x[k]! * y[k]!;
      nx += x[k]! * x[k]!;
      ny += y[k]! * y[k]!;
    }
    worst = Math.min(worst, dot / Math.sqrt(nx * ny));
  });
  return worst;
}

async function main(): Promise<void> {
  const texts = jsonlTexts('assets/imdb-sample/test.jsonl.gz', Number(values.texts));
  if (values.child) {
    const embed = await runner(values.child, { st: join(values.dir!, 'st'), onnx: join(values.dir!, 'onnx-model') });
    await embed(texts);
    await embed(texts);
    console.log(JSON.stringify({ rssMiB: maxRssMiB() }));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bert-embed-bench-'));
  try {
    const paths = prepare(values.model!, dir);
    const kinds = ['bert', 'tjs', 'tjs-sorted'] as const;
    const names = {
      bert: `bert-ts encode (${getKernels().name})`,
      tjs: 'transformers.js',
      'tjs-sorted': 'transformers.js, length-sorted',
    };
    const embedders = await Promise.all(kinds.map((k) => runner(k, paths)));
    const first = await Promise.all(embedders.map((e) => e(texts))); // warm-up, and the outputs must agree
    // Texts longer than maxLength tokens are truncated; transformers.js cuts the final [SEP] off with them (HF and
    // sentence-transformers keep it, as bert-ts does), so they are compared apart.
    const { BertTokenizer } = await import('../src/tokenizer/index.js');
    const tokenizer = BertTokenizer.fromPretrained(paths.st);
    const fits = texts.map((t) => tokenizer.encode(t, null, {}).inputIds.length <= maxLength);
    const within = texts.map((_, i) => i).filter((i) => fits[i]);
    const truncated = texts.map((_, i) => i).filter((i) => !fits[i]);
    const cosine = {
      tjs: minCosine(first[0]!, first[1]!, within),
      'tjs-sorted': minCosine(first[0]!, first[2]!, within),
      truncatedTexts: minCosine(first[0]!, first[1]!, truncated),
    };
    const times: number[][] = kinds.map(() => []);
    for (let r = 0; r < Number(values.reps); r++) {
      for (let k = 0; k < kinds.length; k++) {
        const t0 = process.hrtime.bigint();
        await embedders[k]!(texts);
        times[k]!.push(secondsSince(t0));
      }
    }
    const rows = kinds.map((kind, k) => ({
      kind,
      runtime: names[kind],
      medianS: median(times[k]!),
      textsPerS: texts.length / median(times[k]!),
      peakRssMiB: values['no-rss'] ? 0 : childRss(kind, dir),
      samples: times[k]!,
    }));
    const bert = rows[0]!;
    const result = {
      bench: 'embed-peer',
      model: values.model,
      texts: texts.length,
      batchSize,
      maxLength,
      threads,
      reps: Number(values.reps),
      loadavg: loadavg(),
      dimension: first[0]![0]!.length,
      textsWithinMaxLength: within.length,
      minCosineVsTransformersJs: cosine,
      agree: Math.min(cosine.tjs, cosine['tjs-sorted']) >= 0.99999,
      rows,
      speedupVsTransformersJs: rows[1]!.medianS / bert.medianS,
      speedupVsTransformersJsSorted: rows[2]!.medianS / bert.medianS,
    };
    console.log(JSON.stringify(result));
    console.log(
      `\n${texts.length} IMDb texts, max ${maxLength} tokens, batches of ${batchSize}, ${result.dimension} dimensions`,
    );
    console.log(`${'runtime'.padEnd(34)} ${'median s'.padStart(9)} ${'texts/s'.padStart(8)} ${'peak RSS'.padStart(9)}`);
    for (const r of rows) {
      console.log(
        `${r.runtime.padEnd(34)} ${r.medianS.toFixed(3).padStart(9)} ${r.textsPerS.toFixed(1).padStart(8)} ${(r.peakRssMiB.toFixed(0) + ' MiB').padStart(9)}`,
      );
    }
    console.log(
      `bert-ts / transformers.js throughput ${result.speedupVsTransformersJs.toFixed(2)}x (length-sorted ${result.speedupVsTransformersJsSorted.toFixed(2)}x); ` +
        `min cosine ${cosine.tjs.toFixed(7)} / ${cosine['tjs-sorted'].toFixed(7)} over the ${within.length} texts within ` +
        `${maxLength} tokens (agree: ${result.agree}); ${cosine.truncatedTexts.toFixed(5)} over the ${truncated.length} truncated ones`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
