// Task head layers (MLM prediction head with the tied decoder, linear classifiers) and the HF loss functions,
// forward and backward side by side.
import type { Activation, DropoutSpec, Kernels } from '../tensor/kernels.js';
import type { BertConfig } from './config.js';
import type { ParamRef, ParamScope, WeightBias } from './params.js';
import { InputError } from './errors.js';
import type { ParameterStore, ParamSpec } from './params.js';

/**
 * The module names of an MLM head under its scope, and its activation: each family names the same layers
 * (dense → activation → LayerNorm → decoder tied to the word embeddings, + bias) its own way.
 */
export interface LMHeadLayout {
  dense: string;
  norm: string;
  /** The decoder's module name; its weight is an alias of the word embeddings. */
  decoder: string;
  /** The head's own bias when it is a separate parameter that the decoder's bias aliases (BERT, RoBERTa), else null. */
  bias: string | null;
  /** The activation (BERT and DistilBERT: hidden_act; RoBERTa and ELECTRA's generator: gelu). */
  activation: Activation;
  /** Which biases exist (default all): ModernBERT's classifier_bias, norm_bias, decoder_bias. */
  biases?: HeadBiases;
}

/** Whether a head's dense layer, LayerNorm and output (decoder, classifier) have biases. */
export interface HeadBiases {
  dense: boolean;
  norm: boolean;
  out: boolean;
}

const ALL_BIASES: HeadBiases = { dense: true, norm: true, out: true };

/**
 * modeling_bert.py BertOnlyMLMHead / BertLMPredictionHead under `cls.predictions`: transform (dense → activation →
 * LayerNorm), then the decoder tied to the word embeddings, + bias. Also, by `layout`, modeling_roberta.py
 * RobertaLMHead (`lm_head`), DistilBertForMaskedLM's vocab_transform / vocab_layer_norm / vocab_projector and
 * ElectraForMaskedLM's generator_predictions + generator_lm_head (width embedding_size).
 */
export class LMHead {
  private readonly denseW: ParamRef;
  private readonly denseB: ParamRef;
  private readonly lnW: ParamRef;
  private readonly lnB: ParamRef;
  private readonly decoderW: ParamRef;
  private readonly decoderB: ParamRef;
  private n = 0;
  private pre = new Float32Array(0);
  private act = new Float32Array(0);
  private lnMean = new Float32Array(0);
  private lnRstd = new Float32Array(0);
  private t = new Float32Array(0);
  /** Logits of the last forward in the first n * V values (the buffer may be longer). */
  logits = new Float32Array(0);
  private dLogitsBuf = new Float32Array(0);
  private dT = new Float32Array(0);
  private dX = new Float32Array(0);
  private x: Float32Array = new Float32Array(0);

  private readonly activation: Activation;
  /** The width of the transform's output and of the decoder's input (embedding_size). */
  private readonly E: number;

  /**
   * Declares the head under `vb` (`cls.predictions` with BERT's default layout, the root for the others);
   * `wordEmbeddings` is the backbone's, tied.
   */
  constructor(
    private readonly config: BertConfig,
    vb: ParamScope,
    wordEmbeddings: ParamRef,
    private readonly kernels: Kernels,
    layout: LMHeadLayout = {
      dense: 'transform.dense',
      norm: 'transform.LayerNorm',
      decoder: 'decoder',
      bias: 'bias',
      activation: config.activation,
    },
  ) {
    const H = config.hiddenSize,
      E = (this.E = config.embeddingSize);
    this.activation = layout.activation;
    // HF's state dict lists the head's own bias first; the decoder weight and bias are other names of the word
    // embeddings and of that bias (HF ties them), so their gradients add up in one place.
    const biases = layout.biases ?? ALL_BIASES;
    const ownBias = layout.bias !== null ? vb.param(layout.bias, [config.vocabSize]) : null;
    const dense = vb.linear(layout.dense, E, H, biases.dense);
    const ln = vb.layerNorm(layout.norm, E, biases.norm);
    this.denseW = dense.weight;
    this.denseB = dense.bias;
    this.lnW = ln.weight;
    this.lnB = ln.bias;
    this.decoderW = wordEmbeddings;
    vb.alias(`${layout.decoder}.weight`, wordEmbeddings);
    if (ownBias) vb.alias(`${layout.decoder}.bias`, ownBias);
    const decoder = vb.pp(layout.decoder);
    this.decoderB =
      ownBias ?? (biases.out ? decoder.param('bias', [config.vocabSize]) : decoder.absent('bias', config.vocabSize));
  }

