// Pre-training's sampler: the instances of a shard folder in a seeded order, epoch after epoch, in micro-batches.
import { join } from 'node:path';
import { Rng } from '../data/rng.js';
import { collatePretraining, type PretrainingBatch } from '../data/batching.js';
import {
  maskDynamically,
  type MaskingOptions,
  type PretrainingInstance,
  type PretrainingVocab,
} from '../data/pretraining.js';
import { readDatasetManifest, readShard, type PretrainingDatasetManifest } from '../data/shards.js';
import {
  positionWithin,
  shareRange,
  type SampledBatch,
  type SampledShare,
  type Sampler,
  type SamplerPosition,
} from '../data/samplers.js';

/** Mixes numbers into a 32-bit seed. */
export function mix(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
  }
  return h;
}

export interface PretrainingStreamOptions {
  /** Seed of the shard and instance order (and of dynamic masks). */
  seed: number;
  vocab: PretrainingVocab;
  /** Masking of a dynamic-masking dataset (its own settings; ignored for pre-masked data). */
  masking: MaskingOptions;
  /** Instances per micro-batch (what {@link PretrainingStream.next} returns). */
  batchSize: number;
}

/**
 * Instances of a dataset folder in a seeded order, epoch after epoch: shard order shuffled per epoch, one shard in
 * memory at a time with its instances shuffled. The position is (epoch, instances consumed in the epoch), which is
 * all a training state needs to continue exactly. Dynamic-masking datasets are masked here, anew each epoch.
 * Micro-batches run on across epoch ends (an epoch is not a whole number of batches).
 */
export class PretrainingStream implements Sampler<PretrainingBatch> {
  readonly manifest: PretrainingDatasetManifest;
  readonly batchesPerEpoch = undefined;
  readonly settings: Readonly<Record<string, unknown>>;
  private epoch = 0;
  /** Instances consumed in the current epoch. */
  private consumed = 0;
  private order: number[] = [];
  private shardCursor = 0;
  private loadedCursor = -1;
  private pendingOffset = 0;
  private current: PretrainingInstance[] = [];
  private perm: number[] = [];
  private offsetInShard = 0;
  private readonly shardBase: number[] = [];

  constructor(
    readonly dir: string,
    private readonly options: PretrainingStreamOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize <= 0)
      throw new RangeError(`PretrainingStream: batchSize must be a positive integer, got ${options.batchSize}`);
    this.manifest = readDatasetManifest(dir);
    let base = 0;
    for (const s of this.manifest.shards) {
      this.shardBase.push(base);
      base += s.instances;
    }
    if (base === 0) throw new Error(`${dir}: the dataset holds no instances`);
    this.settings = { batchSize: options.batchSize, seed: options.seed, dataInstances: this.manifest.instances };
    this.seek({ epoch: 0, offset: 0 });
  }

  get instancesPerEpoch(): number {
    return this.manifest.instances;
  }

  position(): SamplerPosition {
    return { epoch: this.epoch, offset: this.consumed };
  }

  /** Moves to (epoch, instances consumed in it); a fresh start is (0, 0). */
  seek(position: SamplerPosition): void {
    const { epoch, offset } = position;
    if (!positionWithin(position, this.instancesPerEpoch))
      throw new RangeError(
        `${this.dir}: position (epoch ${epoch}, instance ${offset}) is outside the ${this.instancesPerEpoch} instances of an epoch`,
      );
    this.epoch = epoch;
    this.consumed = offset;
    const shards = this.manifest.shards;
    this.order = new Rng(mix(this.options.seed, epoch, 1)).shuffle(shards.map((_, i) => i));
    let left = offset;
    let k = 0;
    for (; k < this.order.length; k++) {
      const n = shards[this.order[k] ?? 0]?.instances ?? 0;
      if (left < n) break;
      left -= n;
    }
    this.shardCursor = k;
    this.loadedCursor = -1;
    this.pendingOffset = left;
  }

  epochProgress(): number {
    return this.epoch + this.consumed / this.instancesPerEpoch;
  }

  /** The next instance (masked anew each epoch when the dataset uses dynamic masking). */
  nextInstance(): PretrainingInstance {
    for (;;) {
      if (this.shardCursor >= this.order.length) {
        this.seek({ epoch: this.epoch + 1, offset: 0 });
        continue;
      }
      if (this.loadedCursor !== this.shardCursor) {
        const shard = this.manifest.shards[this.order[this.shardCursor] ?? -1];
        if (!shard) throw new Error(`${this.dir}: shard order out of range (corrupt dataset.json?)`);
        const s = this.order[this.shardCursor] ?? 0;
        this.current = [...readShard(join(this.dir, shard.file))];
        this.perm = new Rng(mix(this.options.seed, this.epoch, 2, s)).shuffle(this.current.map((_, i) => i));
        this.loadedCursor = this.shardCursor;
        this.offsetInShard = this.pendingOffset;
        this.pendingOffset = 0;
      }
      if (this.offsetInShard < this.current.length) break;
      this.shardCursor++;
    }
    const s = this.order[this.shardCursor] ?? 0;
    const idx = this.perm[this.offsetInShard] ?? 0;
    this.offsetInShard++;
    this.consumed++;
    const inst = this.current[idx];
    if (!inst) throw new Error(`${this.dir}: shard ${s} has fewer instances than its permutation`);
    if (this.manifest.masking === 'dynamic') {
      const index = (this.shardBase[s] ?? 0) + idx;
      return maskDynamically(inst, this.options.vocab, this.options.masking, this.options.seed, this.epoch, index);
    }
    return inst;
  }

  next(): SampledBatch<PretrainingBatch> {
    const { batch, ...rest } = this.nextShare(0, 1);
    if (!batch) throw new Error('PretrainingStream: an empty micro-batch (batchSize is positive, so this is a bug)');
    return { batch, ...rest };
  }

  nextShare(rank: number, size: number): SampledShare<PretrainingBatch> {
    // Every rank draws (and masks) every instance of the batch, so the stream's state stays the same on all ranks.
    const instances: PretrainingInstance[] = [];
    for (let i = 0; i < this.options.batchSize; i++) instances.push(this.nextInstance());
    const [first, end] = shareRange(instances.length, rank, size);
    const mine = instances.slice(first, end);
    let tokens = 0;
    for (const x of mine) tokens += x.inputIds.length;
    return {
      firstExample: first,
      batch: mine.length > 0 ? collatePretraining(mine, this.options.vocab.padId) : null,
      examples: mine.length,
      tokens,
      globalExamples: instances.length,
      lastOfEpoch: this.consumed === this.instancesPerEpoch,
    };
  }
}
