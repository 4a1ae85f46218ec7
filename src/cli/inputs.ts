// The plumbing every inference command shares: common flags, inputs from arguments / JSONL / stdin, JSON-lines output.
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ParseArgsConfig } from 'node:util';
import { MODEL_DTYPES, type ModelDtype } from '../model/linear-dtype.js';
import { getKernels, type BackendChoice } from '../native/index.js';
import type { PipelineOptions } from '../pipelines/types.js';
import { formatDuration } from '../train/progress.js';
import { UsageError, intFlag, type ParsedValues } from './command.js';

/** Options every inference command accepts. */
export const COMMON_OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  'batch-size': { type: 'string' },
  'max-length': { type: 'string' },
  backend: { type: 'string' },
  dtype: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const BACKENDS: readonly BackendChoice[] = ['auto', 'js', 'native', 'wasm'];

/** --backend: auto, js, native or wasm; undefined when absent (getKernels then takes BERT_BACKEND or auto). */
export function backendFlag(value: unknown): BackendChoice | undefined {
  if (value === undefined) return undefined;
  if (!BACKENDS.includes(value as BackendChoice))
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as BackendChoice;
}

/** --dtype: fp32, q8 or bf16 (what the model's linear layers compute in); undefined when absent (fp32). */
export function dtypeFlag(value: unknown, flag = '--dtype'): ModelDtype | undefined {
  if (value === undefined) return undefined;
  if (!MODEL_DTYPES.includes(value as ModelDtype))
    throw new UsageError(`${flag} must be ${MODEL_DTYPES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as ModelDtype;
}

/** Pipeline options from the common flags. */
export function pipelineOptions(values: ParsedValues): PipelineOptions {
  const backend = backendFlag(values.backend);
  return {
    tokenizer: values.tokenizer as string | undefined,
    kernels: backend ? getKernels({ backend }) : undefined,
    dtype: dtypeFlag(values.dtype),
    batchSize: intFlag(values, 'batch-size', 16),
    maxLength: intFlag(values, 'max-length', undefined, 3),
    // --quiet drops the load warnings (weights newly initialised or unused), wherever `warn` is passed on.
    warn: values.quiet === true ? () => {} : (message) => process.stderr.write(`warning: ${message}\n`),
    quiet: values.quiet === true,
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

/** label2id from --labels (names in id order) or --label2id (JSON); undefined when neither was given. */
export function labelMapFromFlags(
  labels: string | undefined,
  label2id: string | undefined,
): Record<string, number> | undefined {
  if (labels !== undefined && label2id !== undefined) throw new UsageError('give --labels or --label2id, not both');
  if (labels !== undefined) {
    const names = labels.split(',').map((s) => s.trim());
    if (names.some((n) => n === '') || new Set(names).size !== names.length)
      throw new UsageError(`--labels must be distinct non-empty names separated by commas, got "${labels}"`);
    return Object.fromEntries(names.map((n, i) => [n, i]));
  }
  if (label2id === undefined) return undefined;
  let map: unknown;
  try {
    map = JSON.parse(label2id);
  } catch (e) {
    throw new UsageError(`--label2id is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new UsageError('--label2id must be a JSON object of name → non-negative integer id');
  return map as Record<string, number>;
}

/**
 * Scoring 25,000 reviews takes minutes: progress on stderr, a bar on a terminal, a JSON line every 10 s otherwise.
 */
export function progressPrinter(): (done: number, total: number) => void {
  const t0 = performance.now();
  const tty = Boolean(process.stderr.isTTY);
  let lastShown = 0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - lastShown < (tty ? 250 : 10_000)) return;
    lastShown = now;
    const rate = done / Math.max((now - t0) / 1000, 1e-9);
    const eta = (total - done) / Math.max(rate, 1e-9);
    if (tty)
      process.stderr.write(
        `\r\x1b[2Kevaluating ${done}/${total} ${rate.toFixed(1)} ex/s ETA ${formatDuration(eta)}${done === total ? '\n' : ''}`,
      );
    else
      process.stderr.write(
        `${JSON.stringify({ event: 'eval-progress', done, total, examplesPerSecond: Number(rate.toFixed(2)), etaSeconds: Math.round(eta) })}\n`,
      );
  };
}
