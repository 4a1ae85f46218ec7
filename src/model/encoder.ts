// The BERT backbone (embeddings, self-attention, attention output, intermediate, output, layer, encoder, pooler):
// each part's forward and backward side by side, over the flat parameter buffer and activations allocated per shape.
import type { DropoutSpec, Kernels, LinearSizes } from '../tensor/kernels.js';
import { dropoutHash } from '../tensor/kernels.js';
import type { BertConfig } from './config.js';
import { familyOf, paddingOffsetPositions } from './family.js';
import type { Family, LayerNames } from './family.js';
import { ModelLinears, quantizeForStorage } from './linear-dtype.js';
import type { ModelDtype, QuantizedWeight } from './linear-dtype.js';
import { ParamTable } from './params.js';
import type { ParamRef, ParamScope, WeightBias } from './params.js';
import { jsKernels } from '../tensor/js-kernels.js';
import {
  declarePreLnLayer,
  preLnActs,
  preLnLayerBackward,
  preLnLayerForward,
  preLnLayerRefs,
  bandScratchSize,
  packingOf,
  rotaryTable,
} from './pre-ln-block.js';
import type { BlockContext, Packing, PreLnActs, PreLnLayerParams, RotaryTable } from './pre-ln-block.js';
import { firstQueryAttentionForward, fusedQkvAttentionBackward, fusedQkvAttentionForward } from './fused-attention.js';

/**
 * modeling_bert.py BertEmbeddings: word, position and token type embeddings, then LayerNorm (and dropout), all of
 * width embedding_size; DistilBERT's Embeddings have no token types; ELECTRA projects to hidden_size after them
 * (modeling_electra.py ElectraModel.embeddings_project, when embedding_size != hidden_size); ModernBERT's have only
 * tok_embeddings and norm (positions are rotary, in the layers).
 */
interface EmbeddingParams {
  word: ParamRef;
  pos: ParamRef | null;
  type: ParamRef | null;
  lnW: ParamRef;
  lnB: ParamRef;
  project: WeightBias | null;
}

function declareEmbeddings(vb: ParamScope, c: BertConfig, family: Family): EmbeddingParams {
  const E = c.embeddingSize;
  const word = vb.param(`${family.embeddingNames.word}.weight`, [c.vocabSize, E]);
  const pos =
    family.positionIds === 'rotary' ? null : vb.param('position_embeddings.weight', [c.maxPositionEmbeddings, E]);
  const type = family.tokenTypes ? vb.param('token_type_embeddings.weight', [c.typeVocabSize, E]) : null;
  const ln = vb.layerNorm(family.embeddingNames.norm, E, c.normBias);
  return { word, pos, type, lnW: ln.weight, lnB: ln.bias, project: null };
}

/** modeling_bert.py BertLayer: BertAttention (BertSelfAttention, BertSelfOutput), BertIntermediate, BertOutput. */
interface LayerParams {
  qkvW: ParamRef;
  /** The query, key and value weights whose rows qkvW spans. */
  qkvParts: ParamRef[];
  qkvB: ParamRef;
  attentionOutput: DenseNormParams;
  inW: ParamRef;
  inB: ParamRef;
  output: DenseNormParams;
}

/** modeling_bert.py BertSelfOutput and BertOutput (the same module): dense, dropout, LayerNorm(x + residual). */
interface DenseNormParams {
  dense: WeightBias;
  ln: WeightBias;
}

function declareDenseNorm(vb: ParamScope, dense: string, norm: string, out: number, inDim: number): DenseNormParams {
  return { dense: vb.linear(dense, out, inDim), ln: vb.layerNorm(norm, out) };
}

/** One layer under `vb` with the family's module names (BertLayer, or DistilBERT's TransformerBlock). */
function declareLayer(vb: ParamScope, c: BertConfig, names: LayerNames): LayerParams {
  const H = c.hiddenSize,
    I = c.intermediateSize;
  // BertSelfAttention: query/key/value weights, then their biases, adjacent: one fused [3H, H] GEMM computes all three.
  const qkvParts = names.qkv.map((m) => vb.pp(m).param('weight', [H, H]));
  const qkvW = vb.adjacent(qkvParts);
  const qkvB = vb.adjacent(names.qkv.map((m) => vb.pp(m).param('bias', [H])));
  const attentionOutput = declareDenseNorm(vb, names.attentionOutput, names.attentionNorm, H, H);
  // BertIntermediate: dense + activation.
  const inter = vb.linear(names.intermediate, I, H);
  const output = declareDenseNorm(vb, names.output, names.outputNorm, H, I);
  return { qkvW, qkvParts, qkvB, attentionOutput, inW: inter.weight, inB: inter.bias, output };
}

/**
 * A linear computed in the model's dtype: the weight view its forward passes (`weight`, [n, k]; the fused QKV span)
 * and the HF weights whose rows it is made of, in order (`parts`). A quantized folder stores each part.
 */
export interface DtypeLinear {
  weight: ParamRef;
  parts: ParamRef[];
  n: number;
  k: number;
}

/** The one map of the linears computed in the model's dtype (q8 / bf16): every encoder layer's GEMMs. */
function dtypeLinearsOf(c: BertConfig, post: LayerParams[], pre: PreLnLayerParams[]): DtypeLinear[] {
  const H = c.hiddenSize,
    I = c.intermediateSize;
  const one = (weight: ParamRef, n: number, k: number): DtypeLinear => ({ weight, parts: [weight], n, k });
  const out: DtypeLinear[] = [];
  for (const p of post) {
    out.push({ weight: p.qkvW, parts: p.qkvParts, n: 3 * H, k: H });
    out.push(one(p.attentionOutput.dense.weight, H, H), one(p.inW, I, H), one(p.output.dense.weight, H, I));
  }
  for (const p of pre) {
    out.push(one(p.qkv.weight, 3 * H, H), one(p.attnOut.weight, H, H));
    out.push(one(p.wi.weight, 2 * I, H), one(p.wo.weight, H, I));
  }
  return out;
}

