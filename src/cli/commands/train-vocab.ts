// `bert train-vocab`: parses the flags, calls the library's trainVocab() and prints its summary line.
import type { CorpusFormat } from '../../data/pretraining-input.js';
import { trainVocab, type TrainVocabOptions } from '../../train/train-vocab.js';
import { UsageError, numberFlag, integerAtLeast, parseFlags, runCommand } from '../command.js';

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

/** Runs the command; returns the process exit code (2 for usage errors, 1 for bad input). */
export function trainVocabCommand(argv: string[]): Promise<number> {
  return runCommand('train-vocab', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    const inputs = (v.input ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
    if (inputs.length === 0 || !v.output) throw new UsageError('--input and --output are required');
    const summary = await trainVocab({
      inputs,
      output: v.output,
      model: v.model as TrainVocabOptions['model'],
      vocabSize: numberFlag(v['vocab-size'], 'vocab-size', undefined, integerAtLeast(1), 'an integer >= 1'),
      minFrequency: numberFlag(v['min-frequency'], 'min-frequency', undefined, integerAtLeast(0), 'an integer >= 0'),
      limitAlphabet: numberFlag(v['limit-alphabet'], 'limit-alphabet', undefined, integerAtLeast(0), 'an integer >= 0'),
      lowercase: v.lowercase,
      specialTokens: v['special-tokens']?.split(','),
      textField: v['text-field'],
      format: v.format as CorpusFormat | undefined,
      onEvent: (event) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n'),
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
  });
}

export default trainVocabCommand;
