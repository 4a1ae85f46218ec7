// The POST routes of the server: how a request body becomes inputs for the dynamic batcher and how their results
// become the answer — /predict and /embed ({"inputs": ...}), /rerank ({"query", "documents"}).
import { rankScores } from '../model/sentence/cross-encoder.js';
import { InputError } from '../model/errors.js';
import type { CallOptions } from './batcher.js';
import { ServerError } from './errors.js';
import { taskParameters } from './parameters.js';

/** A request's inputs, the call options they are batched under, and how their results answer the request. */
export interface ParsedRequest<R, I> {
  inputs: I[];
  /** Options every input shares (texts with different options never share a batch); undefined when none. */
  options: CallOptions | undefined;
  /** The JSON answer from the inputs' results, in order. */
  answer(results: R[]): unknown;
}

/** A POST route: the model call its inputs are batched into and the validation of its body. */
export interface ServedRoute<R = unknown, I = unknown> {
  /** Runs the model on a batch of inputs; one result per input, in order (see PredictBatch). */
  predictBatch(inputs: I[], options?: CallOptions): Promise<R[]>;
  /**
   * Validates a request body (already a JSON object) into its inputs; throws ServerError or InputError (400) naming
   * what is wrong. `maxTexts` is the most inputs a request may carry.
   */
  parseBody(body: Record<string, unknown>, maxTexts: number): ParsedRequest<R, I>;
}

/** The request "parameters" a route accepts (see taskParameters in parameters.ts for a task's). */
export interface RequestParameters {
  /** The accepted names (what parse's error for an unknown one lists). */
  readonly names: readonly string[];
  /** Validates a request's "parameters" object into call options; throws an Error saying what is wrong (400). */
  parse(parameters: Record<string, unknown>): CallOptions;
  /** The answer to a list request from its per-input results (default: the results as they are). */
  combine?(results: unknown[], options: CallOptions): unknown;
}

/** A route taking `{"inputs": X | [X, ...], "parameters"?: {...}}` (as POST /predict and POST /embed). */
export interface InputsRouteOptions<R, I> {
  predictBatch: (inputs: I[], options?: CallOptions) => Promise<R[]>;
  /**
   * Validates one input of a request and returns what predictBatch takes (default: a string). Throw an Error
   * whose message completes "<where> ..." (e.g. "must be {question, context}") to answer 400.
   */
  parseInput?: (value: unknown) => I;
  /** The "parameters" a request may carry; without it a request with parameters gets 400. */
  parameters?: RequestParameters;
}

const INPUTS_KEYS = ['inputs', 'text', 'texts', 'parameters'];

/**
 * The route of `{"inputs": X | [X, ...], "parameters"?: {...}}` (or `text` / `texts`): a bare X is one input
 * answered with its result, an array a batch answered with a list (shaped by the parameters' combine).
 */
export function inputsRoute<R, I = string>(options: InputsRouteOptions<R, I>): ServedRoute<R, I> {
  const parseInput = options.parseInput ?? (parseTextInput as unknown as (value: unknown) => I);
  return {
    predictBatch: (inputs, callOptions) =>
      callOptions === undefined ? options.predictBatch(inputs) : options.predictBatch(inputs, callOptions),
    parseBody(record, maxTexts) {
      checkKeys(record, INPUTS_KEYS);
      const parameters = readParameters(record);
      const keys = ['inputs', 'text', 'texts'].filter((k) => k in record);
      const [key] = keys;
      if (key === undefined || keys.length !== 1) {
        const found = keys.length === 0 ? 'none of them' : keys.join(' and ');
        throw new ServerError(
          400,
          'invalid_request',
          `give exactly one of "inputs", "text" or "texts"; found ${found}`,
        );
      }
      const callOptions = parameters === undefined ? undefined : parseParameters(options.parameters, parameters);
      const raw = record[key];
      const parse = (x: unknown, where: string): I => {
        try {
          return parseInput(x);
        } catch (error) {
          if (error instanceof ServerError)
            throw new ServerError(error.status, error.code, `${where}: ${error.message}`);
          throw new ServerError(400, 'invalid_request', `${where} ${(error as Error).message}`);
        }
      };
      if (!Array.isArray(raw)) {
        return { inputs: [parse(raw, `"${key}"`)], options: callOptions, answer: (results) => results[0] };
      }
      checkCount(raw, `"${key}"`, maxTexts);
      const combine = options.parameters?.combine;
      return {
        inputs: raw.map((x, i) => parse(x, `"${key}"[${i}]`)),
        options: callOptions,
        answer: (results) => (combine ? combine.call(options.parameters, results, callOptions ?? {}) : results),
      };
    },
  };
}

/** One answer of POST /rerank, best first: sentence-transformers' rank() names (corpus_id), text when asked. */
export interface RerankAnswer {
  corpus_id: number;
  score: number;
  text?: string;
}

const RERANK_KEYS = ['query', 'documents', 'parameters'];
const RERANK_PARAMETERS = taskParameters('text-ranking');

/**
 * The route of `{"query": "...", "documents": ["...", ...], "parameters"?: {"top_k", "return_documents"}}`: every
 * (query, document) pair is one input of the batcher (pairs of concurrent requests share batches), `predictBatch`
 * gives one score per pair, and the answer lists the documents best first as CrossEncoder.rank does.
 */