/**
 * The HF names (without the family prefix) of the weights a model computes in its dtype, from the same declaration
 * as the model's (dtypeLinearsOf): what a q8 folder and a quantized ONNX graph store as int8.
 */
export function dtypeLinearWeightNames(config: BertConfig): Set<string> {
  const backbone = new Backbone(config, new ParamTable().scope(''), false, jsKernels);
  return new Set(backbone.dtypeLinears.flatMap((l) => l.parts.map((p) => p.name)));
}

/** The parts' values one after another (the fused QKV rows from the query, key and value ones). */
function concatRows<T extends Int8Array | Float32Array>(parts: T[], Ctor: new (length: number) => T): T {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The lowest byte offset of a layer's gradients in the gradient buffer. */
function layerGradientStart(p: LayerParams): number {
  const refs = [p.qkvW, p.qkvB, p.inW, p.inB];
  for (const d of [p.attentionOutput, p.output]) refs.push(d.dense.weight, d.dense.bias, d.ln.weight, d.ln.bias);
  return Math.min(...refs.map((r) => r.g.byteOffset));
}

/** Activations of one encoder layer kept for backward. */
interface LayerActs {
  qkv: Float32Array; // [N, 3H]
  probs: Float32Array | null; // [B, heads, T, T]; null in inference sets (the kernel keeps them in scratch)
  ctx: Float32Array; // [N, H]
  ln1In: Float32Array; // [N, H] dropout(attention output dense) + residual
  ln1Mean: Float32Array;
  ln1Rstd: Float32Array;
  h1: Float32Array; // [N, H] attention block output
  inter: Float32Array; // [N, I] pre-activation; in inference sets, the activation itself (fused into the GEMM pass)
  interAct: Float32Array | null; // [N, I]; null in inference sets
  ln2In: Float32Array; // [N, H]
  ln2Mean: Float32Array;
  ln2Rstd: Float32Array;
  out: Float32Array; // [N, H] layer output
}

/** What a dense + dropout + residual LayerNorm block keeps: the LayerNorm's input, mean, rstd, and its output. */
interface DenseNormActs {
  pre: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
  out: Float32Array;
}

function attentionOutputActs(s: LayerActs): DenseNormActs {
  return { pre: s.ln1In, mean: s.ln1Mean, rstd: s.ln1Rstd, out: s.h1 };
}

function outputActs(s: LayerActs): DenseNormActs {
  return { pre: s.ln2In, mean: s.ln2Mean, rstd: s.ln2Rstd, out: s.out };
}

/** Buffers only backward uses, for one (batch, seqLen). */
class BackwardScratch {
  readonly dA: Float32Array; // [N, H]
  readonly dB: Float32Array; // [N, H]
  readonly dC: Float32Array; // [N, H]
  readonly dI: Float32Array; // [N, I]
  readonly dQKV: Float32Array; // [N, 3H]
  readonly dCls: Float32Array; // [B, H]
  readonly dPoolPre: Float32Array; // [B, H]
  readonly padRowSave: Float32Array; // [H]
  readonly dWide: Float32Array; // [N, 2I] the pre-LN block's GeGLU input (empty for the post-LN block)

  constructor(B: number, T: number, c: BertConfig, glu: boolean) {
    const N = B * T,
      H = Math.max(c.hiddenSize, c.embeddingSize); // the embeddings' backward runs at embedding_size
    this.dA = new Float32Array(N * H);
    this.dB = new Float32Array(N * H);
    this.dC = new Float32Array(N * H);
    this.dI = new Float32Array(N * c.intermediateSize);
    this.dQKV = new Float32Array(N * 3 * H);
    this.dCls = new Float32Array(B * H);
    this.dPoolPre = new Float32Array(B * H);
    this.padRowSave = new Float32Array(H);
    this.dWide = new Float32Array(glu ? N * 2 * c.intermediateSize : 0);
  }
}

/**
 * Buffers for the inference activations of every shape: the k-th buffer a BackboneActs asks for always serves the
 * same role, so a new (batch, seqLen) takes views of the buffers of the last one (grown by a quarter when too small)
 * instead of allocating and first-touching megabytes per call. Their contents are stale; every inference buffer is
 * written before it is read.
 */
class ActivationPool {
  private readonly buffers: Float32Array[] = [];
  private next = 0;

  /** Starts handing out the buffers from the first again (a new BackboneActs). */
  reset(): this {
    this.next = 0;
    return this;
  }

  take(n: number): Float32Array {
    const i = this.next++;
    let b = this.buffers[i];
    if (!b || b.length < n) b = this.buffers[i] = new Float32Array(Math.ceil(n * 1.25));
    return b.subarray(0, n);
  }
}

/**
 * Everything the backbone keeps for one (batch, seqLen), allocated once and reused. With `keepAll` every layer has
 * its own activations (what backward needs); without, two sets alternate between layers (inference only: layer l
 * reads set (l-1) % 2 and writes set l % 2), a fraction of the memory for deep models.
 */
class BackboneActs {
  readonly N: number;
  readonly posIds: Int32Array;
  readonly embIn: Float32Array; // [N, E] word + position + type embeddings
  readonly embMean: Float32Array;
  readonly embRstd: Float32Array;
  readonly embNorm: Float32Array; // [N, E] after LayerNorm and dropout (embOut itself unless ELECTRA projects)
  readonly embOut: Float32Array; // [N, H] hidden_states[0]
  readonly layers: LayerActs[] = [];
  /** The pre-LN block's layer activations (ModernBERT), used instead of `layers`. */
  readonly blocks: PreLnActs[] = [];
  /** The pre-LN encoder's final_norm: its output (the sequence output), mean and rstd; empty for post-LN. */
  readonly finalOut: Float32Array;
  readonly finalMean: Float32Array;
  readonly finalRstd: Float32Array;
  /** Rotary cos / sin of each layer kind at 0..T-1 (ModernBERT), null otherwise. */
  readonly rope: { global: RotaryTable; local: RotaryTable } | null;
  /**
   * The pre-LN block's scratch (see BlockContext) and an unpadded batch's buffers (the packed embeddings, the packed
   * final_norm output, the padded d(embeddings)), allocated on first use.
   */
  readonly scratch: Record<ScratchKey, Float32Array | null> = {
    probs: null,
    dropped: null,
    wide: null,
    band: null,
    packedIn: null,
    packedOut: null,
    padded: null,
  };
  readonly clsRows: Float32Array; // [B, H]
  readonly poolPre: Float32Array; // [B, H]
  readonly pooled: Float32Array; // [B, H]
  /** Backward's scratch; null unless keepAll (backward is refused after an inference forward). */
  readonly grad: BackwardScratch | null;

  /** `pool`: where an inference set (not keepAll) takes its buffers; null allocates them. */
  constructor(
    readonly B: number,
    readonly T: number,
    c: BertConfig,
    readonly keepAll: boolean,
    pool: ActivationPool | null = null,
  ) {
    const f = (n: number): Float32Array => (pool && !keepAll ? pool.take(n) : new Float32Array(n));
    const N = (this.N = B * T);
    const H = c.hiddenSize,
      I = c.intermediateSize,
      nh = c.numAttentionHeads;
    this.posIds = new Int32Array(N);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) this.posIds[b * T + t] = t;
    const E = c.embeddingSize;
    this.embIn = f(N * E);
    this.embMean = f(N);
    this.embRstd = f(N);
    this.embOut = f(N * H);
    this.embNorm = E === H ? this.embOut : f(N * E);
    const sets = keepAll ? c.numHiddenLayers : Math.min(c.numHiddenLayers, 2);
    const preLn = familyOf(c).block.kind === 'pre-ln-glu';
    this.finalOut = f(preLn ? N * H : 0);
    this.finalMean = f(preLn ? N : 0);
    this.finalRstd = f(preLn ? N : 0);
    this.rope = preLn
      ? { global: rotaryTable(T, c.headDim, c.globalRopeTheta), local: rotaryTable(T, c.headDim, c.localRopeTheta) }
      : null;
    for (let l = 0; l < sets && preLn; l++) this.blocks.push(preLnActs(N, B, T, c, keepAll));
    for (let l = 0; l < sets && !preLn; l++) {
      this.layers.push({
        qkv: f(N * 3 * H),
        probs: keepAll ? f(B * nh * T * T) : null,
        ctx: f(N * H),
        ln1In: f(N * H),
        ln1Mean: f(N),
        ln1Rstd: f(N),
        h1: f(N * H),
        inter: f(N * I),
        interAct: keepAll ? f(N * I) : null,
        ln2In: f(N * H),
        ln2Mean: f(N),
        ln2Rstd: f(N),
        out: f(N * H),
      });
    }
    this.clsRows = f(B * H);
    this.poolPre = f(B * H);
    this.pooled = f(B * H);
    this.grad = keepAll ? new BackwardScratch(B, T, c, preLn) : null;
  }

  /** The output of layer l (post-LN or pre-LN block). */
  layerOut(l: number): Float32Array {
    return this.blocks.length > 0 ? this.block(l).out : this.layer(l).out;
  }

  /** The pre-LN block activations of layer l (shared between layers when not keepAll). */
  block(l: number): PreLnActs {
    return this.blocks[l % this.blocks.length]!;
  }

  /** A scratch buffer of `n` floats under `key`, kept for the next forward of this shape. */
  scratchOf(key: ScratchKey, n: number): Float32Array {
    const have = this.scratch[key];
    if (have && have.length >= n) return have;
    return (this.scratch[key] = new Float32Array(n));
  }

  /** The activations of layer l (shared between layers when not keepAll). */
  layer(l: number): LayerActs {
    return this.layers[l % this.layers.length]!;
  }
}

