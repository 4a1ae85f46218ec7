// The WordNet retrieval run: (gloss -> headword) pairs from WordNet's noun synsets, held-out synsets as the test
// queries, bert-ts trains a sentence-embedding model with MNRL and reports nDCG@10 before and after. The same split
// and recipe run in sentence-transformers with scripts/wordnet-retrieval.py (results in docs/results.md).
//   apt-get install -y wordnet-base      (or point --wordnet at another folder holding data.noun)
//   node --import tsx scripts/wordnet-retrieval.ts build --data /tmp/wordnet-split [--train 20000]
//   node --import tsx scripts/wordnet-retrieval.ts train --data /tmp/wordnet-split --model DIR --output DIR
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProgressReporter, SentenceTransformer, evaluateRetrieval, trainEmbeddings } from '../src/index.js';
import { retrievalFromPairs } from '../src/train/train-embeddings.js';
import { readEmbeddingPairs } from '../src/data/pairs.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    wordnet: { type: 'string', default: '/usr/share/wordnet' },
    train: { type: 'string', default: '20000' },
    test: { type: 'string', default: '1000' },
    distractors: { type: 'string', default: '4000' },
    model: { type: 'string' },
    output: { type: 'string' },
    epochs: { type: 'string', default: '1' },
    'batch-size': { type: 'string', default: '32' },
    lr: { type: 'string', default: '1e-4' },
    'warmup-ratio': { type: 'string', default: '0.1' },
    'max-length': { type: 'string', default: '32' },
    seed: { type: 'string', default: '42' },
  },
});
const data = values.data;
if (!data) throw new Error('give --data DIR');

/** FNV-1a of a string: the split's order, the same in every language that reads the files this script writes. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

interface Synset {
  offset: string;
  headword: string;
  gloss: string;
}

/** Noun synsets of data.noun: the first lemma (underscores as spaces) and the definition (examples dropped). */
function readSynsets(dir: string): Synset[] {
  const out: Synset[] = [];
  for (const line of readFileSync(join(dir, 'data.noun'), 'latin1').split('\n')) {
    if (line === '' || line.startsWith('  ')) continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const headword = fields[4]!.replace(/\(.*\)$/, '').replace(/_/g, ' ');
    const gloss = line
      .slice(bar + 3)
      .split(/;\s*"/)[0]!
      .trim();
    if (gloss.split(' ').length < 3) continue;
    out.push({ offset: fields[0]!, headword, gloss });
  }
  return out;
}

function build(): void {
  const synsets = readSynsets(values.wordnet!).sort(
    (a, b) => fnv1a(a.offset) - fnv1a(b.offset) || (a.offset < b.offset ? -1 : 1),
  );
  const nTest = Number(values.test),
    nDis = Number(values.distractors),
    nTrain = Number(values.train);
  const test = synsets.slice(0, nTest);
  const distractors = synsets.slice(nTest, nTest + nDis);
  const train = synsets.slice(nTest + nDis, nTest + nDis + nTrain);
  mkdirSync(data!, { recursive: true });
  const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  writeFileSync(join(data!, 'train.jsonl'), lines(train.map((s) => ({ anchor: s.gloss, positive: s.headword }))));
  // The held-out glosses as queries; the corpus is their headwords and those of the distractor synsets (given as
  // negative columns, which retrievalFromPairs adds to the corpus).
  const per = Math.floor(nDis / nTest);
  const evalRows = test.map((s, i) => {
    const row: Record<string, string> = { anchor: s.gloss, positive: s.headword };
    for (let k = 0; k < per; k++) row[`negative_${k + 1}`] = distractors[i * per + k]!.headword;
    return row;
  });
  writeFileSync(join(data!, 'eval.jsonl'), lines(evalRows));
  console.log(
    JSON.stringify({ synsets: synsets.length, train: train.length, test: test.length, distractors: nTest * per }),
  );
}

async function train(): Promise<void> {
  const model = values.model,
    output = values.output;
  if (!model || !output) throw new Error('train needs --model and --output');
  const maxLength = Number(values['max-length']);
  const ir = retrievalFromPairs(await readEmbeddingPairs(join(data!, 'eval.jsonl')));
  writeFileSync(join(data!, 'ir.json'), JSON.stringify(ir));
  const evaluate = async (dir: string) => {
    const st = await SentenceTransformer.fromPretrained(dir, { warn: () => {} });
    st.maxSeqLength = maxLength;
    const t0 = performance.now();
    const m = evaluateRetrieval(st, ir, { batchSize: 64 });
    return {
      ndcg10: m['cosine_ndcg@10']!,
      mrr10: m['cosine_mrr@10']!,
      recall10: m['cosine_recall@10']!,
      seconds: (performance.now() - t0) / 1000,
    };
  };
  const before = await evaluate(model);
  const progress = new ProgressReporter({ logFile: join(output, 'train_log.jsonl') });
  const r = await trainEmbeddings({
    model,
    train: join(data!, 'train.jsonl'),
    output,
    loss: 'mnrl',
    scale: 20,
    epochs: Number(values.epochs),
    batchSize: Number(values['batch-size']),
    lr: Number(values.lr),
    warmupRatio: Number(values['warmup-ratio']),
    maxLength,
    seed: Number(values.seed),
    progress,
  });
  if (r.interrupted) throw new Error('interrupted');
  const after = await evaluate(output);
  const result = {
    library: 'bert-ts',
    model,
    queries: Object.keys(ir.queries).length,
    corpus: Object.keys(ir.corpus).length,
    train_pairs: r.summary.train_examples,
    steps: r.summary.steps,
    train_seconds: r.summary.train_seconds,
    pairs_per_second: r.summary.train_examples_per_second,
    before,
    after,
  };
  writeFileSync(join(output, 'wordnet_result.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result));
}

if (positionals[0] === 'build') build();
else if (positionals[0] === 'train') await train();
else throw new Error('usage: wordnet-retrieval.ts build|train --data DIR ...');
