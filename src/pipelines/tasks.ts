// The five task runners behind pipeline(): tokenization, batched forward passes, and HF's post-processing for
// text classification, fill-mask, token classification, question answering and feature extraction.
import type { BertConfig } from '../model/config.js';
import type { SentenceTransformer } from '../model/sentence/index.js';
import { PipelineInputError } from './errors.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  aggregateEntities,
  isSubwordPiece,
  type GroupedEntity,
  type PreEntity,
  type TokenEntity,
} from './aggregation.js';
import { normalizeL2, sigmoid, softmax, topKIndices } from './math.js';
import {
  buildWindows,
  decodeWindowSpans,
  rankAnswers,
  wordIdsFromTokens,
  type ContextTokens,
  type QaAnswer,
} from './qa.js';

/** Pipelines never back-propagate: layers share activation buffers. */
const INFERENCE = { grad: false } as const;
import type {
  FeatureExtractionCallOptions,
  FillMaskCallOptions,
  FillMaskResult,
  LabelScore,
  PipelineEncoding,
  PipelineTokenizer,
  QaInput,
  QuestionAnsweringCallOptions,
  TextClassificationCallOptions,
  TextInput,
  TokenClassificationCallOptions,
} from './types.js';

/** The inputs every BERT model takes, as shaped Int32 arrays. */
export interface ModelBatch {
  inputIds: { data: Int32Array; shape: number[] };
  attentionMask: { data: Int32Array; shape: number[] };
  tokenTypeIds: { data: Int32Array; shape: number[] };
}

/** The model surface a runner needs: a forward pass returning named tensors. */
export interface ForwardModel<O> {
  readonly config: BertConfig;
  forward(inputs: ModelBatch, options?: { grad?: boolean }): O;
}

