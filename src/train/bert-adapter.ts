// Connects the BertFor* models to the Trainer: forward with loss under a trainer-chosen dropout seed, and eval loops.
import { flatten, type BertInputs } from '../model/inputs.js';
import type { ForwardOptions } from '../model/bert.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Parameter } from '../model/params.js';
import type { IndexedDataset } from '../data/samplers.js';
import type { LossTerm, TrainerModel, TrainerParameter } from './trainer.js';

/** The surface of a BertFor* model the adapter uses (every head has it). */
export interface BertHeadModel {
  readonly architecture: string;
  readonly seed: number;
  forward(
    inputs: BertInputs,
    options?: ForwardOptions,
  ): { loss?: number; logits?: Tensor; startLogits?: Tensor; endLogits?: Tensor };
  backward(): void;
  backwardReporting(ready: (byteOffset: number) => void): void;
  zeroGrad(): void;
  parameters(): Parameter[];
}

/**
 * What a head's loss is a mean over: the labels that are not -100 (class ids, token labels; every value of regression
 * and multi-label targets), or the examples for question answering (labelled by positions).
 */
function lossCount(batch: BertInputs): number {
  if (batch.labels !== undefined) {
    let n = 0;
    for (const v of flatten(batch.labels, 'labels').data) if (v !== -100) n++;
    return n;
  }
  if (batch.startPositions !== undefined) return flatten(batch.startPositions, 'startPositions').data.length;
  return flatten(batch.inputIds, 'inputIds').shape[0] ?? 1;
}

/** Wraps a BertFor* model for the Trainer. */
export function bertTrainerModel(model: BertHeadModel): TrainerModel<BertInputs> {
  const params: TrainerParameter[] = model
    .parameters()
    .map((p) => ({ name: p.name, shape: p.shape, data: p.data, grad: p.grad }));
  let lastTerm: LossTerm | null = null;
  return {
    forwardLoss(batch, train, forwardIndex, firstExample) {
      // The trainer's forward index (saved in the training state) picks this forward's dropout masks with the
      // model's seed, so a resumed run replays them; the first example's index makes them per example.
      const out = model.forward(batch, train ? { train, seed: forwardIndex, firstExample } : { train });
      if (out.loss === undefined)
        throw new Error(`${model.architecture}.forward returned no loss: the batch has no labels`);
      lastTerm = { loss: out.loss, count: lossCount(batch) };
      return out.loss;
    },
    lossTerms: () => {
      if (!lastTerm) throw new Error(`${model.architecture}: lossTerms before any forward`);
      return [lastTerm];
    },
    backward: (ready) => (ready ? model.backwardReporting(ready) : model.backward()),
    zeroGrad: () => model.zeroGrad(),
    parameters: () => params,
    seed: model.seed,
  };
}

/** The order predictBatches visits examples in: longest first when the data knows lengths (less padding), else as given. */
export function predictionOrder(data: { size: number; lengthOf?: (i: number) => number }): number[] {
  const order = Array.from({ length: data.size }, (_, i) => i);
  const lengthOf = data.lengthOf;
  if (lengthOf) order.sort((a, b) => lengthOf(b) - lengthOf(a) || a - b);
  return order;
}

/**
 * Runs the model in eval mode (no dropout) over a dataset and returns the logits of each batch with the example
 * indices it holds. When the dataset knows its lengths, examples are taken longest first so that batches hold
 * similar lengths (less padding, same results: padding is masked). With `shard`, only batches k with k mod size =
 * rank (the batches one process makes, so the same logits).
 */
export function* predictBatches(
  model: BertHeadModel,
  data: Pick<IndexedDataset<BertInputs>, 'size' | 'collate'> & { lengthOf?: (i: number) => number },
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
  shard: { rank: number; size: number } = { rank: 0, size: 1 },
): Generator<{
  /** The batch's number in the whole (length-sorted) order: rank k mod size computes batch k under sharding. */
  batch: number;
  indices: number[];
  inputs: BertInputs;
  logits: Tensor;
  startLogits?: Tensor;
  endLogits?: Tensor;
  loss?: number;
}> {
  const order = predictionOrder(data);
  for (let s = 0, k = 0; s < data.size; s += batchSize, k++) {
    if (k % shard.size !== shard.rank) continue;
    const indices = order.slice(s, s + batchSize);
    const inputs = data.collate(indices);
    const out = model.forward(inputs, { train: false, grad: false });
    const logits = out.logits ?? out.startLogits;
    if (!logits) throw new Error(`${model.architecture}: forward returned no logits`);
    yield { batch: k, indices, inputs, logits, startLogits: out.startLogits, endLogits: out.endLogits, loss: out.loss };
    onProgress?.(Math.min(s + batchSize, data.size), data.size);
  }
}