type ScratchKey = 'probs' | 'dropped' | 'wide' | 'band' | 'packedIn' | 'packedOut' | 'padded';

/** Copies the attended rows of padded [B*T, width] rows into packed ones (dst[start_b + t] = src[b*T + t], t < L_b). */
function packRows(src: Float32Array, dst: Float32Array, p: Packing, T: number, width: number): Float32Array {
  for (let b = 0; b < p.starts.length; b++) {
    const from = b * T * width;
    dst.set(src.subarray(from, from + p.lengths[b]! * width), p.starts[b]! * width);
  }
  return dst.subarray(0, p.N * width);
}

/** The inverse of packRows into [B*T, width] rows, the padding rows zero (transformers' _pad_modernbert_output). */
function unpackRows(src: Float32Array, dst: Float32Array, p: Packing, T: number, width: number): Float32Array {
  dst.fill(0, 0, p.starts.length * T * width);
  for (let b = 0; b < p.starts.length; b++) {
    const from = p.starts[b]! * width;
    dst.set(src.subarray(from, from + p.lengths[b]! * width), b * T * width);
  }
  return dst;
}

/** An unpadded batch's probabilities ([heads, L, L] per example) as [B, heads, T, T], zero outside each example's L. */
function paddedProbs(src: Float32Array, p: Packing, T: number, heads: number): Float32Array {
  const B = p.starts.length,
    out = new Float32Array(B * heads * T * T);
  for (let b = 0; b < B; b++) {
    const L = p.lengths[b]!;
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < L; t++) {
        const from = p.probsStarts[b]! + (h * L + t) * L;
        out.set(src.subarray(from, from + L), ((b * heads + h) * T + t) * T);
      }
    }
  }
  return out;
}

