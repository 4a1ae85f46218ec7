// ELECTRA replaced-token detection (Clark et al. 2020): a small generator (ElectraForMaskedLM) trained by MLM and a
// discriminator (ElectraForPreTraining) that tells, for every non-pad token, whether the generator replaced it;
// one joint loss, MLM + 50 x RTD, with the embeddings shared between the two (google-research/electra
// run_pretraining.py: the generator reads the discriminator's "electra/embeddings" scope).
//
// Sharing: the two models keep their own parameter stores (one encoder code, two configs); the embeddings
// (word, position and token-type tables and their LayerNorm: electra.embeddings.*) are trained once, as the
// discriminator's. Before each forward the generator's copy is set to the discriminator's values, and after backward
// the generator's gradients of those tables are added into the discriminator's: the same values and the same
// summed gradient as one tied tensor. The generator's MLM decoder is tied to its word embeddings, so it shares them
// too; its embeddings_project (embedding_size -> generator hidden) and everything above are its own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ElectraForMaskedLM, ElectraForPreTraining, type BertForMaskedLM } from '../model/bert.js';
import type { BertConfig, ConfigJson } from '../model/config.js';
import type { Kernels } from '../tensor/kernels.js';
import type { PretrainingBatch } from '../data/batching.js';
import type { PretrainingInstance } from '../data/pretraining.js';
import { Rng } from '../data/rng.js';
import type { TrainerModel, TrainerParameter } from './trainer.js';
import { argmaxCorrect, maskedLabels } from './pretrain-model.js';
import { mix } from './pretrain-stream.js';
import { sumOverBatches } from './pretrain-eval.js';

/** The embeddings the generator shares with the discriminator (not embeddings_project, which is per model). */
const SHARED_PREFIX = 'electra.embeddings.';
/** Parameter names of the generator in the joint parameter list (and the training state). */
const GENERATOR_PREFIX = 'generator.';

/**
 * The generator's config.json fields: the discriminator's with hidden size, heads and intermediate size scaled by
 * `fraction` (ELECTRA's generator_hidden_size; 1/4 in ELECTRA-Small), the same embeddings, depth and vocabulary.
 */
export function generatorConfig(discriminator: BertConfig, fraction: number): ConfigJson {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`generator size must be in (0, 1], got ${fraction}`);
  const d = discriminator.toJson();
  const hidden = Math.max(1, Math.round(discriminator.hiddenSize * fraction));
  const heads = Math.max(1, Math.round(discriminator.numAttentionHeads * fraction));
  if (hidden % heads !== 0)
    throw new RangeError(
      `generator size ${fraction}: hidden size ${hidden} is not a multiple of its ${heads} attention heads`,
    );
  return {
    ...d,
    hidden_size: hidden,
    num_attention_heads: heads,
    intermediate_size: Math.max(1, Math.round(discriminator.intermediateSize * fraction)),
    embedding_size: discriminator.embeddingSize,
    architectures: ['ElectraForMaskedLM'],
  };
}

/** Losses and counts of one joint forward. */
export interface ElectraStepOutput {
  /** mlmLoss + rtdWeight x rtdLoss. */
  loss: number;
  /** The generator's mean cross-entropy over the masked positions, and its argmax hits there. */
  mlmLoss: number;
  mlmCorrect: number;
  mlmCount: number;
  /** The discriminator's mean BCE over the non-pad tokens, its hits (logit > 0 = replaced) and the token count. */
  rtdLoss: number;
  rtdCorrect: number;
  rtdCount: number;
  /** Tokens the generator's sample changed, and how many of them the discriminator caught. */
  replaced: number;
  replacedCorrect: number;
  /** The discriminator's input ids [B * T] (the batch's tokens, the masked ones replaced by the samples). */
  discriminatorInput: Int32Array;
}

