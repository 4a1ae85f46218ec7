// `bert train-vocab`: learns a WordPiece vocabulary from raw text (HF WordPieceTrainer's algorithm), writes a tokenizer folder.
import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { bertWordSplitter } from '../../tokenizer/trainer-words.js';
import { trainWordPiece, WordCounter, BERT_SPECIAL_TOKENS } from '../../tokenizer/trainer.js';
import { saveBertTokenizerFiles } from '../../tokenizer/trainer-files.js';
import {
  saveSubwordTokenizerFiles,
  subwordWordSplitter,
  trainSubwordTokenizer,
} from '../../tokenizer/trainer-subword.js';
import { readCorpusTexts, type CorpusFormat } from '../../data/pretraining-input.js';

export const usage = `Usage: bert train-vocab --input FILE[,FILE...] --output DIR [options]

Learns a WordPiece vocabulary as HF tokenizers' BertWordPieceTokenizer.train does (BertNormalizer +
BertPreTokenizer word counts, special tokens first, alphabet limit, "##" continuations, merges by pair
frequency) and writes DIR/vocab.txt, DIR/tokenizer.json and DIR/tokenizer_config.json.

  --model KIND           wordpiece (default), bpe (byte-level, RoBERTa's components) or unigram (SentencePiece
                         style, XLM-R's components); bpe and unigram write tokenizer.json + tokenizer_config.json
  --input FILES          .jsonl/.jsonl.gz (one JSON object a line, text in --text-field) or plain text (every
                         non-blank line is counted); repeat --input or separate with commas
  --vocab-size N         target size, special tokens included (default 30522)
  --min-frequency N      a merge needs a pair seen at least N times (default 2)
  --limit-alphabet N     keep the N most frequent characters (default 1000)
  --lowercase            lowercase and strip accents (BERT uncased); default keeps case
  --special-tokens LIST  comma-separated (default [PAD],[UNK],[CLS],[SEP],[MASK]; bpe/unigram: <s>,<pad>,</s>,<unk>...)
  --text-field NAME      JSONL field with the text (default text)
  --format jsonl|text    input format for every file (default from the file name)
  --output DIR           tokenizer folder to write
Progress goes to stderr as JSON lines; a summary JSON line goes to stdout.`;

const OPTIONS = {
  input: { type: 'string', multiple: true },
  model: { type: 'string' },
  output: { type: 'string' },
  'vocab-size': { type: 'string' },
  'min-frequency': { type: 'string' },
  'limit-alphabet': { type: 'string' },
  lowercase: { type: 'boolean' },
  'special-tokens': { type: 'string' },
  'text-field': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function intOption(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Runs the command; returns the process exit code (2 for usage errors, 1 for bad input). */
export async function trainVocabCommand(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    process.stderr.write(`bert train-vocab: ${(err as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (err) {
    process.stderr.write(`bert train-vocab: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const inputs = (values.input ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  if (inputs.length === 0 || !values.output) {
    process.stderr.write(`bert train-vocab: --input and --output are required\n${usage}\n`);
    return 2;
  }
  let vocabSize: number, minFrequency: number, limitAlphabet: number;
  try {
    vocabSize = intOption(values['vocab-size'], 'vocab-size', 30522, 1);
    minFrequency = intOption(values['min-frequency'], 'min-frequency', 2, 0);
    limitAlphabet = intOption(values['limit-alphabet'], 'limit-alphabet', 1000, 0);
  } catch (err) {
    process.stderr.write(`bert train-vocab: ${(err as Error).message}\n`);
    return 2;
  }
  const format = values.format;
  if (format !== undefined && format !== 'jsonl' && format !== 'text') {
    process.stderr.write(`bert train-vocab: --format must be jsonl or text, got ${format}\n`);
    return 2;
  }
  const model = values.model ?? 'wordpiece';
  if (model !== 'wordpiece' && model !== 'bpe' && model !== 'unigram') {
    process.stderr.write(`bert train-vocab: --model must be wordpiece, bpe or unigram, got ${model}\n`);
    return 2;
  }
  const specialTokens = values['special-tokens'] ? values['special-tokens'].split(',') : [...BERT_SPECIAL_TOKENS];
  const lowercase = values.lowercase ?? false;
  const log = (obj: Record<string, unknown>): void => {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...obj }) + '\n');
  };

  const t0 = Date.now();
  let totalBytes = 0;
  for (const f of inputs) {
    try {
      totalBytes += statSync(f).size;
    } catch {
      process.stderr.write(`bert train-vocab: ${f}: file not found\n`);
      return 1;
    }
  }
  const split = model === 'wordpiece' ? bertWordSplitter({ lowercase }) : subwordWordSplitter(model);
  const counter = new WordCounter();
  let texts = 0;
  let lastLog = Date.now();
  for await (const text of readCorpusTexts(inputs, {
    format: format as CorpusFormat | undefined,
    textField: values['text-field'],
  })) {
    counter.add(split(text));
    texts++;
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log({
        event: 'count',
        texts,
        words: counter.total,
        distinctWords: counter.counts.size,
        seconds: (Date.now() - t0) / 1000,
      });
    }
  }
  if (counter.total === 0) {
    process.stderr.write(`bert train-vocab: no words in ${inputs.join(', ')} (empty corpus?)\n`);
    return 1;
  }
  log({
    event: 'counted',
    texts,
    words: counter.total,
    distinctWords: counter.counts.size,
    inputBytes: totalBytes,
    seconds: (Date.now() - t0) / 1000,
  });
  let lastPhase = '';
  if (model !== 'wordpiece') {
    const doc = trainSubwordTokenizer(model, counter.counts, {
      vocabSize,
      minFrequency,
      specialTokens: values['special-tokens'] ? specialTokens : undefined,
    });
    const files = saveSubwordTokenizerFiles(values.output, doc);
    const summary = {
      output: values.output,
      model,
      texts,
      words: counter.total,
      seconds: (Date.now() - t0) / 1000,
      files,
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  }
  const trained = trainWordPiece(counter.counts, {
    vocabSize,
    minFrequency,
    limitAlphabet,
    specialTokens,
    onProgress: (p) => {
      if (p.phase !== lastPhase || Date.now() - lastLog > 5000) {
        lastPhase = p.phase;
        lastLog = Date.now();
        log({ event: 'train', phase: p.phase, done: p.done, total: p.total, seconds: (Date.now() - t0) / 1000 });
      }
    },
  });
  const files = saveBertTokenizerFiles(values.output, trained.vocab, { lowercase });
  const summary = {
    output: values.output,
    vocabSize: trained.vocab.length,
    requestedVocabSize: vocabSize,
    merges: trained.merges.length,
    texts,
    words: counter.total,
    distinctWords: trained.wordTypes,
    lowercase,
    seconds: (Date.now() - t0) / 1000,
    files,
  };
  if (trained.vocab.length < vocabSize) {
    log({
      event: 'note',
      message: `stopped at ${trained.vocab.length} tokens: no pair occurs ${minFrequency} times or more (lower --min-frequency or add text)`,
    });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  return 0;
}

export default trainVocabCommand;