/** Token ids, types and the additive attention mask of one forward pass. */
export interface BackboneBatch {
  B: number;
  T: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** [B, T]: 0 for attended tokens, float32 min for padding (HF's extended attention mask). */
  maskBias: Float32Array;
}

/** A per-site dropout seed derived from the forward pass seed, so that backward recomputes the same masks. */
export function siteSeed(forwardSeed: number, site: number): number {
  return dropoutHash(dropoutHash(forwardSeed >>> 0, site), 0x5bd1e995);
}

/** The BERT backbone over a ParameterStore: forward keeps activations, backward accumulates gradients. */
export class Backbone {
  private readonly emb: EmbeddingParams;
  private readonly layerParams: LayerParams[] = [];
  /** The pre-LN blocks' parameters (ModernBERT) and final_norm; empty / null for the post-LN families. */
  private readonly preLnParams: PreLnLayerParams[] = [];
  private readonly finalNorm: WeightBias | null = null;
  private readonly pool: { w: ParamRef; b: ParamRef } | null;
  private acts: BackboneActs | null = null;
  private readonly actsPool = new ActivationPool();
  private batch: BackboneBatch | null = null;
  private train = false;
  private seed = 0;
  /** Run-wide index of batch row 0: dropout masks are drawn per example (src/tensor/kernels.ts). */
  private firstExample = 0;
  /** Whether the last forward kept every layer's activations (backward, hidden states and attentions need it). */
  private keptAll = false;
  /** Whether the last forward ran the last layer for each sequence's first token only (forward's firstTokenOnly). */
  private firstOnly = false;
  /**
   * The pre-LN encoder (ModernBERT) runs a right-padded batch unpadded, on its attended tokens only, as transformers'
   * unpadded path does: outputs at padding positions are then zero. false runs every position (the eager path).
   */
  unpad = true;
  /** The unpadded batch of the last forward, or null. */
  private packing: Packing | null = null;
  /** The encoder layers' linear products in the model's dtype (packed / quantized weights). */
  private readonly linears: ModelLinears;
  /** Which member of the family: names, embeddings, dropout placement. */
  private readonly family: Family;
  /** The linears computed in the model's dtype (see dtypeLinearsOf). */
  readonly dtypeLinears: DtypeLinear[];
  /** A quantized folder's int8 weights by HF name, when the model holds no fp32 copy of them (setQuantized). */
  private quantized: Map<string, QuantizedWeight> | null = null;
  /**
   * Called by backward after each encoder layer with the byte offset in the gradient buffer from which the gradients
   * are final (the heads, the pooler and the layers above come after the layers below and the embeddings in the
   * buffer): data parallelism starts reducing them while backward goes on.
   */
  gradientsReady: ((byteOffset: number) => void) | null = null;

  /**
   * Declares the backbone's parameters under `vb` ('bert.' inside the heads, '' for BertModel): modeling_bert.py
   * BertModel's embeddings, encoder.layer.N and (with `addPooler`) pooler. The views are usable once the table
   * that `vb` belongs to is allocated.
   */
  constructor(
    readonly config: BertConfig,
    vb: ParamScope,
    readonly addPooler: boolean,
    private readonly kernels: Kernels,
    dtype: ModelDtype = 'fp32',
  ) {
    this.linears = new ModelLinears(kernels, dtype);
    this.family = familyOf(config);
    this.emb = declareEmbeddings(vb.pp('embeddings'), config, this.family);
    if (config.embeddingSize !== config.hiddenSize)
      this.emb.project = vb.linear('embeddings_project', config.hiddenSize, config.embeddingSize);
    const layers = vb.pp(this.family.layers);
    const block = this.family.block;
    for (let l = 0; l < config.numHiddenLayers; l++) {
      if (block.kind === 'post-ln') this.layerParams.push(declareLayer(layers.pp(l), config, block.names));
      else this.preLnParams.push(declarePreLnLayer(layers.pp(l), config, l));
    }
    if (block.kind === 'pre-ln-glu') this.finalNorm = vb.layerNorm('final_norm', config.hiddenSize, config.normBias);
    // BertPooler: dense + tanh on the first token.
    const pool = addPooler ? vb.pp('pooler').linear('dense', config.hiddenSize, config.hiddenSize) : null;
    this.pool = pool ? { w: pool.weight, b: pool.bias } : null;
    this.dtypeLinears = dtypeLinearsOf(config, this.layerParams, this.preLnParams);
  }

  /**
   * Computes the dtype linears with a quantized folder's int8 weights (`weights` by HF part name, every part
   * present) instead of fp32 ones, which the store does not hold (allocated external). Backward is then refused.
   */
  setQuantized(weights: Map<string, QuantizedWeight>): void {
    for (const l of this.dtypeLinears) {
      const parts = l.parts.map((p) => weights.get(p.name)!);
      const q: QuantizedWeight =
        parts.length === 1
          ? parts[0]!
          : {
              data: concatRows(
                parts.map((p) => p.data),
                Int8Array,
              ),
              scales: concatRows(
                parts.map((p) => p.scales),
                Float32Array,
              ),
            };
      this.linears.setQuantized(l.weight.w, q, l.n, l.k);
    }
    this.quantized = weights;
  }

  /** Each dtype linear part's int8 weight as a q8 folder stores it: held (quantized folder) or quantized now. */
  quantizedWeights(): Map<string, QuantizedWeight> {
    const out = new Map<string, QuantizedWeight>();
    for (const l of this.dtypeLinears) {
      for (const p of l.parts) {
        const [n, k] = p.shape as [number, number];
        out.set(p.name, this.quantized?.get(p.name) ?? quantizeForStorage(p.w, n, k));
      }
    }
    return out;
  }
  /** y = act(x w^T + b) of an encoder layer, in the model's dtype (inference: this forward keeps nothing for backward). */
  private linear(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, ...sizes: LinearSizes): void {
    this.linears.forward(x, w, b, y, !this.keptAll, ...sizes);
  }

  /** The word embedding matrix (the MLM decoder is tied to it). */
  get wordEmbeddings(): ParamRef {
    return this.emb.word;
  }