export interface ElectraForwardOptions {
  /** Dropout on (default true). */
  train?: boolean;
  /** Index of this training forward: dropout masks of both models and the samples (default 0). */
  forwardIndex?: number;
  /** Run-wide index of the batch's first example: masks and samples are drawn per example. */
  firstExample?: number;
  /** Seed of the samples (default: from the models' seed and forwardIndex). */
  sampleSeed?: number;
  /** The replacement ids at the masked positions (in flat-index order) instead of sampling them (tests). */
  replacements?: Int32Array;
}

/** One id drawn from softmax(logits[at .. at + V]) with a uniform draw u in [0, 1); `exps`: V floats of scratch. */
function sampleSoftmax(logits: Float32Array, at: number, V: number, u: number, exps: Float64Array): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[at + j]!);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += exps[j] = Math.exp(logits[at + j]! - max);
  let left = u * sum;
  for (let j = 0; j < V; j++) {
    left -= exps[j]!;
    if (left < 0) return j;
  }
  return V - 1;
}

/** The generator of a pair: ElectraForMaskedLM of `generatorSize` of the discriminator's width, seeded apart from it. */
function newGenerator(discriminator: ElectraForPreTraining, generatorSize: number, kernels: Kernels | undefined) {
  // seed + 1: the generator's initialisation and dropout masks are not the discriminator's.
  return new ElectraForMaskedLM(generatorConfig(discriminator.config, generatorSize), {
    kernels,
    seed: discriminator.seed + 1,
  });
}

/** A generator and a discriminator trained jointly, the embeddings shared. */
export class ElectraPretraining {
  /** Names of the shared parameters (the discriminator's own; the generator's copies follow them). */
  readonly shared: readonly string[];
  private readonly params: TrainerParameter[];

  constructor(
    readonly generator: BertForMaskedLM,
    readonly discriminator: ElectraForPreTraining,
    /** The weight of the RTD loss (ELECTRA's disc_weight, 50). */
    readonly rtdWeight = 50,
  ) {
    const d = discriminator.parameters();
    const g = generator.parameters();
    const gNames = new Map(g.map((p) => [p.name, p]));
    this.shared = d.filter((p) => p.name.startsWith(SHARED_PREFIX)).map((p) => p.name);
    for (const name of this.shared) {
      const gp = gNames.get(name);
      const dp = d.find((p) => p.name === name);
      if (!gp || !dp || gp.data.length !== dp.data.length)
        throw new RangeError(
          `ElectraPretraining: the generator's ${name} does not match the discriminator's (same embedding_size, vocabulary, positions and token types needed)`,
        );
    }
    const shared = new Set(this.shared);
    this.params = [
      ...d,
      ...g.filter((p) => !shared.has(p.name)).map((p) => ({ ...p, name: GENERATOR_PREFIX + p.name })),
    ];
  }

  /** A new pair: the discriminator from `config` (model_type electra), the generator `generatorSize` of its width. */
  static create(
    config: ConfigJson,
    options: { generatorSize?: number; rtdWeight?: number; kernels?: Kernels; seed?: number } = {},
  ): ElectraPretraining {
    const seed = options.seed ?? 0;
    const discriminator = new ElectraForPreTraining(
      { ...config, model_type: 'electra', architectures: ['ElectraForPreTraining'] },
      { kernels: options.kernels, seed },
    );
    const generator = newGenerator(discriminator, options.generatorSize ?? 0.25, options.kernels);
    const pair = new ElectraPretraining(generator, discriminator, options.rtdWeight);
    pair.syncGenerator();
    return pair;
  }