  /** Buffers grow to the largest row count seen and are reused (row counts vary when only labelled rows run). */
  private ensure(n: number): void {
    this.n = n;
    if (this.lnMean.length >= n) return;
    const H = this.config.hiddenSize,
      E = this.E,
      V = this.config.vocabSize;
    this.pre = new Float32Array(n * E);
    this.act = new Float32Array(n * E);
    this.lnMean = new Float32Array(n);
    this.lnRstd = new Float32Array(n);
    this.t = new Float32Array(n * E);
    this.logits = new Float32Array(n * V);
    this.dLogitsBuf = new Float32Array(0);
    this.dT = new Float32Array(n * Math.max(H, E));
    this.dX = new Float32Array(n * Math.max(H, E));
  }

  /** [N, V] gradient of the loss w.r.t. the logits, filled by the loss; allocated on first use (inference never needs it). */
  get dLogits(): Float32Array {
    if (this.dLogitsBuf.length < this.logits.length) this.dLogitsBuf = new Float32Array(this.logits.length);
    return this.dLogitsBuf;
  }

  /** x [n, H] → logits [n, V] (this.logits). */
  forward(x: Float32Array, n: number): Float32Array {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize,
      E = this.E;
    this.ensure(n);
    this.x = x;
    k.linearForward(x, this.denseW.w, this.denseB.w, this.pre, n, E, H);
    k.activationForward(this.activation, this.pre, this.act, n * E);
    k.layerNormForward(this.act, this.lnW.w, this.lnB.w, this.t, this.lnMean, this.lnRstd, n, E, c.layerNormEps);
    k.linearForward(this.t, this.decoderW.w, this.decoderB.w, this.logits, n, c.vocabSize, E);
    return this.logits;
  }

  /** Back-propagates this.dLogits; returns d(x) [n, H] (a reused buffer). */
  backward(): Float32Array {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize,
      E = this.E,
      n = this.n;
    k.linearBackward(
      this.dLogits,
      this.t,
      this.decoderW.w,
      this.dT,
      this.decoderW.g,
      this.decoderB.g,
      n,
      c.vocabSize,
      E,
    );
    // dT → d(act) through LayerNorm (into dX as scratch), then through the activation in place.
    k.layerNormBackward(this.dT, this.act, this.lnW.w, this.lnMean, this.lnRstd, this.dX, this.lnW.g, this.lnB.g, n, E);
    k.activationBackward(this.activation, this.pre, this.dX, this.dX, n * E);
    k.linearBackward(this.dX, this.x, this.denseW.w, this.dT, this.denseW.g, this.denseB.g, n, E, H);
    return this.dT;
  }
}

/**
 * Optional dropout, then nn.Linear: modeling_bert.py's `classifier` (sequence / token / multiple choice),
 * BertOnlyNSPHead's `seq_relationship` and the `qa_outputs` of question answering.
 */
export class LinearHead implements ClassifierHead {
  private readonly w: ParamRef;
  private readonly b: ParamRef;
  private m = 0;
  private xd = new Float32Array(0);
  /** [m, out] logits of the last forward. */
  logits = new Float32Array(0);
  /** [m, out] gradient of the loss w.r.t. the logits, filled by the loss. */
  dLogits = new Float32Array(0);
  private dX = new Float32Array(0);
  private drop: DropoutSpec | null = null;
  private exampleSize = 1;

  /** Declares nn.Linear(inDim, out) named `name` under `vb` (`classifier`, `cls.seq_relationship`, `qa_outputs`). */
  constructor(
    vb: ParamScope,
    name: string,
    readonly out: number,
    readonly inDim: number,
    private readonly kernels: Kernels,
    bias = true,
  ) {
    const linear = vb.linear(name, out, inDim, bias);
    this.w = linear.weight;
    this.b = linear.bias;
  }