  /** The kernels, the config and its sizes: hidden H, intermediate I, N = B * T rows of `batch` (0 without), LN eps. */
  private dims(batch?: { B: number; T: number }): {
    k: Kernels;
    c: BertConfig;
    H: number;
    I: number;
    N: number;
    eps: number;
  } {
    const c = this.config;
    const N = batch ? batch.B * batch.T : 0;
    return { k: this.kernels, c, H: c.hiddenSize, I: c.intermediateSize, N, eps: c.layerNormEps };
  }

  private drop(p: number, site: number): DropoutSpec | null {
    return this.train && p > 0 ? { p, seed: siteSeed(this.seed, site), firstExample: this.firstExample } : null;
  }

  /** Activations for (B, T); per-layer ones when `keepAll` (an inference forward reuses them when they exist). */
  private ensureActs(B: number, T: number, keepAll: boolean): BackboneActs {
    const a = this.acts;
    if (!a || a.B !== B || a.T !== T || (keepAll && !a.keepAll))
      this.acts = new BackboneActs(B, T, this.config, keepAll, this.actsPool.reset());
    return this.acts!;
  }

  /** Output of the last forward: [B*T, H] (a view, overwritten by the next forward). */
  get sequenceOutput(): Float32Array {
    const a = this.acts!;
    if (this.firstOnly) throw new Error('the last forward computed the first token of each sequence only');
    if (this.finalNorm) return a.finalOut;
    return this.lastLayerOutput(a);
  }

  /** The last layer's output (the embeddings' without layers). */
  private lastLayerOutput(a: BackboneActs): Float32Array {
    const L = this.config.numHiddenLayers;
    return L > 0 ? a.layerOut(L - 1) : a.embOut;
  }

  /** The last hidden state of each sequence's first token, [B, H] (a view after a firstTokenOnly forward). */
  get firstTokenOutput(): Float32Array {
    const a = this.acts!,
      H = this.config.hiddenSize;
    if (this.firstOnly) return this.lastLayerOutput(a).subarray(0, a.B * H);
    const seq = this.sequenceOutput,
      first = new Float32Array(a.B * H);
    for (let b = 0; b < a.B; b++) first.set(seq.subarray(b * a.T * H, b * a.T * H + H), b * H);
    return first;
  }

  get pooledOutput(): Float32Array {
    if (!this.pool) throw new Error('this model has no pooler');
    return this.acts!.pooled;
  }

  /** hidden_states[0..L] of the last forward (views). */
  hiddenStates(): Float32Array[] {
    const a = this.acts!;
    if (!this.keptAll || this.firstOnly)
      throw new Error('hidden states need a forward that keeps every layer (outputHiddenStates)');
    const p = this.packing,
      H = this.config.hiddenSize;
    const padded = (x: Float32Array): Float32Array => (p ? unpackRows(x, new Float32Array(a.N * H), p, a.T, H) : x);
    const states = [p ? padded(a.scratch.packedIn!) : a.embOut, ...a.layers.map((l) => l.out)];
    states.push(...a.blocks.map((l) => padded(l.out)));
    // transformers' capture_outputs ties the last hidden state to last_hidden_state: after ModernBERT's final_norm.
    if (this.finalNorm) states[states.length - 1] = a.finalOut;
    return states;
  }

  /** Attention probabilities [B, heads, T, T] of each layer in the last forward (views, before dropout). */
  attentions(): Float32Array[] {
    if (!this.keptAll || this.firstOnly)
      throw new Error('attentions need a forward that keeps every layer (outputAttentions)');
    const a = this.acts!,
      p = this.packing;
    return [...a.layers, ...a.blocks].map((l) =>
      p ? paddedProbs(l.probs!, p, a.T, this.config.numAttentionHeads) : l.probs!,
    );
  }

  /** What the pre-LN block reads of this forward (BlockContext). */
  private blockContext(a: BackboneActs, batch: BackboneBatch): BlockContext {
    const c = this.config,
      N = this.packing?.N ?? a.N;
    const probsSize = a.B * c.numAttentionHeads * a.T * a.T;
    return {
      kernels: this.kernels,
      config: c,
      B: a.B,
      T: a.T,
      maskBias: batch.maskBias,
      packed: this.packing,
      rope: (l) => (c.layerTypes[l] === 'sliding_attention' ? a.rope!.local : a.rope!.global),
      linear: (x, w, b, y, m, n, k) => this.linear(x, w, b, y, m, n, k),
      drop: (p, site) => this.drop(p, site),
      scratchProbs: () => a.scratchOf('probs', probsSize),
      scratchDropped: () => a.scratchOf('dropped', probsSize),
      scratchBand: () => a.scratchOf('band', bandScratchSize(Math.floor(c.localAttention / 2))),
      scratchWide: () => a.scratchOf('wide', N * 2 * c.intermediateSize),
    };
  }

