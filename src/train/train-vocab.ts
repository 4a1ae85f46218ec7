// trainVocab(options): a WordPiece, byte-level BPE or Unigram vocabulary learnt from raw text, written as a tokenizer folder.
import { statSync } from 'node:fs';
import { InputError } from '../model/errors.js';
import { bertWordSplitter } from '../tokenizer/trainer-words.js';
import { trainWordPiece, WordCounter, BERT_SPECIAL_TOKENS } from '../tokenizer/trainer.js';
import { saveBertTokenizerFiles } from '../tokenizer/trainer-files.js';
import { saveSubwordTokenizerFiles, subwordWordSplitter, trainSubwordTokenizer } from '../tokenizer/trainer-subword.js';
import { readCorpusTexts, type CorpusFormat } from '../data/pretraining-input.js';

export interface TrainVocabOptions {
  /** Text files: .jsonl(.gz) (text in `textField`) or plain text (every non-blank line). */
  inputs: string[];
  /** Tokenizer folder to write (vocab.txt, tokenizer.json, tokenizer_config.json). */
  output: string;
  /**
   * 'wordpiece' (default, BERT), 'bpe' (byte-level, RoBERTa's components) or 'unigram' (SentencePiece, XLM-R's);
   * bpe and unigram write tokenizer.json (+ tokenizer_config.json) only and ignore `lowercase` / `limitAlphabet`.
   */
  model?: 'wordpiece' | 'bpe' | 'unigram';
  /** Target size, special tokens included (default 30522). */
  vocabSize?: number;
  /** A merge needs a pair seen at least this often (default 2). */
  minFrequency?: number;
  /** Keep the most frequent characters only (default 1000). */
  limitAlphabet?: number;
  /** Lowercase and strip accents (BERT uncased); default keeps case. */
  lowercase?: boolean;
  specialTokens?: string[];
  textField?: string;
  format?: CorpusFormat;
  /** Progress events (counting, training phases, notes), about every 5 seconds. */
  onEvent?: (event: Record<string, unknown>) => void;
}

export interface TrainVocabSummary {
  output: string;
  model: 'wordpiece' | 'bpe' | 'unigram';
  vocabSize: number;
  requestedVocabSize: number;
  merges: number;
  texts: number;
  words: number;
  distinctWords: number;
  lowercase: boolean;
  seconds: number;
  files: string[];
}

function integer(value: number | undefined, option: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min)
    throw new InputError('trainVocab', (n) => `${n(option)} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** Counts BERT words in `inputs` and trains WordPiece on them as HF tokenizers' BertWordPieceTokenizer.train does. */
export async function trainVocab(options: TrainVocabOptions): Promise<TrainVocabSummary> {
  const vocabSize = integer(options.vocabSize, 'vocabSize', 30522, 1);
  const minFrequency = integer(options.minFrequency, 'minFrequency', 2, 0);
  const limitAlphabet = integer(options.limitAlphabet, 'limitAlphabet', 1000, 0);
  if (options.inputs.length === 0) throw new InputError('trainVocab', (n) => `${n('inputs')} names no file`);
  if (options.format !== undefined && options.format !== 'jsonl' && options.format !== 'text')
    throw new InputError('trainVocab', (n) => `${n('format')} must be jsonl or text, got ${String(options.format)}`);
  const model = options.model ?? 'wordpiece';
  if (model !== 'wordpiece' && model !== 'bpe' && model !== 'unigram')
    throw new InputError('trainVocab', (n) => `${n('model')} must be wordpiece, bpe or unigram, got ${String(model)}`);
  const lowercase = options.lowercase ?? false;
  const onEvent = options.onEvent ?? (() => {});
  const t0 = Date.now();
  const seconds = (): number => (Date.now() - t0) / 1000;
  let inputBytes = 0;
  for (const f of options.inputs) {
    const size = statSync(f, { throwIfNoEntry: false })?.size;
    if (size === undefined) throw new InputError(f, 'file not found');
    inputBytes += size;
  }
  const split = model === 'wordpiece' ? bertWordSplitter({ lowercase }) : subwordWordSplitter(model);
  const counter = new WordCounter();
  let texts = 0;
  let lastEvent = Date.now();
  const counts = () => ({ texts, words: counter.total, distinctWords: counter.counts.size });
  for await (const text of readCorpusTexts(options.inputs, { format: options.format, textField: options.textField })) {
    counter.add(split(text));
    texts++;
    if (Date.now() - lastEvent > 5000) {
      lastEvent = Date.now();
      onEvent({ event: 'count', ...counts(), seconds: seconds() });
    }
  }
  if (counter.total === 0) throw new InputError(options.inputs.join(', '), 'no words (empty corpus?)');
  onEvent({ event: 'counted', ...counts(), inputBytes, seconds: seconds() });
  let lastPhase = '';
  const onProgress = (p: { phase: string; done: number; total: number }): void => {
    if (p.phase !== lastPhase || Date.now() - lastEvent > 5000) {
      lastPhase = p.phase;
      lastEvent = Date.now();
      onEvent({ event: 'train', phase: p.phase, done: p.done, total: p.total, seconds: seconds() });
    }
  };
  if (model !== 'wordpiece') {
    const doc = trainSubwordTokenizer(model, counter.counts, {
      vocabSize,
      minFrequency,
      specialTokens: options.specialTokens,
      onProgress,
    });
    const vocab = (doc['model'] as { vocab: object }).vocab;
    const merges = (doc['model'] as { merges?: unknown[] }).merges;
    return {
      output: options.output,
      model,
      vocabSize: Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length,
      requestedVocabSize: vocabSize,
      merges: merges?.length ?? 0,
      texts,
      words: counter.total,
      distinctWords: counter.counts.size,
      lowercase: false,
      seconds: seconds(),
      files: saveSubwordTokenizerFiles(options.output, doc),
    };
  }
  const trained = trainWordPiece(counter.counts, {
    vocabSize,
    minFrequency,
    limitAlphabet,
    specialTokens: options.specialTokens ?? [...BERT_SPECIAL_TOKENS],
    onProgress,
  });
  const files = saveBertTokenizerFiles(options.output, trained.vocab, { lowercase });
  if (trained.vocab.length < vocabSize) {
    onEvent({
      event: 'note',
      message: `stopped at ${trained.vocab.length} tokens: no pair occurs ${minFrequency} times or more (lower minFrequency or add text)`,
    });
  }
  return {
    output: options.output,
    model,
    vocabSize: trained.vocab.length,
    requestedVocabSize: vocabSize,
    merges: trained.merges.length,
    texts,
    words: counter.total,
    distinctWords: trained.wordTypes,
    lowercase,
    seconds: seconds(),
    files,
  };
}
