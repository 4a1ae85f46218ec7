// The tokenizer called as a function, with HF's and transformers.js's option and output names:
// tokenizer(text | texts, { text_pair, add_special_tokens, padding, truncation, max_length, return_tensor,
// return_token_type_ids }) -> { input_ids, attention_mask, token_type_ids }.
import { ResultTensor } from '../tensor/result.js';
import { TokenizerError } from './errors.js';
import { readOptions } from './options.js';
import type { BertTokenizer, EncodeOptions, Encoding, TruncationStrategy } from './tokenizer.js';

/** Options of `tokenizer(text, options)`; each is accepted in snake_case (as here) or camelCase (`maxLength`). */
export interface TokenizerCallOptions {
  /** A second text (or one per text for a list) encoded with the first as a pair. */
  text_pair?: string | string[] | null;
  /** Add [CLS] / [SEP] (the template's special tokens). Default true. */
  add_special_tokens?: boolean;
  /** true or 'longest': pad to the longest of the batch; 'max_length': to max_length. Default false. */
  padding?: boolean | 'longest' | 'max_length';
  /** true means 'longest_first'. Default: on when max_length is given without padding (as HF), else off. */
  truncation?: boolean | TruncationStrategy | null;
  /** Length limit for truncation and padding 'max_length'. Default: the tokenizer's model_max_length. */
  max_length?: number | null;
  /** Return [batch, length] int64 tensors (default, as transformers.js) or plain arrays (false, as HF lists). */
  return_tensor?: boolean;
  /**
   * Include token_type_ids. Default as HF: tokenizer_config.json's model_input_names, else true except for the
   * tokenizer classes that have none (DistilBERT, RoBERTa, XLM-R, ...).
   */
  return_token_type_ids?: boolean | null;
}

/** The camelCase spellings TokenizerCallOptions also accepts. */
export interface TokenizerCallOptionsCamel {
  textPair?: string | string[] | null;
  addSpecialTokens?: boolean;
  padding?: boolean | 'longest' | 'max_length';
  truncation?: boolean | TruncationStrategy | null;
  maxLength?: number | null;
  returnTensor?: boolean;
  returnTokenTypeIds?: boolean | null;
}

export type AnyTokenizerCallOptions = TokenizerCallOptions | TokenizerCallOptionsCamel;

/** What a tokenizer call returns: one value per model input, named as HF names them. */
export interface BatchEncoding<V> {
  input_ids: V;
  attention_mask: V;
  token_type_ids?: V;
}

const CALL_OPTIONS = [
  'textPair',
  'addSpecialTokens',
  'padding',
  'truncation',
  'maxLength',
  'returnTensor',
  'returnTokenTypeIds',
];

function fail(problem: string): never {
  throw new TokenizerError(`tokenizer(text, options): ${problem}`);
}

function checkBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** Runs a call: encodes through BertTokenizer.encodeBatch (HF's truncation and padding), then shapes the output. */
export function tokenizerCall(
  tok: BertTokenizer,
  text: string | string[],
  options: AnyTokenizerCallOptions | undefined,
  tokenTypesByDefault: boolean,
): BatchEncoding<ResultTensor<'int64'> | number[] | number[][]> {
  const o = readOptions(options, CALL_OPTIONS, fail);
  const batched = Array.isArray(text);
  if (!batched && typeof text !== 'string') fail(`text must be a string or an array of strings, got ${typeof text}`);
  if (batched && text.length === 0) fail('text is an empty array');
  const pair = o['textPair'] ?? null;
  if (pair !== null) {
    if (batched !== Array.isArray(pair))
      fail(`text_pair must be ${batched ? 'an array (one per text)' : 'a string'} like text`);
  }
  const encode: EncodeOptions = {};
  const addSpecialTokens = checkBoolean(o['addSpecialTokens'], 'add_special_tokens');
  if (addSpecialTokens !== undefined) encode.addSpecialTokens = addSpecialTokens;
  const padding = o['padding'];
  if (padding !== undefined) {
    if (padding === 'longest' || padding === 'max_length' || typeof padding === 'boolean') encode.padding = padding;
    else fail(`padding must be true, false, "longest" or "max_length", got ${JSON.stringify(padding)}`);
  }
  const truncation = o['truncation'];
  const maxLength = o['maxLength'];
  if (maxLength !== undefined && maxLength !== null) encode.maxLength = maxLength as number;
  // HF truncates to model_max_length when no max_length is given; a tokenizer without one is not truncated.
  const noLimit = encode.maxLength === undefined && tok.modelMaxLength === undefined;
  if (truncation !== undefined && truncation !== null && !noLimit)
    encode.truncation = truncation as EncodeOptions['truncation'];
  const returnTensor = checkBoolean(o['returnTensor'], 'return_tensor') ?? true;
  const withTypes = checkBoolean(o['returnTokenTypeIds'], 'return_token_type_ids') ?? tokenTypesByDefault;

  const texts = batched ? text : [text];
  const pairs = pair === null ? null : batched ? (pair as string[]) : [pair as string];
  const encodings: Encoding[] = tok.encodeBatch(texts, pairs, encode);

  const field = { input_ids: 'inputIds', attention_mask: 'attentionMask', token_type_ids: 'tokenTypeIds' } as const;
  const keys: (keyof typeof field)[] = [
    'input_ids',
    'attention_mask',
    ...(withTypes ? ['token_type_ids' as const] : []),
  ];
  const out: Record<string, ResultTensor<'int64'> | number[] | number[][]> = {};
  if (!returnTensor) {
    for (const key of keys) {
      const rows = encodings.map((e) => e[field[key]]);
      out[key] = batched ? rows : rows[0]!;
    }
    return out as unknown as BatchEncoding<number[] | number[][]>;
  }
  const length = encodings[0]!.inputIds.length;
  if (encodings.some((e) => e.inputIds.length !== length)) {
    fail(
      'the texts encode to different lengths, so they cannot form one tensor: pass padding: true (and truncation: ' +
        'true for texts longer than the model takes), or return_tensor: false for plain arrays',
    );
  }
  for (const key of keys) {
    const data = new BigInt64Array(encodings.length * length);
    encodings.forEach((e, b) => e[field[key]].forEach((v, t) => (data[b * length + t] = BigInt(v))));
    out[key] = new ResultTensor('int64', data, [encodings.length, length]);
  }
  return out as unknown as BatchEncoding<ResultTensor<'int64'>>;
}
