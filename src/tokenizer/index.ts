// The tokenizer's public surface.
export { BertTokenizer } from './tokenizer.js';
export type {
  DecodeOptions,
  EncodeOptions,
  Encoding,
  FlatBatchEncoding,
  TruncationStrategy,
  VocabOptions,
} from './tokenizer.js';
export type { AddedToken } from './added-tokens.js';
export type { NormalizerSpec, SpecialTokenNames } from './config.js';
export { TokenizerError } from './errors.js';
