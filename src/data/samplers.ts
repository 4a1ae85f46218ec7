// Samplers: the micro-batches a training run consumes, in a seeded order that a resume can seek back into.
import { Rng, permutation } from './rng.js';

/** Examples a sampler can index: sizes for length bucketing and a collate that pads to the longest of a batch. */
export interface IndexedDataset<B> {
  readonly size: number;
  /** Token length of example i (used for length bucketing and token counts). */
  lengthOf(i: number): number;
  /** A batch of the given examples, padded to the longest of them. */
  collate(indices: readonly number[]): B;
}

/**
 * Where a sampler stands: the epoch in progress (0-based) and how much of it is consumed, in the sampler's own unit
 * (batches for {@link EpochSampler}, instances for an instance stream). Saved in the training state.
 */
export interface SamplerPosition {
  epoch: number;
  offset: number;
}

/** Whether a position (from a training state, so untrusted) is whole numbers with 0 <= offset <= maxOffset. */
export function positionWithin(position: SamplerPosition, maxOffset: number): boolean {
  const { epoch, offset } = position;
  return Number.isInteger(epoch) && epoch >= 0 && Number.isInteger(offset) && offset >= 0 && offset <= maxOffset;
}

/** One micro-batch and what it holds. */
export interface SampledBatch<B> {
  batch: B;
  /** Examples (sequences) in the batch. */
  examples: number;
  /** Non-padding tokens in the batch. */
  tokens: number;
  /** True for the last batch of an epoch: gradient accumulation stops there, as HF's Trainer does. */
  lastOfEpoch: boolean;
}

/** This rank's share of a micro-batch under data parallelism: `batch` is null when the share is empty. */
export interface SampledShare<B> extends Omit<SampledBatch<B>, 'batch'> {
  batch: B | null;
  /** Examples in the whole micro-batch (all ranks together). */
  globalExamples: number;
  /** Index of this share's first example within the micro-batch (dropout masks are drawn per example). */
  firstExample: number;
}

/**
 * The contiguous share [start, end) of n items that `rank` of `size` takes: shares differ by at most one item and,
 * concatenated in rank order, give the n items in their order (so the ranks see what one process would).
 */
export function shareRange(n: number, rank: number, size: number): [number, number] {
  return [Math.floor((n * rank) / size), Math.floor((n * (rank + 1)) / size)];
}

