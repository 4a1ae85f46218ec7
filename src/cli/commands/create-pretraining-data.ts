// `bert create-pretraining-data`: corpus -> NSP pairs with MLM masks (create_pretraining_data.py's recipe) -> binary shards.
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BertTokenizer } from '../../tokenizer/tokenizer.js';
import { createPretrainingData } from '../../data/pretraining-dataset.js';
import type { CorpusFormat } from '../../data/pretraining-input.js';
import { UsageError, integerAtLeast as int, numberFlag as num, parseFlags, runCommand } from '../command.js';

export const usage = `Usage: bert create-pretraining-data --input FILE[,FILE...] --vocab DIR --output DIR [options]

Makes BERT pre-training instances as google-research/bert create_pretraining_data.py does: documents split into
sentences, segments A and B filled up to the target length, B the actual next text or (50%) text of another
document, pairs truncated from a random end, 15% of tokens chosen for prediction (80% [MASK], 10% random, 10%
kept). Writes DIR/shard-NNNNN.bin and DIR/dataset.json (format: docs/pretraining-data.md).

  --input FILES              .jsonl/.jsonl.gz (a document per line, text in --text-field, split into sentences)
                             or plain text (a sentence per line, a blank line between documents); repeat or commas
  --vocab DIR                tokenizer folder (vocab.txt / tokenizer.json, e.g. from bert train-vocab)
  --max-seq-length N         (128)       --max-predictions N     max_predictions_per_seq (20)
  --masked-lm-prob X         (0.15)      --short-seq-prob X      (0.1)
  --dupe-factor N            passes over the corpus with different pairs and masks (10)
  --whole-word-mask          mask all pieces of a word together
  --dynamic-masking          store unmasked instances; bert pretrain masks them anew every epoch
  --seed N                   (12345)     --documents-per-shard N  documents held in memory at once (10000)
  --text-field NAME          (text)      --format jsonl|text     (from the file name)
  --output DIR
Progress goes to stderr as JSON lines; the dataset summary goes to stdout.`;

const OPTIONS = {
  input: { type: 'string', multiple: true },
  vocab: { type: 'string' },
  output: { type: 'string' },
  'max-seq-length': { type: 'string' },
  'max-predictions': { type: 'string' },
  'masked-lm-prob': { type: 'string' },
  'short-seq-prob': { type: 'string' },
  'dupe-factor': { type: 'string' },
  'whole-word-mask': { type: 'boolean' },
  'dynamic-masking': { type: 'boolean' },
  seed: { type: 'string' },
  'documents-per-shard': { type: 'string' },
  'text-field': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs the command; returns the process exit code (2 for usage errors, 1 for bad input). */
export function createPretrainingDataCommand(argv: string[]): Promise<number> {
  return runCommand('create-pretraining-data', usage, argv, () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const values = parseFlags(argv, OPTIONS, usage);
  if (!values) return 0;
  const inputs = (values.input ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  if (inputs.length === 0 || !values.vocab || !values.output)
    throw new UsageError('--input, --vocab and --output are required');
  if (values.format !== undefined && values.format !== 'jsonl' && values.format !== 'text') {
    throw new UsageError(`--format must be jsonl or text, got ${values.format}`);
  }
  const maxSeqLength = num(
    values['max-seq-length'],
    'max-seq-length',
    128,
    (n) => int(5)(n) && n <= 65535,
    'an integer in [5, 65535]',
  );
  const maxPredictions = num(
    values['max-predictions'],
    'max-predictions',
    20,
    (n) => int(1)(n) && n <= 65535,
    'an integer >= 1',
  );
  const maskedLmProb = num(values['masked-lm-prob'], 'masked-lm-prob', 0.15, (n) => n > 0 && n <= 1, 'in (0, 1]');
  const shortSeqProb = num(values['short-seq-prob'], 'short-seq-prob', 0.1, (n) => n >= 0 && n <= 1, 'in [0, 1]');
  const dupeFactor = num(values['dupe-factor'], 'dupe-factor', 10, int(1), 'an integer >= 1');
  const seed = num(values.seed, 'seed', 12345, int(0), 'a non-negative integer');
  const documentsPerShard = num(values['documents-per-shard'], 'documents-per-shard', 10000, int(4), 'an integer >= 4');
  for (const f of inputs) {
    if (!existsSync(f)) throw new Error(`${f}: input file not found`);
  }

  // --vocab may name the folder or its vocab.txt / tokenizer.json.
  const vocabDir = existsSync(values.vocab) && statSync(values.vocab).isFile() ? dirname(values.vocab) : values.vocab;
  const tokenizer = BertTokenizer.fromPretrained(vocabDir);
  const vocabTokens: string[] = [];
  for (const [t, id] of tokenizer.vocab) vocabTokens[id] = t;
  for (let i = 0; i < vocabTokens.length; i++) vocabTokens[i] ??= '';

  const t0 = Date.now();
  let last = 0;
  const manifest = await createPretrainingData({
    inputs,
    outputDir: values.output,
    vocabSource: vocabDir,
    vocabTokens,
    tokenizer: {
      tokenize: (text) => tokenizer.tokenize(text),
      convertTokensToIds: (tokens) => tokenizer.convertTokensToIds(tokens) as number[],
    },
    maxSeqLength,
    maxPredictionsPerSeq: maxPredictions,
    maskedLmProb,
    shortSeqProb,
    dupeFactor,
    wholeWordMask: values['whole-word-mask'] ?? false,
    dynamicMasking: values['dynamic-masking'] ?? false,
    seed,
    documentsPerShard,
    textField: values['text-field'],
    format: values.format as CorpusFormat | undefined,
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 2000) return;
      last = now;
      const s = (now - t0) / 1000;
      process.stderr.write(
        JSON.stringify({ event: 'shard', ...p, seconds: s, documentsPerSecond: p.documents / s }) + '\n',
      );
    },
  });
  const { shards, ...summary } = manifest;
  process.stdout.write(
    JSON.stringify({
      output: values.output,
      ...summary,
      shards: shards.length,
      randomNextFraction: manifest.randomNext / manifest.instances,
      predictionsPerInstance: manifest.predictions / manifest.instances,
      seconds: (Date.now() - t0) / 1000,
    }) + '\n',
  );
  return 0;
}

export default createPretrainingDataCommand;
