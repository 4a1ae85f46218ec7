// The tokenizer surface fine-tuning needs (pairs with truncation, per-word WordPieces), over src/tokenizer's BertTokenizer.
import { BertTokenizer } from '../tokenizer/tokenizer.js';
import type { TextClassificationExample } from '../data/classification.js';
import { alignFirstWordPiece, type TokenClassificationExample } from '../data/conll.js';
import type { EncodedExample } from '../data/batching.js';
import type { QaTokenizer } from '../data/qa-spans.js';

export interface FinetuneTokenizer extends QaTokenizer {
  /** `[CLS] text [SEP]` or `[CLS] text [SEP] pair [SEP]`, truncated (longest first) to at most maxLength ids. */
  encode(text: string, pair: string | undefined, maxLength: number): { inputIds: number[]; tokenTypeIds: number[] };
  /** WordPiece ids of one pre-split word, no special tokens (for first-piece NER labelling). */
  wordPieceIds(word: string): number[];
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  readonly padId: number;
  /** Size of the vocabulary, checked against the model's vocab_size. */
  readonly vocabSize: number;
  /** Ids of a text without special tokens, with character offsets (question answering). */
  tokenize(text: string): { ids: number[]; offsets: [number, number][] };
  /** The token string of an id. */
  idToToken(id: number): string;
}

/** Wraps a BertTokenizer; throws when the vocabulary lacks [CLS] / [SEP] (fine-tuning needs both). */
export function finetuneTokenizer(tok: BertTokenizer, source = 'tokenizer'): FinetuneTokenizer {
  const cls = tok.clsTokenId;
  const sep = tok.sepTokenId;
  if (cls === undefined || sep === undefined) throw new Error(`${source}: the vocabulary has no [CLS] or [SEP] token`);
  return {
    encode: (text, pair, maxLength) => {
      const e = tok.encode(text, pair ?? null, { maxLength, truncation: 'longest_first' });
      return { inputIds: e.inputIds, tokenTypeIds: e.tokenTypeIds };
    },
    wordPieceIds: (word) => tok.encode(word, null, { addSpecialTokens: false }).inputIds,
    clsId: cls,
    sepId: sep,
    unkId: tok.unkTokenId,
    padId: tok.padTokenId ?? 0,
    vocabSize: tok.vocabSize,
    tokenize: (text) => {
      const e = tok.encode(text, null, { addSpecialTokens: false, truncation: false, returnOffsets: true });
      return { ids: e.inputIds, offsets: e.offsets ?? [] };
    },
    idToToken: (id) => tok.idToTokenString(id) ?? tok.unkToken,
    withSpecialTokens: (a, b) => tok.withSpecialTokens(a, b),
    wordIds: (text) => tok.wordIds(text),
  };
}

/** Loads the tokenizer of a model folder (tokenizer.json or vocab.txt + tokenizer_config.json). */
export async function loadFinetuneTokenizer(dir: string): Promise<FinetuneTokenizer> {
  return finetuneTokenizer(BertTokenizer.fromPretrained(dir), dir);
}

/** Text-classification examples as model inputs with their labels (pairs truncated longest first). */
export function encodeTextExamples(
  tok: FinetuneTokenizer,
  examples: readonly TextClassificationExample[],
  maxLength: number,
): EncodedExample[] {
  return examples.map((e) => ({ ...tok.encode(e.text, e.textPair, maxLength), label: e.label }));
}

/** Token-classification sentences as model inputs, each word's label on its first WordPiece (-100 elsewhere). */
export function encodeTokenExamples(
  tok: FinetuneTokenizer,
  examples: readonly TokenClassificationExample[],
  maxLength: number,
): EncodedExample[] {
  return examples.map((e) => {
    const a = alignFirstWordPiece(e, tok, maxLength);
    return { inputIds: a.inputIds, tokenTypeIds: new Array<number>(a.inputIds.length).fill(0), tokenLabels: a.labels };
  });
}
