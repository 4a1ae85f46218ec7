// The token-classification task (alias ner): BertForTokenClassification's label scores per word piece, grouped
// into entities by HF's aggregation strategies; long texts in overlapping windows with `stride`.
import { BertForTokenClassification } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  aggregateEntities,
  isSubwordPiece,
  type GroupedEntity,
  type PreEntity,
  type TokenEntity,
} from './aggregation.js';
import { softmax } from './math.js';
import type { PipelineBase } from './pipeline.js';
import { dims, INFERENCE, inChunks, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { PipelineEncoding, PipelineTokenizer, TokenClassificationCallOptions, EitherSpelling } from './types.js';

export interface TokenClassificationPipeline extends PipelineBase<
  string,
  TokenEntity[] | GroupedEntity[],
  TokenClassificationCallOptions
> {
  (input: string, options?: EitherSpelling<TokenClassificationCallOptions>): Promise<TokenEntity[] | GroupedEntity[]>;
  (
    inputs: string[],
    options?: EitherSpelling<TokenClassificationCallOptions>,
  ): Promise<(TokenEntity[] | GroupedEntity[])[]>;
}

/**
 * The entities of each text. Runnable from the repository root (hf-tiny's random 5-label fixture; real output):
 * ```ts
 * const ner = await pipeline('ner', '../shared/fixtures/hf-tiny/token_cls5', { tokenizer: '../shared/fixtures/hf-tiny/tokenizer' });
 * await ner('John lives in Paris', { aggregationStrategy: 'simple' });
 * // [{ entity_group: 'LABEL_4', score: 0.34981045253837073, word: 'john', start: 0, end: 4 },
 * //  { entity_group: 'LABEL_0', score: 0.3079616217816442, word: 'lives', start: 5, end: 10 },
 * //  { entity_group: 'LABEL_4', score: 0.35515706422805043, word: 'in paris', start: 11, end: 19 }]
 * ```
 */
export function tokenClassification(
  ctx: RunnerContext<{ logits: Tensor }>,
  inputs: string[],
  options: TokenClassificationCallOptions = {},
): (TokenEntity[] | GroupedEntity[])[] {
  const tok = ctx.tokenizer;
  const strategy = options.aggregationStrategy ?? 'none';
  const ignoreLabels = options.ignoreLabels ?? ['O'];
  const config = ctx.model.config;
  const id2label: Record<number, string> = {};
  for (const [k, v] of Object.entries(config.id2label)) id2label[Number(k)] = v;
  // Each text becomes one encoding, or with `stride` as many overlapping windows as a long text needs.
  const pieces = inputs.map((text, n) => ({
    n,
    text,
    windows: tokenWindows(tok, text, ctx.maxLength, options.stride),
  }));
  const flat = pieces.flatMap((p) => p.windows.map((w) => ({ n: p.n, text: p.text, w })));
  const perWindow = inChunks(
    flat,
    ctx.batchSize,
    (chunk) => {
      const { logits } = ctx.model.forward(
        padBatch(
          chunk.map((c) => c.w),
          tok.padId,
        ),
        INFERENCE,
      );
      const [, T, L] = dims(logits, 3, 'token-classification logits');
      return chunk.map(({ w: e, text }, b) => {
        const pre: PreEntity[] = [];
        e.inputIds.forEach((id, t) => {
          const offset = e.offsets[t]; // one per id
          if (e.specialTokensMask[t] || !offset) return;
          const [start, end] = offset;
          const isUnknown = id === tok.unkId;
          const token = tok.idToToken(id);
          const piece = isUnknown ? text.slice(start, end) : token;
          const isSubword = isSubwordPiece(token, text.slice(start, end), isUnknown);
          pre.push({ word: piece, scores: softmax(logits.data, (b * T + t) * L, L), start, end, index: t, isSubword });
        });
        return aggregateEntities(pre, strategy, id2label, ignoreLabels);
      });
      // Batches of windows of similar length (the outputs stay in the windows' order).
    },
    (c) => c.w.inputIds.length,
  );
  return pieces.map((p) => {
    const entities = perWindow.filter((_, i) => flat[i]?.n === p.n).flat() as (TokenEntity | GroupedEntity)[];
    return (p.windows.length > 1 ? aggregateOverlappingEntities(entities) : entities) as
      TokenEntity[] | GroupedEntity[];
  });
}

/**
 * The encodings of one text: the text truncated to maxLength, or (with a stride) windows of maxLength - 2 word
 * pieces, each repeating the last `stride` pieces of the previous one, as HF's tokenizer overflow does.
 */
function tokenWindows(
  tok: PipelineTokenizer,
  text: string,
  maxLength: number,
  stride: number | undefined,
): PipelineEncoding[] {
  if (stride === undefined) return [tok.encode(text, null, maxLength)];
  const room = maxLength - 2;
  if (!Number.isInteger(stride) || stride < 0 || stride >= room) {
    throw new RangeError(`stride must be an integer in [0, ${room}) for windows of ${maxLength} tokens, got ${stride}`);
  }
  const { ids, offsets } = tok.tokenize(text);
  const windows: PipelineEncoding[] = [];
  for (let start = 0; ; start += room - stride) {
    const end = Math.min(start + room, ids.length);
    const n = end - start;
    windows.push({
      inputIds: [tok.clsId, ...ids.slice(start, end), tok.sepId],
      tokenTypeIds: new Array<number>(n + 2).fill(0),
      specialTokensMask: [1, ...new Array<number>(n).fill(0), 1],
      offsets: [[0, 0], ...offsets.slice(start, end), [0, 0]],
    });
    if (end >= ids.length) break;
  }
  return windows;
}

/**
 * HF's aggregate_overlapping_entities: entities of overlapping windows sorted by start; of two that overlap the
 * longer one stays (the higher score on equal lengths).
 */
export function aggregateOverlappingEntities<E extends { start: number; end: number; score: number }>(
  entities: E[],
): E[] {
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const first = sorted[0];
  if (first === undefined) return entities;
  const out: E[] = [];
  let previous = first;
  for (const entity of sorted) {
    if (previous.start <= entity.start && entity.start < previous.end) {
      const length = entity.end - entity.start;
      const previousLength = previous.end - previous.start;
      if (length > previousLength || (length === previousLength && entity.score > previous.score)) previous = entity;
    } else {
      out.push(previous);
      previous = entity;
    }
  }
  out.push(previous);
  return out;
}

export const tokenClassificationTask: TaskDefinition<
  { logits: Tensor },
  string,
  TokenEntity[] | GroupedEntity[],
  TokenClassificationCallOptions
> = {
  loadModel: (folder, options) => BertForTokenClassification.fromPretrained(folder, options),
  run: tokenClassification,
};