  /** The pair saved by {@link save}: the discriminator in `dir`, the generator in dir/generator (or a new one). */
  static async load(
    dir: string,
    options: { generatorSize?: number; rtdWeight?: number; kernels?: Kernels; seed?: number } = {},
  ): Promise<ElectraPretraining> {
    const seed = options.seed ?? 0;
    const discriminator = await ElectraForPreTraining.fromPretrained(dir, { kernels: options.kernels, seed });
    const genDir = join(dir, 'generator');
    const generator = existsSync(join(genDir, 'config.json'))
      ? await ElectraForMaskedLM.fromPretrained(genDir, { kernels: options.kernels, seed: seed + 1 })
      : newGenerator(discriminator, options.generatorSize ?? 0.25, options.kernels);
    const pair = new ElectraPretraining(generator, discriminator, options.rtdWeight);
    pair.syncGenerator();
    return pair;
  }

  /** The joint parameter list: the discriminator's, then the generator's own (named generator.*). */
  parameters(): TrainerParameter[] {
    return this.params;
  }

  /** Sets the generator's shared embeddings to the discriminator's values. */
  syncGenerator(): void {
    for (const name of this.shared) this.generator.store.view(name).set(this.discriminator.store.view(name));
  }

  zeroGrad(): void {
    this.generator.zeroGrad();
    this.discriminator.zeroGrad();
  }

  /**
   * The joint forward: the generator on the masked batch (MLM at the masked positions), a token sampled from its
   * softmax at each masked position (no gradient flows through the sample), the discriminator on the batch with
   * those tokens in place, labelled 1 where the sample differs from the original token.
   */
  forward(batch: PretrainingBatch, options: ElectraForwardOptions = {}): ElectraStepOutput {
    const train = options.train ?? true;
    const forwardIndex = options.forwardIndex ?? 0;
    const firstExample = options.firstExample ?? 0;
    const { B, T } = batch;
    const N = B * T;
    if (batch.maskedIndex.length === 0)
      throw new Error('ElectraPretraining: the batch has no masked positions (unmasked data needs dynamic masking)');
    this.syncGenerator();
    const dropout = train ? { seed: forwardIndex } : {};
    const labels = maskedLabels(batch);
    const shape = [B, T];
    const common = {
      tokenTypeIds: { data: batch.tokenTypeIds, shape },
      attentionMask: { data: batch.attentionMask, shape },
    };
    const g = this.generator.forward(
      { inputIds: { data: batch.inputIds, shape }, labels: { data: labels, shape }, ...common },
      { train, mlmLabeledOnly: true, firstExample, ...dropout },
    );
    const V = this.generator.config.vocabSize;
    // The generator's logits rows are the masked positions in flat-index order.
    const rows: number[] = [];
    for (let i = 0; i < N; i++) if (labels[i] !== -100) rows.push(i);
    const rowLabels = Int32Array.from(rows, (r) => labels[r]!);
    const mlmCorrect = argmaxCorrect(g.logits.data, V, rowLabels, (k) => k);
    const input = batch.inputIds.slice();
    const rtdLabels = new Float32Array(N);
    const sampleSeed = options.sampleSeed ?? mix(this.discriminator.seed, 0xe1ec7a, forwardIndex);
    let rng = new Rng(0);
    let rngRow = -1;
    let replaced = 0;
    const exps = new Float64Array(options.replacements ? 0 : V);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      let id: number;
      if (options.replacements) {
        const given = options.replacements[k];
        if (given === undefined)
          throw new RangeError(`ElectraPretraining: ${rows.length} masked positions, ${k} replacements given`);
        id = given;
      } else {
        const b = Math.floor(r / T);
        // One generator per example (seeded by its run-wide index), so a sample does not depend on the batching.
        if (b !== rngRow) {
          rng = new Rng(mix(sampleSeed, firstExample + b));
          rngRow = b;
        }
        id = sampleSoftmax(g.logits.data, k * V, V, rng.next(), exps);
      }
      input[r] = id;
      if (id !== rowLabels[k]) {
        rtdLabels[r] = 1;
        replaced++;
      }
    }
    const d = this.discriminator.forward(
      { inputIds: { data: input, shape }, labels: { data: rtdLabels, shape }, ...common },
      { train, firstExample, ...dropout },
    );
    if (g.loss === undefined || d.loss === undefined)
      throw new Error('ElectraPretraining: a model returned no loss for a labelled batch');
    this.discriminator.scaleLossGradient(this.rtdWeight);
    let rtdCorrect = 0;
    let rtdCount = 0;
    let replacedCorrect = 0;
    for (let i = 0; i < N; i++) {
      if (batch.attentionMask[i] === 0) continue;
      rtdCount++;
      const hit = d.logits.data[i]! > 0 === (rtdLabels[i] === 1);
      if (hit) rtdCorrect++;
      if (hit && rtdLabels[i] === 1) replacedCorrect++;
    }
    return {
      loss: g.loss + this.rtdWeight * d.loss,
      mlmLoss: g.loss,
      mlmCorrect,
      mlmCount: rows.length,
      rtdLoss: d.loss,
      rtdCorrect,
      rtdCount,
      replaced,
      replacedCorrect,
      discriminatorInput: input,
    };
  }

  /** Back-propagates the last joint loss; the generator's gradient of the shared embeddings goes to the discriminator's. */
  backward(): void {
    this.discriminator.backward();
    this.generator.backward();
    const k = this.discriminator.kernels;
    for (const name of this.shared) {
      const from = this.generator.store.gradView(name);
      k.add(this.discriminator.store.gradView(name), from, from.length);
      from.fill(0);
    }
  }

  /** Writes the discriminator (ElectraForPreTraining) to `dir` and the generator (ElectraForMaskedLM) to dir/generator. */
  async save(dir: string): Promise<void> {
    this.syncGenerator();
    await this.discriminator.save(dir);
    await this.generator.save(join(dir, 'generator'));
  }

  /** The pair for the Trainer (one process: its loss terms are not split over ranks). */
  trainerModel(): TrainerModel<PretrainingBatch> {
    return {
      forwardLoss: (batch, train, forwardIndex, firstExample) =>
        this.forward(batch, { train, forwardIndex, firstExample }).loss,
      backward: () => this.backward(),
      zeroGrad: () => this.zeroGrad(),
      parameters: () => this.params,
      seed: this.discriminator.seed,
    };
  }
}