  /**
   * Runs embeddings, layers and pooler. `keepAll` false (inference) may share activations between layers: then
   * backward() is refused until the next forward that keeps them. `firstExample`: the run-wide index of batch row 0,
   * so that an example draws the same dropout masks in whatever batch (or data-parallel rank) holds it.
   * `firstTokenOnly` (an inference forward whose caller reads only firstTokenOutput / pooledOutput): the post-LN
   * families' last layer computes the first token of each sequence only (its keys and values still span all tokens);
   * sequenceOutput, hidden states and attentions are then unavailable.
   */
  forward(
    batch: BackboneBatch,
    train: boolean,
    seed: number,
    keepAll = true,
    firstExample = 0,
    firstTokenOnly = false,
  ): void {
    this.batch = batch;
    this.train = train;
    this.seed = seed;
    this.firstExample = firstExample;
    const a = this.ensureActs(batch.B, batch.T, keepAll);
    this.keptAll = a.keepAll;
    const L = this.config.numHiddenLayers;
    this.firstOnly = firstTokenOnly && !keepAll && !train && !this.finalNorm && L > 0;
    this.embeddingsForward(a, batch);
    const H = this.config.hiddenSize;
    const p = (this.packing =
      this.finalNorm && this.unpad && L > 0
        ? packingOf(batch.maskBias, a.B, a.T, this.config.numAttentionHeads)
        : null);
    let x = p ? packRows(a.embOut, a.scratchOf('packedIn', a.N * H), p, a.T, H) : a.embOut;
    const context = this.finalNorm ? this.blockContext(a, batch) : null;
    for (let l = 0; l < L; l++) {
      if (context) preLnLayerForward(context, this.preLnParams[l]!, x, a.block(l), l);
      else if (this.firstOnly && l === L - 1) this.firstTokenLayerForward(l, x, a.layer(l), batch, a.clsRows);
      else this.layerForward(l, x, a.layer(l), batch);
      x = a.layerOut(l);
    }
    if (this.finalNorm) {
      const f = this.finalNorm,
        eps = this.config.layerNormEps;
      const out = p ? a.scratchOf('packedOut', a.N * H) : a.finalOut;
      this.kernels.layerNormForward(x, f.weight.w, f.bias.w, out, a.finalMean, a.finalRstd, p?.N ?? a.N, H, eps);
      if (p) unpackRows(out, a.finalOut, p, a.T, H);
    }
    if (this.pool) this.poolerForward(a, x);
  }

  /**
   * Back-propagates d(sequence output) [B*T, H] and/or d(pooled output) [B, H] of the last forward into the
   * parameter gradients (+=). dSeq may be modified.
   */
  backward(dSeq: Float32Array | null, dPooled: Float32Array | null): void {
    const a = this.acts;
    const batch = this.batch;
    if (!a || !batch) throw new Error('backward() called before forward()');
    if (this.quantized)
      throw new Error(
        'backward(): this model was loaded from a quantized (q8) folder, which holds int8 weights and no float32 ones to ' +
          "train; fine-tune the original float32 model, or load this folder with dtype 'fp32' (dequantized weights)",
      );
    if (!this.keptAll || !a.grad)
      throw new Error('backward() after an inference forward (grad: false): run forward with grad: true first');
    const g = a.grad;
    const H = this.config.hiddenSize;
    // dOut holds d(output of the current layer); starts in dA.
    const dOut = g.dA,
      p = this.packing,
      N = p?.N ?? a.N;
    if (dSeq && p) packRows(dSeq, dOut, p, a.T, H);
    else if (dSeq) dOut.set(dSeq.subarray(0, a.N * H));
    else dOut.fill(0);
    if (dPooled) this.poolerBackward(a, g, dPooled, dOut);
    const f = this.finalNorm;
    if (f) {
      this.kernels.layerNormBackward(
        dOut,
        this.lastLayerOutput(a),
        f.weight.w,
        a.finalMean,
        a.finalRstd,
        g.dC,
        f.weight.g,
        f.bias.g,
        N,
        H,
      );
      dOut.set(g.dC.subarray(0, N * H));
    }
    const context = f ? this.blockContext(a, batch) : null;
    const blockGrads = { dA: g.dA, dB: g.dB, dC: g.dC, dI: g.dI, dQKV: g.dQKV, dWide: g.dWide };
    for (let l = this.config.numHiddenLayers - 1; l >= 0; l--) {
      const x = l > 0 ? a.layerOut(l - 1) : p ? a.scratch.packedIn! : a.embOut;
      if (context) preLnLayerBackward(context, this.preLnParams[l]!, x, a.block(l), l, blockGrads);
      else this.layerBackward(l, x, a.layer(l), batch, dOut, g);
      if (this.gradientsReady) this.gradientsReady(this.layerGradientStart(l));
    }
    this.embeddingsBackward(a, g, batch, p ? unpackRows(dOut, a.scratchOf('padded', a.N * H), p, a.T, H) : dOut);
  }

  /** The lowest byte offset of layer l's gradients in the gradient buffer. */
  private layerGradientStart(l: number): number {
    const pre = this.preLnParams[l];
    if (!pre) return layerGradientStart(this.layerParams[l]!);
    return Math.min(...preLnLayerRefs(pre).map((r) => r.g.byteOffset));
  }

  // ---- embeddings: word + position + token type, LayerNorm, dropout ----

  private embeddingsForward(a: BackboneActs, batch: BackboneBatch): void {
    const k = this.kernels,
      E = this.config.embeddingSize,
      N = a.N;
    if (this.family.positionIds === 'padding-offset')
      paddingOffsetPositions(batch.inputIds, a.B, a.T, this.config.padTokenId!, a.posIds);
    k.embeddingForward(batch.inputIds, this.emb.word.w, a.embIn, N, E, false);
    if (this.emb.pos) k.embeddingForward(a.posIds, this.emb.pos.w, a.embIn, N, E, true);
    if (this.emb.type) k.embeddingForward(batch.tokenTypeIds, this.emb.type.w, a.embIn, N, E, true);
    const eps = this.config.layerNormEps;
    k.layerNormForward(a.embIn, this.emb.lnW.w, this.emb.lnB.w, a.embNorm, a.embMean, a.embRstd, N, E, eps);
    const d = this.drop(this.config.hiddenDropoutProb, 0);
    if (d) k.dropoutForward(a.embNorm, a.embNorm, N * E, batch.T * E, d);
    const project = this.emb.project;
    if (project) k.linearForward(a.embNorm, project.weight.w, project.bias.w, a.embOut, N, this.config.hiddenSize, E);
  }

