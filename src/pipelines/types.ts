// Types shared by the pipelines: the tokenizer surface they use, options, and the output shapes of transformers.js.
import type { ModelDtype } from '../model/linear-dtype.js';
import type { Kernels } from '../tensor/kernels.js';
import type { AggregationStrategy } from './aggregation.js';
import type { QaTokenizer } from '../data/qa-spans.js';

/** One encoded text (or text pair), without padding. */
export interface PipelineEncoding {
  inputIds: number[];
  tokenTypeIds: number[];
  specialTokensMask: number[];
  /** Character [start, end) of each token in its own text (JS string indices); [0, 0] for special tokens. */
  offsets: [number, number][];
}

/** What the pipelines need from a tokenizer (an adapter over src/tokenizer's BertTokenizer). */
export interface PipelineTokenizer extends QaTokenizer {
  /** Encodes with [CLS]/[SEP], truncated to maxLength (the second text first for pairs), with offsets. */
  encode(text: string, pair: string | null, maxLength: number): PipelineEncoding;
  /** Token ids of a text without special tokens, with offsets. */
  tokenize(text: string): { ids: number[]; offsets: [number, number][] };
  decode(ids: number[], skipSpecialTokens: boolean): string;
  idToToken(id: number): string;
  tokenToId(token: string): number | undefined;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly maskId: number;
  readonly unkId: number;
  readonly maskToken: string;
  /** tokenizer_config.json's model_max_length (or a large number when absent). */
  readonly modelMaxLength: number;
}

export type Task =
  | 'text-classification'
  | 'sentiment-analysis'
  | 'fill-mask'
  | 'token-classification'
  | 'ner'
  | 'question-answering'
  | 'feature-extraction';

export interface PipelineOptions {
  /** Kernels to compute with (default: the BERT_BACKEND choice, native when built). */
  kernels?: Kernels;
  /**
   * What the encoder's linear layers compute in, with transformers.js's names: 'fp32' (default), 'q8' (dynamic
   * int8) or 'bf16' (needs AVX512-BF16 or AMX; elsewhere an error that says so). See ModelOptions.dtype.
   */
  dtype?: ModelDtype;
  /** Tokenizer folder when it is not the model folder. */
  tokenizer?: string;
  /**
   * Texts per model call at most (default 8). A list is cut into batches of texts of similar length (longest first,
   * as sentence-transformers batches), each padded to its own longest text only and of at most 512 padded tokens
   * (BATCH_TOKENS: one long text per call runs faster than many); results come back in the list's order.
   */
  batchSize?: number;
  /** Longest encoded input (default: min(model_max_length, max_position_embeddings)). */
  maxLength?: number;
  /** Hub revision when `model` is a hub id. */
  revision?: string;
  /** Where model-loading warnings go (default: console.warn). */
  warn?: (message: string) => void;
  /** Drop model-loading warnings (weights newly initialised or unused) instead of printing them. */
  quiet?: boolean;
}

/** `maxAnswerLen` -> `max_answer_len`, at the type level. */
type SnakeCase<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${SnakeCase<T>}`
  : S;

/** Options accepted in camelCase (`topK`) and in HF's / transformers.js's snake_case (`top_k`). */
export type EitherSpelling<T> = T & { [K in keyof T as K extends string ? SnakeCase<K> : never]?: T[K] };

export interface LabelScore {
  label: string;
  score: number;
}

export interface FillMaskResult {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

export type { TokenEntity, GroupedEntity, AggregationStrategy } from './aggregation.js';
export type { QaAnswer } from '../data/qa-spans.js';

export interface TextClassificationCallOptions {
  /** Labels to return per text, best first (default 1); null returns every label. */
  topK?: number | null;
  /** Overrides the choice made from config.problem_type. */
  functionToApply?: 'softmax' | 'sigmoid' | 'none';
}

export interface FillMaskCallOptions {
  /** Predictions per mask (default 5). */
  topK?: number;
  /** Restrict predictions to these words (a word outside the vocabulary uses its first word piece, as HF). */
  targets?: string | string[];
}

export interface TokenClassificationCallOptions {
  aggregationStrategy?: AggregationStrategy;
  /** Labels left out of the output (default ["O"]). */
  ignoreLabels?: string[];
  /**
   * Read texts longer than the model's maximum in overlapping windows sharing `stride` word pieces (HF's
   * `stride`); without it long texts are truncated.
   */
  stride?: number;
}

export interface QuestionAnsweringCallOptions {
  topK?: number;
  /** Longest answer in tokens (default 15). */
  maxAnswerLen?: number;
  /** Window length in tokens (default min(384, the model's maximum)). */
  maxSeqLen?: number;
  /** Context tokens shared by consecutive windows (default min(128, maxSeqLen / 2)). */
  docStride?: number;
  /** Adds an empty answer scored by the [CLS] span (SQuAD 2.0 models). */
  handleImpossibleAnswer?: boolean;
}

export interface FeatureExtractionCallOptions {
  /**
   * none: one vector per token; cls: the [CLS] vector; mean: the mean over real tokens; model: the folder's own
   * sentence-transformers modules (pooling, Dense, Normalize). Default: model when the folder has modules.json,
   * else none.
   */
  pooling?: 'none' | 'cls' | 'mean' | 'model';
  /** Divide each vector by its L2 norm (default false). */
  normalize?: boolean;
  /**
   * A call returns a ResultTensor as transformers.js does (default true): [batch, tokens, hidden] without pooling
   * (shorter texts padded with zero vectors), [batch, dims] with it, a single text being a batch of one. false:
   * nested arrays, one entry per text, without padding.
   */
  returnTensor?: boolean;
}

export interface QaInput {
  question: string;
  context: string;
}

/** A text, or a pair of texts for sentence-pair classification. */
export type TextInput = string | { text: string; text_pair?: string };