  /** `rowsPerExample`: rows of x that belong to one example (token classification: T), for per-example dropout. */
  forward(x: Float32Array, m: number, dropout: DropoutSpec | null, rowsPerExample = 1): Float32Array {
    if (this.m !== m) {
      this.m = m;
      this.xd = new Float32Array(m * this.inDim);
      this.logits = new Float32Array(m * this.out);
      this.dLogits = new Float32Array(m * this.out);
      this.dX = new Float32Array(m * this.inDim);
    }
    this.drop = dropout;
    this.exampleSize = rowsPerExample * this.inDim;
    if (dropout) this.kernels.dropoutForward(x, this.xd, m * this.inDim, this.exampleSize, dropout);
    else this.xd.set(x.subarray(0, m * this.inDim));
    this.kernels.linearForward(this.xd, this.w.w, this.b.w, this.logits, m, this.out, this.inDim);
    return this.logits;
  }

  /** Back-propagates this.dLogits; returns d(x) [m, inDim] (a reused buffer). */
  backward(): Float32Array {
    const k = this.kernels;
    k.linearBackward(this.dLogits, this.xd, this.w.w, this.dX, this.w.g, this.b.g, this.m, this.out, this.inDim);
    if (this.drop) k.dropoutBackward(this.dX, this.dX, this.m * this.inDim, this.exampleSize, this.drop);
    return this.dX;
  }
}

/** What the models' classification heads share: logits of the last forward, their gradient, and backward. */
export interface ClassifierHead {
  /**
   * x [m, inDim] → logits [m, out]; `dropout` is the classifier dropout of this forward (null in eval), drawn per
   * example of `rowsPerExample` rows (default 1).
   */
  forward(x: Float32Array, m: number, dropout: DropoutSpec | null, rowsPerExample?: number): Float32Array;
  /** Back-propagates dLogits; returns d(x) [m, inDim] (a reused buffer). */
  backward(): Float32Array;
  readonly dLogits: Float32Array;
}

/** The module names and activation of a {@link DenseClassifierHead}. */
export interface DenseClassifierLayout {
  dense: string;
  activation: Activation;
  out: string;
  /** Dropout before the dense layer too (RoBERTa's and ELECTRA's heads; DistilBERT's pre_classifier has none). */
  dropoutFirst: boolean;
  /** A LayerNorm after the activation (ModernBertPredictionHead's norm), else none. */
  norm?: string;
  /** Which biases exist (default all; ModernBERT: classifier_bias, norm_bias, and the classifier always). */
  biases?: HeadBiases;
}

/**
 * [dropout →] dense → activation [→ LayerNorm] → dropout → out, on the first token: modeling_roberta.py
 * RobertaClassificationHead (classifier.dense, tanh, classifier.out_proj), modeling_electra.py
 * ElectraClassificationHead (the same with gelu), DistilBertForSequenceClassification's pre_classifier, ReLU,
 * classifier; on the pooled or every token, ModernBERT's head (dense, classifier_activation, norm), drop, classifier.
 */
export class DenseClassifierHead implements ClassifierHead {
  private readonly dense: WeightBias;
  private readonly norm: WeightBias | null;
  private readonly output: LinearHead;
  private m = 0;
  private xd = new Float32Array(0);
  private pre = new Float32Array(0);
  private act = new Float32Array(0);
  private normed = new Float32Array(0);
  private mean = new Float32Array(0);
  private rstd = new Float32Array(0);
  private dNorm = new Float32Array(0);
  private dX = new Float32Array(0);
  private drop: DropoutSpec | null = null;
  private exampleSize = 1;

  constructor(
    vb: ParamScope,
    private readonly layout: DenseClassifierLayout,
    out: number,
    private readonly H: number,
    private readonly kernels: Kernels,
    private readonly eps = 1e-12,
  ) {
    const biases = layout.biases ?? ALL_BIASES;
    this.dense = vb.linear(layout.dense, H, H, biases.dense);
    this.norm = layout.norm ? vb.layerNorm(layout.norm, H, biases.norm) : null;
    this.output = new LinearHead(vb, layout.out, out, H, kernels, biases.out);
  }