/** A seeded, seekable source of micro-batches: what the Trainer consumes, for fine-tuning and pre-training alike. */
export interface Sampler<B> {
  next(): SampledBatch<B>;
  /**
   * Data parallelism: the batch `next()` would return, of which only this rank's {@link shareRange} is collated; the
   * position advances by the whole batch, as with `next()`.
   */
  nextShare?(rank: number, size: number): SampledShare<B>;
  /** The position after the last batch returned; `seek(position())` in a new process continues the same sequence. */
  position(): SamplerPosition;
  seek(position: SamplerPosition): void;
  /** Epochs consumed as a fraction (for progress and logs). */
  epochProgress(): number;
  /** Batches per epoch when epochs are cut into whole batches; undefined for a stream whose batches straddle epochs. */
  readonly batchesPerEpoch: number | undefined;
  /** What a resumed run must match to continue the same sequence (batch size, seed, data size, ...). */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** The batches (lists of example indices) of one epoch, seeded by (seed, epoch) so a resume can rebuild them. */
export function epochBatches(
  size: number,
  batchSize: number,
  seed: number,
  epoch: number,
  lengthOf?: (i: number) => number,
): number[][] {
  const rng = new Rng((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  const order = permutation(size, rng);
  const batches: number[][] = [];
  if (!lengthOf) {
    for (let i = 0; i < size; i += batchSize) batches.push(order.slice(i, i + batchSize));
    return batches;
  }
  // Bucketing: sort chunks of 50 batches by length, cut into batches, then shuffle the batch order (the
  // "megabatch" trick of HF's LengthGroupedSampler), so padding is small but the order is still random.
  const mega = batchSize * 50;
  for (let i = 0; i < size; i += mega) {
    const chunk = order.slice(i, i + mega).sort((a, b) => lengthOf(b) - lengthOf(a));
    for (let j = 0; j < chunk.length; j += batchSize) batches.push(chunk.slice(j, j + batchSize));
  }
  return rng.shuffle(batches);
}

export interface EpochSamplerOptions {
  batchSize: number;
  /** Seed of the example order (a new permutation each epoch). */
  seed: number;
  /** Group examples of similar length into batches (less padding), batches still in seeded random order. */
  lengthBucketing?: boolean;
}

/** Epochs over an indexed dataset: each a seeded permutation cut into batches ({@link epochBatches}). */
export class EpochSampler<B> implements Sampler<B> {
  readonly batchesPerEpoch: number;
  readonly settings: Readonly<Record<string, unknown>>;
  private epoch = 0;
  private offset = 0;
  private batches: number[][] | null = null;

  constructor(
    private readonly data: IndexedDataset<B>,
    private readonly options: EpochSamplerOptions,
  ) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0)
      throw new RangeError(`EpochSampler: batchSize must be a positive integer, got ${batchSize}`);
    if (data.size === 0) throw new RangeError('EpochSampler: the dataset is empty (no examples to train on)');
    this.batchesPerEpoch = Math.ceil(data.size / batchSize);
    this.settings = {
      batchSize,
      seed: options.seed,
      lengthBucketing: Boolean(options.lengthBucketing),
      trainExamples: data.size,
    };
  }

  private epochBatches(): number[][] {
    this.batches ??= epochBatches(
      this.data.size,
      this.options.batchSize,
      this.options.seed,
      this.epoch,
      this.options.lengthBucketing ? (i) => this.data.lengthOf(i) : undefined,
    );
    return this.batches;
  }

  private nextIndices(): { indices: number[]; lastOfEpoch: boolean } {
    const batches = this.epochBatches();
    const indices = batches[this.offset];
    if (indices === undefined) throw new Error(`EpochSampler: offset ${this.offset} is past the epoch's batches`);
    this.offset++;
    const lastOfEpoch = this.offset === batches.length;
    if (lastOfEpoch) this.seek({ epoch: this.epoch + 1, offset: 0 });
    return { indices, lastOfEpoch };
  }

  private tokensOf(indices: readonly number[]): number {
    let tokens = 0;
    for (const i of indices) tokens += this.data.lengthOf(i);
    return tokens;
  }

  next(): SampledBatch<B> {
    const { indices, lastOfEpoch } = this.nextIndices();
    return { batch: this.data.collate(indices), examples: indices.length, tokens: this.tokensOf(indices), lastOfEpoch };
  }

  nextShare(rank: number, size: number): SampledShare<B> {
    const { indices, lastOfEpoch } = this.nextIndices();
    const [first, end] = shareRange(indices.length, rank, size);
    const mine = indices.slice(first, end);
    return {
      firstExample: first,
      batch: mine.length > 0 ? this.data.collate(mine) : null,
      examples: mine.length,
      tokens: this.tokensOf(mine),
      globalExamples: indices.length,
      lastOfEpoch,
    };
  }

  position(): SamplerPosition {
    return { epoch: this.epoch, offset: this.offset };
  }

  seek(position: SamplerPosition): void {
    const { epoch, offset } = position;
    if (!positionWithin(position, this.batchesPerEpoch - 1))
      throw new RangeError(
        `EpochSampler: position (epoch ${epoch}, batch ${offset}) is outside the ${this.batchesPerEpoch} batches of an epoch`,
      );
    if (epoch !== this.epoch) this.batches = null;
    this.epoch = epoch;
    this.offset = offset;
  }

  epochProgress(): number {
    return this.epoch + this.offset / this.batchesPerEpoch;
  }
}