export function rerankRoute(
  predictBatch: (pairs: [string, string][]) => Promise<number[]>,
): ServedRoute<number, [string, string]> {
  return {
    predictBatch: (pairs) => predictBatch(pairs),
    parseBody(record, maxTexts) {
      checkKeys(record, RERANK_KEYS);
      const parameters = readParameters(record);
      const { query, documents } = record;
      if (typeof query !== 'string')
        throw new ServerError(400, 'invalid_request', `"query" must be a string, got ${typeName(query)}`);
      checkWellFormed(query, '"query"');
      if (!Array.isArray(documents))
        throw new ServerError(
          400,
          'invalid_request',
          `"documents" must be an array of strings, got ${typeName(documents)}`,
        );
      checkCount(documents, '"documents"', maxTexts);
      documents.forEach((d, i) => {
        if (typeof d !== 'string')
          throw new ServerError(400, 'invalid_request', `"documents"[${i}] must be a string, got ${typeName(d)}`);
        checkWellFormed(d, `"documents"[${i}]`);
      });
      const options = parameters === undefined ? undefined : parseParameters(RERANK_PARAMETERS, parameters);
      const topK = (options?.topK ?? undefined) as number | undefined;
      const returnDocuments = options?.returnDocuments === true;
      const texts = documents as string[];
      return {
        inputs: texts.map((d) => [query, d]),
        // topK and returnDocuments shape the answer only: every rerank request batches with every other.
        options: undefined,
        answer: (scores) =>
          rankScores(scores, texts, { topK, returnDocuments }).map((r): RerankAnswer => ({
            corpus_id: r.corpusId,
            score: r.score,
            ...(r.text !== undefined ? { text: r.text } : {}),
          })),
      };
    },
  };
}

function checkKeys(record: Record<string, unknown>, known: readonly string[]): void {
  const unknownKey = Object.keys(record).find((k) => !known.includes(k));
  if (unknownKey !== undefined) {
    throw new ServerError(
      400,
      'invalid_request',
      `unknown key "${unknownKey}" in the body; known: ${known.map((k) => `"${k}"`).join(', ')}`,
    );
  }
}

function readParameters(record: Record<string, unknown>): Record<string, unknown> | undefined {
  const raw = record.parameters;
  if ('parameters' in record && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new ServerError(400, 'invalid_parameters', `"parameters" must be an object, got ${typeName(raw)}`);
  }
  return raw as Record<string, unknown> | undefined;
}

function checkCount(list: unknown[], where: string, maxTexts: number): void {
  if (list.length === 0) throw new ServerError(400, 'invalid_request', `${where} is an empty array`);
  if (list.length > maxTexts) {
    throw new ServerError(400, 'too_many_texts', `${list.length} texts in one request; the limit is ${maxTexts}`);
  }
}

/** A request's parameters as call options, or a 400 naming the accepted ones. */
function parseParameters(
  accepted: RequestParameters | undefined,
  parameters: Record<string, unknown>,
): CallOptions | undefined {
  // No parameters, however spelled, is one batching key: `{}` batches with requests that send none.
  if (Object.keys(parameters).length === 0) return undefined;
  if (accepted === undefined) {
    throw new ServerError(400, 'invalid_parameters', 'this server accepts no "parameters"');
  }
  try {
    return accepted.parse(parameters);
  } catch (error) {
    // An InputError from taskParameters; any Error from a caller's own validator means the same.
    const message = error instanceof Error ? error.message : String(error);
    throw new ServerError(400, 'invalid_parameters', `"parameters": ${message}`);
  }
}

/** The default input: a string of well-formed UTF-16. */
export function parseTextInput(value: unknown): string {
  if (typeof value !== 'string') throw new InputError('', `must be a string, got ${typeName(value)}`);
  checkWellFormed(value, 'the text');
  return value;
}

/** text-classification's input: a string, or a pair `{"text", "text_pair"}` (HF's and the pipeline's shape). */
export function parseTextPairInput(value: unknown): string | { text: string; text_pair?: string } {
  if (typeof value === 'string') return parseTextInput(value);
  const v = value as { text?: unknown; text_pair?: unknown } | null;
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : null;
  if (
    keys === null ||
    typeof v!.text !== 'string' ||
    !(v!.text_pair === undefined || typeof v!.text_pair === 'string') ||
    keys.some((k) => k !== 'text' && k !== 'text_pair')
  ) {
    throw new InputError('', 'must be a string or an object {"text": string, "text_pair"?: string}');
  }
  checkWellFormed(v!.text, 'the text');
  if (v!.text_pair === undefined) return { text: v!.text };
  checkWellFormed(v!.text_pair, 'the text_pair');
  return { text: v!.text, text_pair: v!.text_pair };
}

/** JSON escapes can encode lone UTF-16 surrogates ("\ud800"), which are not text: refuse them here, per request. */
export function checkWellFormed(text: string, where: string): void {
  const lone = /\p{Surrogate}/u.exec(text);
  if (lone) {
    throw new ServerError(
      400,
      'invalid_text',
      `${where} contains a lone UTF-16 surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()}) at index ${lone.index}`,
    );
  }
}

export function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
