// The fill-mask task: BertForMaskedLM's softmax over the vocabulary at each [MASK], the topK fills (or the
// probabilities of given targets), with the filled sequence decoded.
import { BertForMaskedLM } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import { InputError } from '../model/errors.js';
import { softmax, topKIndices } from './math.js';
import type { PipelineBase } from './pipeline.js';
import { dims, INFERENCE, inChunks, padBatch, type RunnerContext, type TaskDefinition } from './runner.js';
import type { FillMaskCallOptions, FillMaskResult, PipelineTokenizer, EitherSpelling } from './types.js';

export interface FillMaskPipeline extends PipelineBase<
  string,
  FillMaskResult[] | FillMaskResult[][],
  FillMaskCallOptions
> {
  /** One text: topK predictions (a list per [MASK] when there are several). */
  (input: string, options?: EitherSpelling<FillMaskCallOptions>): Promise<FillMaskResult[] | FillMaskResult[][]>;
  (inputs: string[], options?: EitherSpelling<FillMaskCallOptions>): Promise<(FillMaskResult[] | FillMaskResult[][])[]>;
}

/**
 * The topK fills of each [MASK]. Runnable from the repository root (real output of the shipped RoBERTa-mini):
 * ```ts
 * const unmask = await pipeline('fill-mask', 'assets/default-model');
 * await unmask('This movie was [MASK].', { topK: 2 });
 * // [{ score: 0.06162909952691764, token: 3185, token_str: 'movie', sequence: 'this movie was movie.' },
 * //  { score: 0.05949478938556897, token: 1012, token_str: '.', sequence: 'this movie was..' }]
 * ```
 */
export function fillMask(
  ctx: RunnerContext<{ logits: Tensor }>,
  inputs: string[],
  options: FillMaskCallOptions = {},
): (FillMaskResult[] | FillMaskResult[][])[] {
  const tok = ctx.tokenizer;
  const targetIds = options.targets === undefined ? null : targetsToIds(tok, options.targets);
  const topK = Math.min(options.topK ?? 5, targetIds?.length ?? Infinity);
  if (!(topK >= 1)) throw new RangeError(`topK must be at least 1, got ${options.topK}`);
  const encoded = inputs.map((text) => {
    const e = tok.encode(text, null, ctx.maxLength);
    if (!e.inputIds.includes(tok.maskId)) {
      throw new InputError(
        'fill-mask',
        `no mask token (${tok.maskToken}) found in the input "${text.slice(0, 80)}" (after truncation to ${ctx.maxLength} tokens)`,
      );
    }
    return e;
  });
  // Batches of texts of similar length (a list's outputs stay in its order).
  return inChunks(
    encoded,
    ctx.batchSize,
    (encodings) => {
      const { logits } = ctx.model.forward(padBatch(encodings, tok.padId), INFERENCE);
      const [, T, V] = dims(logits, 3, 'fill-mask logits');
      return encodings.map((e, b) => {
        const masks = e.inputIds.flatMap((id, t) => (id === tok.maskId ? [t] : []));
        const single = masks.length === 1;
        const rows = masks.map((t) => {
          // Softmax over the whole vocabulary, then (with targets) only the targets' probabilities, as HF.
          const probs = softmax(logits.data, (b * T + t) * V, V);
          const candidates = targetIds ? Float64Array.from(targetIds, (id) => probs[id] ?? 0) : probs;
          // k indexes `candidates`: a target's position, or a vocabulary id.
          return topKIndices(candidates, topK).map((k) => {
            const token = targetIds?.[k] ?? k;
            const filled = e.inputIds.slice();
            filled[t] = token;
            return {
              score: candidates[k]!,
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
        return single && rows[0] ? rows[0] : rows;
      });
    },
    (e) => e.inputIds.length,
  );
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
      const first = pieces[0];
      if (first === undefined) throw new Error(`the target "${word}" does not tokenize to any token`);
      id = first;
    }
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

export const fillMaskTask: TaskDefinition<
  { logits: Tensor },
  string,
  FillMaskResult[] | FillMaskResult[][],
  FillMaskCallOptions
> = {
  loadModel: (folder, options) => BertForMaskedLM.fromPretrained(folder, options),
  run: fillMask,
};