  /** dOut [N, H] in (then scratch); accumulates the embedding, LayerNorm and projection gradients. */
  private embeddingsBackward(a: BackboneActs, g: BackwardScratch, batch: BackboneBatch, dOut: Float32Array): void {
    const k = this.kernels,
      E = this.config.embeddingSize,
      N = a.N;
    let dNorm = dOut;
    const project = this.emb.project;
    if (project) {
      dNorm = g.dC;
      k.linearBackward(
        dOut,
        a.embNorm,
        project.weight.w,
        dNorm,
        project.weight.g,
        project.bias.g,
        N,
        this.config.hiddenSize,
        E,
      );
    }
    const d = this.drop(this.config.hiddenDropoutProb, 0);
    if (d) k.dropoutBackward(dNorm, dNorm, N * E, batch.T * E, d);
    const dIn = g.dB;
    k.layerNormBackward(
      dNorm,
      a.embIn,
      this.emb.lnW.w,
      a.embMean,
      a.embRstd,
      dIn,
      this.emb.lnW.g,
      this.emb.lnB.g,
      N,
      E,
    );
    const pad = this.config.padTokenId;
    this.paddedEmbeddingBackward(batch.inputIds, dIn, this.emb.word.g, pad, g, N);
    // RoBERTa's position table has padding_idx too.
    const posPad = this.family.positionIds === 'padding-offset' ? pad : null;
    if (this.emb.pos) this.paddedEmbeddingBackward(a.posIds, dIn, this.emb.pos.g, posPad, g, N);
    if (this.emb.type) k.embeddingBackward(batch.tokenTypeIds, dIn, this.emb.type.g, N, E);
  }

  /**
   * The scatter-add of an nn.Embedding(padding_idx=pad): the padding row receives no gradient from the lookup (the
   * tied MLM decoder's contribution to that row, already accumulated, stays), so save and restore the row around it.
   */
  private paddedEmbeddingBackward(
    ids: Int32Array,
    dIn: Float32Array,
    grad: Float32Array,
    pad: number | null,
    g: BackwardScratch,
    N: number,
  ): void {
    const E = this.config.embeddingSize;
    const padRow = pad === null ? null : grad.subarray(pad * E, (pad + 1) * E);
    if (padRow) g.padRowSave.set(padRow);
    this.kernels.embeddingBackward(ids, dIn, grad, N, E);
    if (padRow) padRow.set(g.padRowSave.subarray(0, E));
  }

  // ---- self-attention: fused QKV projection, scaled dot-product attention with the padding mask ----

  private selfAttentionForward(p: LayerParams, x: Float32Array, s: LayerActs, batch: BackboneBatch, l: number): void {
    const { k, c, H, N } = this.dims(batch);
    this.linear(x, p.qkvW.w, p.qkvB.w, s.qkv, N, 3 * H, H);
    const dropout = this.drop(c.attentionProbsDropoutProb, 1 + 3 * l);
    fusedQkvAttentionForward(k, c, s.qkv, batch.maskBias, s.probs, s.ctx, batch.B, batch.T, dropout);
  }

  /** dCtx [N,H] in; accumulates QKV grads and adds d(x) into dX. */
  private selfAttentionBackward(
    p: LayerParams,
    x: Float32Array,
    s: LayerActs,
    batch: BackboneBatch,
    l: number,
    dCtx: Float32Array,
    dX: Float32Array,
    g: BackwardScratch,
  ): void {
    const { k, c, H, N } = this.dims(batch);
    const dq = g.dQKV;
    const dropout = this.drop(c.attentionProbsDropoutProb, 1 + 3 * l);
    fusedQkvAttentionBackward(k, c, dCtx, s.qkv, s.probs!, dq, batch.B, batch.T, dropout);
    const dTmp = g.dC;
    k.linearBackward(dq, x, p.qkvW.w, dTmp, p.qkvW.g, p.qkvB.g, N, 3 * H, H);
    k.add(dX, dTmp, N * H);
  }

  // ---- attention output and output (BertSelfOutput, BertOutput): dense, dropout, residual, LayerNorm ----

  /** y = LayerNorm(dropout(dense(input)) + residual); `a.pre` keeps the LayerNorm's input for backward. */
  private denseNormForward(
    p: DenseNormParams,
    input: Float32Array,
    inDim: number,
    residual: Float32Array,
    a: DenseNormActs,
    N: number,
    site: number,
    dropoutP = this.config.hiddenDropoutProb,
  ): void {
    const { k, H, eps } = this.dims();
    this.linear(input, p.dense.weight.w, p.dense.bias.w, a.pre, N, H, inDim);
    const d = this.drop(dropoutP, site);
    if (d) k.dropoutForward(a.pre, a.pre, N * H, this.batch!.T * H, d);
    // pre += residual first
    k.layerNormForward(a.pre, p.ln.weight.w, p.ln.bias.w, a.out, a.mean, a.rstd, N, H, eps, residual);
  }

  /**
   * dY (d output) in, then reused as scratch; writes d(residual) into dResidual and d(input) into dInput (both
   * overwritten); accumulates the dense and LayerNorm gradients.
   */
  private denseNormBackward(
    p: DenseNormParams,
    input: Float32Array,
    inDim: number,
    a: DenseNormActs,
    N: number,
    site: number,
    dY: Float32Array,
    dResidual: Float32Array,
    dInput: Float32Array,
    dropoutP = this.config.hiddenDropoutProb,
  ): void {
    const k = this.kernels,
      H = this.config.hiddenSize;
    k.layerNormBackward(dY, a.pre, p.ln.weight.w, a.mean, a.rstd, dResidual, p.ln.weight.g, p.ln.bias.g, N, H);
    // dResidual now holds d(pre) = d(residual input); the dense branch gets the same gradient through dropout.
    const d = this.drop(dropoutP, site);
    if (d) k.dropoutBackward(dResidual, dY, N * H, this.batch!.T * H, d);
    else dY.set(dResidual.subarray(0, N * H));
    k.linearBackward(dY, input, p.dense.weight.w, dInput, p.dense.weight.g, p.dense.bias.g, N, H, inDim);
  }

  // ---- intermediate: dense + activation ----