export interface ElectraEvaluation {
  /** The generator's MLM loss and accuracy at the masked positions. */
  mlm_loss: number;
  mlm_accuracy: number;
  /** The discriminator's BCE and accuracy over every non-pad token. */
  rtd_loss: number;
  rtd_accuracy: number;
  /** Share of tokens the generator replaced, and the discriminator's accuracy on those. */
  rtd_replaced_fraction: number;
  rtd_replaced_accuracy: number;
  instances: number;
}

/** Held-out ELECTRA metrics (dropout off, samples seeded by `seed` and the batch number, the same every evaluation). */
export function evaluateElectra(
  pair: ElectraPretraining,
  instances: readonly PretrainingInstance[],
  batchSize: number,
  padId: number,
  seed: number,
): ElectraEvaluation {
  const s = sumOverBatches(instances, batchSize, padId, 9, (batch, k) => {
    const o = pair.forward(batch, { train: false, sampleSeed: mix(seed, 0xe7a1, k) });
    return [
      o.mlmLoss * o.mlmCount,
      o.mlmCorrect,
      o.mlmCount,
      o.rtdLoss * o.rtdCount,
      o.rtdCorrect,
      o.rtdCount,
      o.replaced,
      o.replacedCorrect,
      batch.B,
    ];
  });
  const at = (j: number): number => s[j] ?? 0;
  return {
    mlm_loss: at(0) / at(2),
    mlm_accuracy: at(1) / at(2),
    rtd_loss: at(3) / at(5),
    rtd_accuracy: at(4) / at(5),
    rtd_replaced_fraction: at(6) / at(5),
    rtd_replaced_accuracy: at(7) / Math.max(1, at(6)),
    instances: at(8),
  };
}
