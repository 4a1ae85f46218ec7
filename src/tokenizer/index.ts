// The tokenizer's public surface.
export { BertTokenizer } from './tokenizer.js';
/** The same class: it reads WordPiece, BPE and Unigram tokenizer.json files alike (dispatch on model.type). */
export { BertTokenizer as Tokenizer } from './tokenizer.js';
export {
  trainBpe,
  trainUnigram,
  trainSubwordTokenizer,
  subwordWordSplitter,
  saveSubwordTokenizerFiles,
} from './trainer-subword.js';
export type { BpeTrainerOptions, UnigramTrainerOptions, SubwordModel } from './trainer-subword.js';
export type {
  DecodeOptions,
  EncodeOptions,
  Encoding,
  FlatBatchEncoding,
  TruncationStrategy,
  VocabOptions,
} from './tokenizer.js';
export type { AddedToken } from './added-tokens.js';
export type {
  BatchEncoding,
  TokenizerCallOptions,
  TokenizerCallOptionsCamel,
  AnyTokenizerCallOptions,
} from './call.js';
export type { NormalizerSpec, SpecialTokenNames } from './config.js';
export { TokenizerError } from './errors.js';