  get dLogits(): Float32Array {
    return this.output.dLogits;
  }

  /**
   * `dropout` is applied at both sites, under two seeds derived from its one; `rowsPerExample` rows of x belong to
   * one example (1: a summary row; token classification: T).
   */
  forward(x: Float32Array, m: number, dropout: DropoutSpec | null, rowsPerExample = 1): Float32Array {
    const k = this.kernels,
      H = this.H;
    if (this.m !== m) {
      this.m = m;
      this.xd = new Float32Array(m * H);
      this.pre = new Float32Array(m * H);
      this.act = new Float32Array(m * H);
      this.dX = new Float32Array(m * H);
      if (this.norm) {
        this.normed = new Float32Array(m * H);
        this.mean = new Float32Array(m);
        this.rstd = new Float32Array(m);
        this.dNorm = new Float32Array(m * H);
      }
    }
    this.exampleSize = rowsPerExample * H;
    this.drop = dropout && this.layout.dropoutFirst ? dropout : null;
    if (this.drop) k.dropoutForward(x, this.xd, m * H, this.exampleSize, this.drop);
    else this.xd.set(x.subarray(0, m * H));
    k.linearForward(this.xd, this.dense.weight.w, this.dense.bias.w, this.pre, m, H, H);
    k.activationForward(this.layout.activation, this.pre, this.act, m * H);
    const n = this.norm;
    if (n) k.layerNormForward(this.act, n.weight.w, n.bias.w, this.normed, this.mean, this.rstd, m, H, this.eps);
    const second = dropout ? { ...dropout, seed: (dropout.seed ^ 0x9e3779b9) >>> 0 } : null;
    return this.output.forward(n ? this.normed : this.act, m, second, rowsPerExample);
  }

  backward(): Float32Array {
    const k = this.kernels,
      H = this.H,
      m = this.m;
    let dAct = this.output.backward();
    const n = this.norm;
    if (n) {
      k.layerNormBackward(dAct, this.act, n.weight.w, this.mean, this.rstd, this.dNorm, n.weight.g, n.bias.g, m, H);
      dAct = this.dNorm;
    }
    k.activationBackward(this.layout.activation, this.pre, dAct, dAct, m * H);
    k.linearBackward(dAct, this.xd, this.dense.weight.w, this.dX, this.dense.weight.g, this.dense.bias.g, m, H, H);
    if (this.drop) k.dropoutBackward(this.dX, this.dX, m * H, this.exampleSize, this.drop);
    return this.dX;
  }
}

/** nn.CrossEntropyLoss (mean over rows whose label is not ignoreIndex); fills dlogits. NaN when no row counts, as torch. */
export function crossEntropyLoss(
  k: Kernels,
  logits: Float32Array,
  labels: Int32Array,
  n: number,
  c: number,
  ignoreIndex: number,
  dlogits: Float32Array,
  weight = 1,
): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (l === ignoreIndex) continue;
    if (!(l >= 0 && l < c))
      throw new InputError(
        '',
        `label ${l} at position ${i} is outside [0, ${c}) (use ${ignoreIndex} to ignore a position)`,
      );
    count++;
  }
  if (count === 0) {
    dlogits.fill(0, 0, n * c);
    return NaN;
  }
  const { lossSum } = k.softmaxCrossEntropy(logits, labels, n, c, ignoreIndex, dlogits, weight / count);
  return lossSum / count;
}

/** nn.MSELoss (mean); dlogits = 2 (x - y) / n. */
export function mseLoss(logits: Float32Array, labels: Float32Array, n: number, dlogits: Float32Array): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = logits[i]! - labels[i]!;
    s += d * d;
    dlogits[i] = (2 * d) / n;
  }
  return s / n;
}

/** nn.BCEWithLogitsLoss (mean), in the numerically stable form torch uses. */
export function bceWithLogitsLoss(
  logits: Float32Array,
  labels: Float32Array,
  n: number,
  dlogits: Float32Array,
): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i]!,
      y = labels[i]!;
    s += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    const sig = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    dlogits[i] = (sig - y) / n;
  }
  return s / n;
}
