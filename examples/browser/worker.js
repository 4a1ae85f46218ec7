// The page's work, off the main thread (training blocks the thread it runs on): the bert-ts browser bundle with the
// WebAssembly kernels, the default model and IMDb sample fetched into its in-memory file system, finetune() with a
// progress reporter that posts every step, then the fine-tuned folder for classification and attention maps.
import * as bert from '../../dist/browser/bert-ts.js';

const MODEL = '/models/default';
const OUTPUT = '/out/model';
let classifier = null;
let maps = null;
let userExt = 'csv';

const post = (type, data = {}) => postMessage({ type, ...data });

/** Posts each step (with the loss curve drawn by the library's trainingCurveSvg) and each evaluation. */
class PostingReporter extends bert.ProgressReporter {
  constructor() {
    super({ stream: { write: () => true, isTTY: false }, tty: false, intervalMs: 0 });
  }
  step(r) {
    super.step(r);
    post('step', { record: r, svg: bert.trainingCurveSvg(this.steps, this.evals, 'fine-tuning loss') });
  }
  evaluation(e) {
    super.evaluation(e);
    post('eval', { record: e });
  }
}

async function init({ wasm, threads }) {
  let backend = 'js (TypeScript kernels)';
  if (wasm !== false) {
    try {
      // Cross-origin isolated (bert demo --browser sends COOP/COEP): the threaded module on min(cores, 4) threads.
      backend = (await bert.useWasmBackend(undefined, { threads })).name;
    } catch (err) {
      post('warning', { message: `WebAssembly kernels unavailable, using the TypeScript kernels: ${err.message}` });
    }
  }
  await bert.fetchModelFolder('../../assets/default-model/', MODEL);
  await bert.fetchDataFile('../../assets/imdb-sample/train.jsonl.gz', '/data/imdb-train.jsonl');
  await bert.fetchDataFile('../../assets/imdb-sample/test.jsonl.gz', '/data/imdb-test.jsonl');
  post('ready', { backend, files: bert.listFiles('/') });
}

/** A user's CSV (or TSV), its rows split 80/20 (seeded) into train and eval files with the same header. */
async function mountCsv({ name, bytes }) {
  const ext = name.toLowerCase().endsWith('.tsv') ? 'tsv' : 'csv';
  const delimiter = ext === 'tsv' ? '\t' : ',';
  const records = bert.parseCsv(new TextDecoder().decode(bytes), name, delimiter);
  if (records.length < 3) throw new Error(`${name}: a header row and at least two data rows are needed`);
  const [header, ...rows] = records;
  const order = rows.map((_, i) => i);
  let seed = 42;
  for (let i = order.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.max(1, Math.floor(order.length * 0.8));
  const line = (r) => r.fields.map((f) => `"${f.replace(/"/g, '""')}"`).join(delimiter);
  const file = (idx) => [line(header), ...idx.map((i) => line(rows[i]))].join('\n') + '\n';
  bert.mountFile(`/data/user-train.${ext}`, file(order.slice(0, cut)));
  bert.mountFile(`/data/user-eval.${ext}`, file(order.slice(cut)));
  userExt = ext;
  post('csv', { rows: rows.length, train: cut, eval: order.length - cut });
}

async function train(o) {
  classifier = null;
  const imdb = o.source === 'imdb';
  const run = await bert.finetune({
    model: MODEL,
    train: imdb ? '/data/imdb-train.jsonl' : `/data/user-train.${userExt}`,
    eval: imdb ? '/data/imdb-test.jsonl' : `/data/user-eval.${userExt}`,
    output: OUTPUT,
    label2id: imdb ? { NEGATIVE: 0, POSITIVE: 1 } : undefined,
    trainSamples: o.trainSamples,
    evalSamples: o.evalSamples,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    optimizer: 'adamw',
    weightDecay: 0.01,
    schedule: 'linear',
    warmupRatio: 0.1,
    maxLength: o.maxLength,
    seed: 42,
    progress: new PostingReporter(),
  });
  if (run.interrupted) throw new Error(`fine-tuning stopped after step ${run.steps}`);
  post('trained', { summary: run.summary });
}

function attentionSvg({ layer, head }) {
  if (!maps) return;
  const a = maps.attentions[layer];
  const [, heads, T] = a.shape;
  let weights = a.data;
  let offset = head * T * T;
  let title = `layer ${layer + 1}, head ${head + 1}`;
  if (head < 0) {
    // The mean over heads.
    weights = new Float32Array(T * T);
    for (let h = 0; h < heads; h++) for (let k = 0; k < T * T; k++) weights[k] += a.data[h * T * T + k] / heads;
    offset = 0;
    title = `layer ${layer + 1}, mean of ${heads} heads`;
  }
  post('attention', { svg: bert.heatmapSvg(maps.tokens, weights, offset, title, Math.max(14, Math.min(28, 560 / T))) });
}

async function classify({ text, layer, head }) {
  const dir = bert.listFiles(OUTPUT).length > 0 ? OUTPUT : MODEL;
  classifier ??= await bert.pipeline('sentiment-analysis', dir);
  const result = await classifier(text);
  maps = await bert.attentionMaps(dir, text, null, { maxLength: 64 });
  post('prediction', { result, model: dir, layers: maps.attentions.length, heads: maps.attentions[0].shape[1] });
  attentionSvg({ layer: Math.min(layer, maps.attentions.length - 1), head });
}

const handlers = { init, csv: mountCsv, train, classify, attention: attentionSvg };
onmessage = async ({ data }) => {
  try {
    await handlers[data.type](data);
  } catch (err) {
    post('error', { message: `${data.type}: ${err?.message ?? err}`, stack: String(err?.stack ?? '') });
  }
};
