// `bert predict`: text classification of texts from arguments, stdin lines or a JSONL file, written as JSON lines.
// Also holds the input/output plumbing shared by the other inference commands (fill-mask, ner, qa, embed).
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ParseArgsConfig } from 'node:util';
import { getKernels } from '../../native/index.js';
import type { PipelineOptions } from '../../pipelines/types.js';
import { UsageError, intFlag, parseCommand, runCommand, type ParsedValues } from '../command.js';

export const usage = `Usage: bert predict --model DIR [options] [TEXT ...]

Classifies texts with a sequence-classification model and writes one JSON line per text:
  {"text": "...", "label": "POSITIVE", "score": 0.98}       (with --top-k N: "predictions": [{label, score}, ...])
Texts come from the arguments, else from --input FILE.jsonl (each line a JSON string or an object with "text"
and optionally "text_pair"; its other fields are copied to the output), else from stdin, one text per line.

Options:
  --model DIR          model folder (config.json, weights, tokenizer files) or hub id
  --tokenizer DIR      tokenizer folder when the model folder has no tokenizer files
  --input FILE         JSONL input file
  --output FILE        write JSON lines here instead of stdout
  --top-k N            labels per text (default 1; 0 = every label)
  --function NAME      softmax | sigmoid | none (default: from config.json problem_type)
  --batch-size N       texts per model call (default 16)
  --max-length N       truncate inputs to N tokens (default: the model's maximum)
  --backend NAME       js | native | auto (default: BERT_BACKEND or auto)
  -h, --help           this text

Exit codes: 0 done, 1 a runtime error (message on stderr), 2 a usage error.`;

/** Options every inference command accepts. */
export const COMMON_OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  'batch-size': { type: 'string' },
  'max-length': { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Pipeline options from the common flags. */
export function pipelineOptions(values: ParsedValues): PipelineOptions {
  const backend = values.backend as string | undefined;
  if (backend !== undefined && !['js', 'native', 'auto'].includes(backend)) {
    throw new UsageError(`--backend must be js, native or auto, got "${backend}"`);
  }
  return {
    tokenizer: values.tokenizer as string | undefined,
    kernels: backend ? getKernels({ backend: backend as 'js' | 'native' | 'auto' }) : undefined,
    batchSize: intFlag(values, 'batch-size', 16),
    maxLength: intFlag(values, 'max-length', undefined, 3),
    warn: (message) => process.stderr.write(`warning: ${message}\n`),
  };
}

/** A record of the input: the text(s) plus any fields of a JSONL line, kept for the output. */
export type InputRecord = Record<string, unknown>;

/**
 * Yields input records: positional texts, else --input JSONL lines, else stdin lines. A JSONL line may be a string
 * (becomes {text}) or an object; `field` names the key that must hold a string ("text" by default).
 */
export async function* readInputs(
  values: ParsedValues,
  positionals: string[],
  field = 'text',
): AsyncGenerator<InputRecord> {
  if (positionals.length > 0) {
    for (const text of positionals) yield { [field]: text };
    return;
  }
  const file = values.input as string | undefined;
  if (!file && process.stdin.isTTY)
    throw new UsageError('no input: give texts as arguments, --input FILE.jsonl, or pipe lines to stdin');
  const lines = createInterface({ input: file ? createReadStream(file) : process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    if (!file) {
      yield { [field]: line };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${lineNo}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof value === 'string') yield { [field]: value };
    else if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof (value as InputRecord)[field] === 'string'
    ) {
      yield value as InputRecord;
    } else {
      throw new Error(`${file}:${lineNo}: each line must be a JSON string or an object with a string "${field}"`);
    }
  }
}

/** Groups an async stream into arrays of at most `size`, so output appears while input is still being read. */
export async function* batches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Where JSON lines go: --output FILE or stdout; `close` waits until everything is flushed. */
export function openOutput(values: ParsedValues): {
  write: (record: unknown) => Promise<void>;
  close: () => Promise<void>;
} {
  const file = values.output as string | undefined;
  const stream = file ? createWriteStream(file) : process.stdout;
  const write = (record: unknown): Promise<void> =>
    new Promise((resolve, reject) => {
      const ok = stream.write(`${JSON.stringify(record)}\n`, (error) => (error ? reject(error) : undefined));
      if (ok) resolve();
      else stream.once('drain', resolve);
    });
  const close = (): Promise<void> =>
    file
      ? new Promise((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())))
      : Promise.resolve();
  return { write, close };
}

export function requireModel(values: ParsedValues): string {
  const model = values.model as string | undefined;
  if (!model) throw new UsageError('--model DIR is required');
  return model;
}

export async function predictCommand(argv: string[]): Promise<number> {
  return runCommand('predict', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      'top-k': { type: 'string' },
      function: { type: 'string' },
    });
    const model = requireModel(values);
    const options = pipelineOptions(values);
    const topKOption = intFlag(values, 'top-k', 1, 0)!;
    const fn = values.function as string | undefined;
    if (fn !== undefined && !['softmax', 'sigmoid', 'none'].includes(fn))
      throw new UsageError(`--function must be softmax, sigmoid or none, got "${fn}"`);
    const { pipeline } = await import('../../pipelines/pipeline.js');
    const classify = await pipeline('text-classification', model, options);
    const out = openOutput(values);
    const callOptions = {
      topK: topKOption === 0 ? null : topKOption,
      functionToApply: fn as 'softmax' | 'sigmoid' | 'none' | undefined,
    };
    for await (const batch of batches(readInputs(values, positionals), options.batchSize ?? 16)) {
      const inputs = batch.map((r) =>
        typeof r.text_pair === 'string' ? { text: r.text as string, text_pair: r.text_pair } : (r.text as string),
      );
      const results = await classify.predictEach(inputs, callOptions);
      for (let i = 0; i < batch.length; i++) {
        const labels = results[i]!;
        await out.write(
          topKOption === 1
            ? { ...batch[i], label: labels[0]!.label, score: labels[0]!.score }
            : { ...batch[i], predictions: labels },
        );
      }
    }
    await out.close();
  });
}

export default predictCommand;
