// The tokenizer surface fine-tuning needs (pairs with truncation, per-word WordPieces), and its loader from a model folder.

export interface FinetuneTokenizer {
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
}

/** Loads the tokenizer of a model folder (tokenizer.json or vocab.txt + tokenizer_config.json). */
export async function loadFinetuneTokenizer(dir: string): Promise<FinetuneTokenizer> {
  throw new Error(`${dir}: no tokenizer implementation available yet`);
}