/** Pads encodings to the longest of them (right padding, attention mask 0 on pads). */
export function padBatch(
  encodings: { inputIds: number[]; tokenTypeIds: number[] }[],
  padId: number,
): ModelBatch & { T: number } {
  const B = encodings.length;
  const T = Math.max(1, ...encodings.map((e) => e.inputIds.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const types = new Int32Array(B * T);
  encodings.forEach((e, b) => {
    for (let t = 0; t < e.inputIds.length; t++) {
      ids[b * T + t] = e.inputIds[t];
      mask[b * T + t] = 1;
      types[b * T + t] = e.tokenTypeIds[t];
    }
  });
  const shape = [B, T];
  return {
    inputIds: { data: ids, shape },
    attentionMask: { data: mask, shape },
    tokenTypeIds: { data: types, shape },
    T,
  };
}

/** Runs `fn` on consecutive slices of at most `size` items and concatenates the results. */
function inChunks<I, O>(items: I[], size: number, fn: (chunk: I[]) => O[]): O[] {
  const out: O[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...fn(items.slice(i, i + size)));
  return out;
}

function labelOf(config: BertConfig, id: number): string {
  return config.id2label[id] ?? `LABEL_${id}`;
}

/** Shared state of a runner: the model, the tokenizer and the length and batch limits. */
export interface RunnerContext<O> {
  model: ForwardModel<O>;
  tokenizer: PipelineTokenizer;
  maxLength: number;
  batchSize: number;
}

// ---------------------------------------------------------------------------------------------------------------
// text-classification

export function textClassification(
  ctx: RunnerContext<{ logits: Tensor }>,
  inputs: TextInput[],
  options: TextClassificationCallOptions = {},
): LabelScore[][] {
  const config = ctx.model.config;
  const numLabels = Object.keys(config.id2label).length;
  // HF's choice: regression -> none; multi-label or a single output -> sigmoid; otherwise softmax.
  const fn =
    options.functionToApply ??
    (config.problemType === 'regression'
      ? 'none'
      : config.problemType === 'multi_label_classification' || numLabels === 1
        ? 'sigmoid'
        : 'softmax');
  const topK = options.topK === null ? Infinity : (options.topK ?? 1);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1 (or null for every label), got ${options.topK}`);
  return inChunks(inputs, ctx.batchSize, (chunk) => {
    const encodings = chunk.map((input) => {
      const [text, pair] = typeof input === 'string' ? [input, null] : [input.text, input.text_pair ?? null];
      if (typeof text !== 'string')
        throw new PipelineInputError('a text-classification input must be a string or {text, text_pair}');
      return ctx.tokenizer.encode(text, pair, ctx.maxLength);
    });
    const { logits } = ctx.model.forward(padBatch(encodings, ctx.tokenizer.padId), INFERENCE);
    const L = logits.shape[1];
    return chunk.map((_, b) => {
      const row = logits.data.subarray(b * L, (b + 1) * L);
      const scores =
        fn === 'softmax' ? softmax(row) : fn === 'sigmoid' ? Float64Array.from(row, sigmoid) : Float64Array.from(row);
      return topKIndices(scores, Math.min(topK, L)).map((i) => ({ label: labelOf(config, i), score: scores[i] }));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// fill-mask

export function fillMask(
  ctx: RunnerContext<{ logits: Tensor }>,
  inputs: string[],
  options: FillMaskCallOptions = {},
): (FillMaskResult[] | FillMaskResult[][])[] {
  const tok = ctx.tokenizer;
  const targetIds = options.targets === undefined ? null : targetsToIds(tok, options.targets);
  const topK = Math.min(options.topK ?? 5, targetIds?.length ?? Infinity);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1, got ${options.topK}`);
  return inChunks(inputs, ctx.batchSize, (chunk) => {
    const encodings = chunk.map((text) => tok.encode(text, null, ctx.maxLength));
    encodings.forEach((e, i) => {
      if (!e.inputIds.includes(tok.maskId)) {
        throw new PipelineInputError(
          `no mask token (${tok.maskToken}) found in the input "${chunk[i].slice(0, 80)}" (after truncation to ${ctx.maxLength} tokens)`,
        );
      }
    });
    const { logits } = ctx.model.forward(padBatch(encodings, tok.padId), INFERENCE);
    const [, T, V] = logits.shape;
    return encodings.map((e, b) => {
      const masks = e.inputIds.flatMap((id, t) => (id === tok.maskId ? [t] : []));
      const single = masks.length === 1;
      const rows = masks.map((t) => {
        // Softmax over the whole vocabulary, then (with targets) only the targets' probabilities, as HF.
        const probs = softmax(logits.data, (b * T + t) * V, V);
        const candidates = targetIds ? Float64Array.from(targetIds, (id) => probs[id]) : probs;
        return topKIndices(candidates, topK).map((k) => {
          const token = targetIds ? targetIds[k] : k;
          const filled = e.inputIds.slice();
          filled[t] = token;
          return {
            score: candidates[k],
            token,
            token_str: tok.decode([token], false),
            // With several masks the other [MASK]s are kept in the sequence (HF skips special tokens only for one).
            sequence: tok.decode(
              filled.filter((id) => id !== tok.padId),
              single,
            ),
          };
        });
      });
      return single ? rows[0] : rows;
    });
  });
}

function targetsToIds(tok: PipelineTokenizer, targets: string | string[]): number[] {
  const list = typeof targets === 'string' ? [targets] : targets;
  if (list.length === 0) throw new Error('targets is empty: give at least one word');
  const ids: number[] = [];
  for (const word of list) {
    let id = tok.tokenToId(word);
    if (id === undefined) {
      // HF: a target outside the vocabulary is replaced by its first word piece (it warns; so do we, by name).
      const pieces = tok.tokenize(word).ids;
      if (pieces.length === 0) throw new Error(`the target "${word}" does not tokenize to any token`);
      id = pieces[0];
    }
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------------------------
// token-classification

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
  const perWindow = inChunks(flat, ctx.batchSize, (chunk) => {
    const { logits } = ctx.model.forward(
      padBatch(
        chunk.map((c) => c.w),
        tok.padId,
      ),
      INFERENCE,
    );
    const [, T, L] = logits.shape;
    return chunk.map(({ w: e, text }, b) => {
      const pre: PreEntity[] = [];
      e.inputIds.forEach((id, t) => {
        if (e.specialTokensMask[t]) return;
        const [start, end] = e.offsets[t];
        const isUnknown = id === tok.unkId;
        const token = tok.idToToken(id);
        const piece = isUnknown ? text.slice(start, end) : token;
        const isSubword = isSubwordPiece(token, text.slice(start, end), isUnknown);
        pre.push({ word: piece, scores: softmax(logits.data, (b * T + t) * L, L), start, end, index: t, isSubword });
      });
      return aggregateEntities(pre, strategy, id2label, ignoreLabels);
    });
  });
  return pieces.map((p) => {
    const entities = perWindow.filter((_, i) => flat[i].n === p.n).flat() as (TokenEntity | GroupedEntity)[];
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
  if (entities.length === 0) return entities;
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const out: E[] = [];
  let previous = sorted[0];
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

// ---------------------------------------------------------------------------------------------------------------
// question-answering

export function questionAnswering(
  ctx: RunnerContext<{ startLogits: Tensor; endLogits: Tensor }>,
  inputs: QaInput[],
  options: QuestionAnsweringCallOptions = {},
): QaAnswer[][] {
  const tok = ctx.tokenizer;
  const maxSeqLen = Math.min(options.maxSeqLen ?? 384, ctx.maxLength);
  const docStride = options.docStride ?? Math.min(128, Math.floor(maxSeqLen / 2));
  const maxAnswerLen = options.maxAnswerLen ?? 15;
  const topK = options.topK ?? 1;
  if (!(maxAnswerLen >= 1)) throw new RangeError(`maxAnswerLen must be at least 1, got ${options.maxAnswerLen}`);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1, got ${options.topK}`);
  // Every window of every input goes through the model in batches; answers are then ranked per input.
  const prepared = inputs.map((input, n) => {
    if (!input || typeof input.question !== 'string' || typeof input.context !== 'string') {
      throw new PipelineInputError(`question-answering input ${n} must be {question: string, context: string}`);
    }
    const question = tok.tokenize(input.question).ids;
    const ctxTokens = tok.tokenize(input.context);
    const context: ContextTokens = {
      ids: ctxTokens.ids,
      offsets: ctxTokens.offsets,
      wordIds: wordIdsFromTokens(ctxTokens.ids.map((id) => tok.idToToken(id))),
    };
    const windows = buildWindows(question, context, { cls: tok.clsId, sep: tok.sepId }, maxSeqLen, docStride);
    return { input, context, windows };
  });
  const flat = prepared.flatMap((p, n) => p.windows.map((w) => ({ n, w })));
  const decoded = inChunks(flat, ctx.batchSize, (chunk) => {
    const batch = padBatch(
      chunk.map(({ w }) => w),
      tok.padId,
    );
    const { startLogits, endLogits } = ctx.model.forward(batch, INFERENCE);
    const T = batch.T;
    return chunk.map(({ w }, b) => {
      const n = w.inputIds.length;
      return decodeWindowSpans(
        startLogits.data.subarray(b * T, b * T + n),
        endLogits.data.subarray(b * T, b * T + n),
        w.pMask,
        topK,
        maxAnswerLen,
      );
    });
  });
  return prepared.map((p, n) => {
    const perWindow = decoded.filter((_, i) => flat[i].n === n);
    return rankAnswers(p.input.context, p.context, p.windows, perWindow, topK, options.handleImpossibleAnswer ?? false);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// feature-extraction

/**
 * `sentence`: the folder's sentence-transformers modules (it has a modules.json), which pooling 'model' — the default
 * then — runs as sentence-transformers' encode does (its pooling, Dense layers, Normalize, max_seq_length).
 */
export function featureExtraction(
  ctx: RunnerContext<{ lastHiddenState: Tensor }>,
  inputs: string[],
  options: FeatureExtractionCallOptions = {},
  sentence: SentenceTransformer | null = null,
): (number[] | number[][])[] {
  const pooling = options.pooling ?? (sentence ? 'model' : 'none');
  if (!['none', 'cls', 'mean', 'model'].includes(pooling))
    throw new Error(`unknown pooling "${pooling}": use none, cls, mean or model`);
  if (pooling === 'model') {
    if (!sentence) throw new Error('pooling "model" needs a sentence-transformers folder (one with modules.json)');
    inputs.forEach((t, i) => {
      if (typeof t !== 'string') throw new PipelineInputError(`feature-extraction input ${i} must be a string`);
    });
    return sentence
      .encode(inputs, { batchSize: ctx.batchSize, normalize: options.normalize ?? false })
      .map((v) => Array.from(v));
  }
  return inChunks(inputs, ctx.batchSize, (chunk) => {
    const encodings = chunk.map((text) => ctx.tokenizer.encode(text, null, ctx.maxLength));
    const { lastHiddenState } = ctx.model.forward(padBatch(encodings, ctx.tokenizer.padId), INFERENCE);
    const [, T, H] = lastHiddenState.shape;
    const data = lastHiddenState.data;
    return encodings.map((e, b) => {
      const n = e.inputIds.length;
      const row = (t: number): number[] => Array.from(data.subarray((b * T + t) * H, (b * T + t + 1) * H));
      const finish = (v: number[]): number[] => (options.normalize ? normalizeL2(v) : v);
      if (pooling === 'cls') return finish(row(0));
      if (pooling === 'mean') {
        // Mean over the real tokens ([CLS] and [SEP] included, padding excluded), as sentence-transformers does.
        const mean = new Array<number>(H).fill(0);
        for (let t = 0; t < n; t++) for (let h = 0; h < H; h++) mean[h] += data[(b * T + t) * H + h];
        return finish(mean.map((x) => x / n));
      }
      return Array.from({ length: n }, (_, t) => finish(row(t)));
    });
  });
}