  private intermediateForward(p: LayerParams, s: LayerActs, N: number): void {
    const k = this.kernels,
      c = this.config;
    if (s.interAct) {
      this.linear(s.h1, p.inW.w, p.inB.w, s.inter, N, c.intermediateSize, c.hiddenSize);
      k.activationForward(c.activation, s.inter, s.interAct, N * c.intermediateSize);
    } else {
      // Inference: the activation is applied in the GEMM's bias pass; the pre-activation is not kept.
      this.linear(s.h1, p.inW.w, p.inB.w, s.inter, N, c.intermediateSize, c.hiddenSize, c.activation);
    }
  }

  /** dInterAct [N,I] in (modified); adds d(h1) into dH1. */
  private intermediateBackward(
    p: LayerParams,
    s: LayerActs,
    N: number,
    dInterAct: Float32Array,
    dH1: Float32Array,
    dTmp: Float32Array,
  ): void {
    const { k, c, H, I } = this.dims();
    k.activationBackward(c.activation, s.inter, dInterAct, dInterAct, N * I);
    k.linearBackward(dInterAct, s.h1, p.inW.w, dTmp, p.inW.g, p.inB.g, N, I, H);
    k.add(dH1, dTmp, N * H);
  }

  // ---- layer = attention + attention output + intermediate + output ----

  /** The hidden dropout after the attention output projection (none in DistilBERT). */
  private get attentionOutputP(): number {
    return this.family.attentionOutputDropout ? this.config.hiddenDropoutProb : 0;
  }

  private layerForward(l: number, x: Float32Array, s: LayerActs, batch: BackboneBatch): void {
    const p = this.layerParams[l]!,
      N = batch.B * batch.T;
    const H = this.config.hiddenSize;
    this.selfAttentionForward(p, x, s, batch, l);
    this.denseNormForward(p.attentionOutput, s.ctx, H, x, attentionOutputActs(s), N, 2 + 3 * l, this.attentionOutputP);
    this.intermediateForward(p, s, N);
    const inter = s.interAct ?? s.inter;
    this.denseNormForward(p.output, inter, this.config.intermediateSize, s.h1, outputActs(s), N, 3 + 3 * l);
  }

  /**
   * layerForward for the first token of each sequence only: the QKV projection of every token (the keys and values),
   * then attention, the attention output and the feed-forward block on B rows; writes the B rows at the start of the
   * layer's buffers (`residual`: [B, H] scratch for the first tokens' inputs).
   */
  private firstTokenLayerForward(
    l: number,
    x: Float32Array,
    s: LayerActs,
    batch: BackboneBatch,
    residual: Float32Array,
  ): void {
    const p = this.layerParams[l]!,
      { B, T } = batch;
    const { c, H, N } = this.dims(batch);
    this.linear(x, p.qkvW.w, p.qkvB.w, s.qkv, N, 3 * H, H);
    firstQueryAttentionForward(c, s.qkv, batch.maskBias, s.ctx, B, T);
    for (let b = 0; b < B; b++) residual.set(x.subarray(b * T * H, b * T * H + H), b * H);
    this.denseNormForward(
      p.attentionOutput,
      s.ctx,
      H,
      residual,
      attentionOutputActs(s),
      B,
      2 + 3 * l,
      this.attentionOutputP,
    );
    this.intermediateForward(p, s, B);
    this.denseNormForward(p.output, s.interAct ?? s.inter, c.intermediateSize, s.h1, outputActs(s), B, 3 + 3 * l);
  }

  /** dOut: d(layer output) in, d(layer input) out (same buffer, g.dA). */
  private layerBackward(
    l: number,
    x: Float32Array,
    s: LayerActs,
    batch: BackboneBatch,
    dOut: Float32Array,
    g: BackwardScratch,
  ): void {
    const p = this.layerParams[l]!,
      N = batch.B * batch.T;
    const dH1 = g.dB;
    const H = this.config.hiddenSize,
      I = this.config.intermediateSize;
    this.denseNormBackward(p.output, s.interAct!, I, outputActs(s), N, 3 + 3 * l, dOut, dH1, g.dI);
    this.intermediateBackward(p, s, N, g.dI, dH1, g.dC);
    // dOut (g.dA) is free now: it receives d(layer input); g.dC receives d(ctx).
    const site = 2 + 3 * l;
    this.denseNormBackward(
      p.attentionOutput,
      s.ctx,
      H,
      attentionOutputActs(s),
      N,
      site,
      dH1,
      dOut,
      g.dC,
      this.attentionOutputP,
    );
    // selfAttentionBackward uses g.dC as scratch after reading d(ctx) into dQKV, so copy d(ctx) aside first.
    const dCtx = g.dB;
    dCtx.set(g.dC.subarray(0, N * H));
    this.selfAttentionBackward(p, x, s, batch, l, dCtx, dOut, g);
  }

  // ---- pooler: dense + tanh on the first token ----

  private poolerForward(a: BackboneActs, x: Float32Array): void {
    const { k, H } = this.dims(),
      { B } = a;
    // After a firstTokenOnly forward, x holds the first tokens' rows only.
    const T = this.firstOnly ? 1 : a.T;
    for (let b = 0; b < B; b++) a.clsRows.set(x.subarray(b * T * H, b * T * H + H), b * H);
    k.linearForward(a.clsRows, this.pool!.w.w, this.pool!.b.w, a.poolPre, B, H, H);
    k.activationForward('tanh', a.poolPre, a.pooled, B * H);
  }

  /** Adds the pooler's contribution to d(sequence output) rows of the first tokens. */
  private poolerBackward(a: BackboneActs, g: BackwardScratch, dPooled: Float32Array, dSeq: Float32Array): void {
    const { k, H } = this.dims(),
      { B, T } = a;
    k.activationBackward('tanh', a.poolPre, dPooled, g.dPoolPre, B * H);
    k.linearBackward(g.dPoolPre, a.clsRows, this.pool!.w.w, g.dCls, this.pool!.w.g, this.pool!.b.g, B, H, H);
    for (let b = 0; b < B; b++) {
      const off = b * T * H;
      for (let j = 0; j < H; j++) dSeq[off + j]! += g.dCls[b * H + j]!;
    }
  }
}
