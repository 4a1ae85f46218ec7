// Adapter from src/tokenizer's BertTokenizer to the small surface the pipelines use (PipelineTokenizer).
import { BertTokenizer } from '../tokenizer/tokenizer.js';
import type { PipelineEncoding, PipelineTokenizer } from './types.js';

function required(id: number | undefined, role: string, dir: string): number {
  if (id === undefined) throw new Error(`${dir}: the tokenizer defines no ${role} token, which the pipelines need`);
  return id;
}

/** Wraps a loaded BertTokenizer; `source` names it in errors. */
export function adaptTokenizer(tok: BertTokenizer, source: string): PipelineTokenizer {
  const clsId = required(tok.clsTokenId, 'CLS', source);
  const sepId = required(tok.sepTokenId, 'SEP', source);
  const padId = tok.padTokenId ?? 0;
  // Only fill-mask needs a mask token; report its absence there rather than refusing to load.
  const maskId = tok.maskTokenId ?? -1;
  return {
    clsId,
    sepId,
    padId,
    maskId,
    unkId: tok.unkTokenId,
    maskToken: tok.specialTokenNames.mask ?? '[MASK]',
    modelMaxLength: tok.modelMaxLength ?? 1_000_000,
    encode(text: string, pair: string | null, maxLength: number): PipelineEncoding {
      // HF's pipelines truncate the second text first for pairs (only_second in QA, longest_first elsewhere).
      const enc = tok.encode(text, pair, { maxLength, truncation: 'longest_first', returnOffsets: true });
      return {
        inputIds: enc.inputIds,
        tokenTypeIds: enc.tokenTypeIds,
        specialTokensMask: enc.specialTokensMask,
        offsets: enc.offsets ?? enc.inputIds.map((): [number, number] => [0, 0]),
      };
    },
    tokenize(text: string) {
      const enc = tok.encode(text, null, { addSpecialTokens: false, truncation: false, returnOffsets: true });
      return { ids: enc.inputIds, offsets: enc.offsets ?? [] };
    },
    decode(ids: number[], skipSpecialTokens: boolean): string {
      return tok.decode(ids, { skipSpecialTokens });
    },
    idToToken(id: number): string {
      return tok.idToTokenString(id) ?? tok.unkToken;
    },
    tokenToId(token: string): number | undefined {
      return tok.tokenToId(token);
    },
    withSpecialTokens: (a, b) => tok.withSpecialTokens(a, b),
    wordIds: (text) => tok.wordIds(text),
  };
}

/** Loads the tokenizer files of a model folder (tokenizer.json, or vocab.txt + tokenizer_config.json). */
export async function loadPipelineTokenizer(dir: string): Promise<PipelineTokenizer> {
  return adaptTokenizer(BertTokenizer.fromPretrained(dir), dir);
}
