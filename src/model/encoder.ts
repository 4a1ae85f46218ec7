// The BERT backbone (embeddings, self-attention, attention output, intermediate, output, layer, encoder, pooler):
// each part's forward and backward side by side, over the flat parameter buffer and activations allocated per shape.
import type { Activation, DropoutSpec, Kernels } from '../tensor/kernels.js';
import { dropoutHash } from '../tensor/kernels.js';
import type { BertConfig } from './config.js';
import { ModelLinears } from './linear-dtype.js';
import type { ModelDtype } from './linear-dtype.js';
import type { ParameterStore, ParamSpec } from './params.js';

/** Parameter names and shapes of the backbone under `prefix` ('bert.' inside heads, '' for BertModel). */
export function backboneSpecs(c: BertConfig, prefix: string, addPooler: boolean): ParamSpec[] {
  const H = c.hiddenSize,
    I = c.intermediateSize;
  const s: ParamSpec[] = [
    { name: `${prefix}embeddings.word_embeddings.weight`, shape: [c.vocabSize, H] },
    { name: `${prefix}embeddings.position_embeddings.weight`, shape: [c.maxPositionEmbeddings, H] },
    { name: `${prefix}embeddings.token_type_embeddings.weight`, shape: [c.typeVocabSize, H] },
    { name: `${prefix}embeddings.LayerNorm.weight`, shape: [H] },
    { name: `${prefix}embeddings.LayerNorm.bias`, shape: [H] },
  ];
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `${prefix}encoder.layer.${l}.`;
    // query/key/value weights, then their biases, adjacent: one fused [3H, H] GEMM computes all three.
    s.push(
      { name: `${p}attention.self.query.weight`, shape: [H, H] },
      { name: `${p}attention.self.key.weight`, shape: [H, H] },
      { name: `${p}attention.self.value.weight`, shape: [H, H] },
      { name: `${p}attention.self.query.bias`, shape: [H] },
      { name: `${p}attention.self.key.bias`, shape: [H] },
      { name: `${p}attention.self.value.bias`, shape: [H] },
      { name: `${p}attention.output.dense.weight`, shape: [H, H] },
      { name: `${p}attention.output.dense.bias`, shape: [H] },
      { name: `${p}attention.output.LayerNorm.weight`, shape: [H] },
      { name: `${p}attention.output.LayerNorm.bias`, shape: [H] },
      { name: `${p}intermediate.dense.weight`, shape: [I, H] },
      { name: `${p}intermediate.dense.bias`, shape: [I] },
      { name: `${p}output.dense.weight`, shape: [H, I] },
      { name: `${p}output.dense.bias`, shape: [H] },
      { name: `${p}output.LayerNorm.weight`, shape: [H] },
      { name: `${p}output.LayerNorm.bias`, shape: [H] },
    );
  }
  if (addPooler) {
    s.push({ name: `${prefix}pooler.dense.weight`, shape: [H, H] }, { name: `${prefix}pooler.dense.bias`, shape: [H] });
  }
  return s;
}

/** A parameter and its gradient. */
interface PG {
  w: Float32Array;
  g: Float32Array;
}

interface LayerParams {
  qkvW: PG;
  qkvB: PG;
  aoW: PG;
  aoB: PG;
  ln1W: PG;
  ln1B: PG;
  inW: PG;
  inB: PG;
  outW: PG;
  outB: PG;
  ln2W: PG;
  ln2B: PG;
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

  constructor(B: number, T: number, c: BertConfig) {
    const N = B * T,
      H = c.hiddenSize;
    this.dA = new Float32Array(N * H);
    this.dB = new Float32Array(N * H);
    this.dC = new Float32Array(N * H);
    this.dI = new Float32Array(N * c.intermediateSize);
    this.dQKV = new Float32Array(N * 3 * H);
    this.dCls = new Float32Array(B * H);
    this.dPoolPre = new Float32Array(B * H);
    this.padRowSave = new Float32Array(H);
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
  readonly embIn: Float32Array; // [N, H] word + position + type embeddings
  readonly embMean: Float32Array;
  readonly embRstd: Float32Array;
  readonly embOut: Float32Array; // [N, H] hidden_states[0]
  readonly layers: LayerActs[] = [];
  readonly clsRows: Float32Array; // [B, H]
  readonly poolPre: Float32Array; // [B, H]
  readonly pooled: Float32Array; // [B, H]
  /** Backward's scratch; null unless keepAll (backward is refused after an inference forward). */
  readonly grad: BackwardScratch | null;

  constructor(
    readonly B: number,
    readonly T: number,
    c: BertConfig,
    readonly keepAll: boolean,
  ) {
    const N = (this.N = B * T);
    const H = c.hiddenSize,
      I = c.intermediateSize,
      nh = c.numAttentionHeads;
    this.posIds = new Int32Array(N);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) this.posIds[b * T + t] = t;
    this.embIn = new Float32Array(N * H);
    this.embMean = new Float32Array(N);
    this.embRstd = new Float32Array(N);
    this.embOut = new Float32Array(N * H);
    const sets = keepAll ? c.numHiddenLayers : Math.min(c.numHiddenLayers, 2);
    for (let l = 0; l < sets; l++) {
      this.layers.push({
        qkv: new Float32Array(N * 3 * H),
        probs: keepAll ? new Float32Array(B * nh * T * T) : null,
        ctx: new Float32Array(N * H),
        ln1In: new Float32Array(N * H),
        ln1Mean: new Float32Array(N),
        ln1Rstd: new Float32Array(N),
        h1: new Float32Array(N * H),
        inter: new Float32Array(N * I),
        interAct: keepAll ? new Float32Array(N * I) : null,
        ln2In: new Float32Array(N * H),
        ln2Mean: new Float32Array(N),
        ln2Rstd: new Float32Array(N),
        out: new Float32Array(N * H),
      });
    }
    this.clsRows = new Float32Array(B * H);
    this.poolPre = new Float32Array(B * H);
    this.pooled = new Float32Array(B * H);
    this.grad = keepAll ? new BackwardScratch(B, T, c) : null;
  }

  /** The activations of layer l (shared between layers when not keepAll). */
  layer(l: number): LayerActs {
    return this.layers[l % this.layers.length]!;
  }
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

export const FLOAT32_MIN = -3.4028234663852886e38;

/** The BERT backbone over a ParameterStore: forward keeps activations, backward accumulates gradients. */
export class Backbone {
  private readonly emb: { word: PG; pos: PG; type: PG; lnW: PG; lnB: PG };
  private readonly layerParams: LayerParams[] = [];
  private readonly pool: { w: PG; b: PG } | null;
  private acts: BackboneActs | null = null;
  private batch: BackboneBatch | null = null;
  private train = false;
  private seed = 0;
  /** Whether the last forward kept every layer's activations (backward, hidden states and attentions need it). */
  private keptAll = false;
  /** The encoder layers' linear products in the model's dtype (packed / quantized weights). */
  private readonly linears: ModelLinears;

  constructor(
    readonly config: BertConfig,
    readonly store: ParameterStore,
    readonly prefix: string,
    readonly addPooler: boolean,
    private readonly kernels: Kernels,
    dtype: ModelDtype = 'fp32',
  ) {
    this.linears = new ModelLinears(kernels, dtype);
    const pg = (name: string): PG => ({ w: store.view(name), g: store.gradView(name) });
    const p = prefix;
    this.emb = {
      word: pg(`${p}embeddings.word_embeddings.weight`),
      pos: pg(`${p}embeddings.position_embeddings.weight`),
      type: pg(`${p}embeddings.token_type_embeddings.weight`),
      lnW: pg(`${p}embeddings.LayerNorm.weight`),
      lnB: pg(`${p}embeddings.LayerNorm.bias`),
    };
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const q = `${p}encoder.layer.${l}.`;
      const qkvW = store.span(`${q}attention.self.query.weight`, 3);
      const qkvB = store.span(`${q}attention.self.query.bias`, 3);
      this.layerParams.push({
        qkvW: { w: qkvW.data, g: qkvW.grad },
        qkvB: { w: qkvB.data, g: qkvB.grad },
        aoW: pg(`${q}attention.output.dense.weight`),
        aoB: pg(`${q}attention.output.dense.bias`),
        ln1W: pg(`${q}attention.output.LayerNorm.weight`),
        ln1B: pg(`${q}attention.output.LayerNorm.bias`),
        inW: pg(`${q}intermediate.dense.weight`),
        inB: pg(`${q}intermediate.dense.bias`),
        outW: pg(`${q}output.dense.weight`),
        outB: pg(`${q}output.dense.bias`),
        ln2W: pg(`${q}output.LayerNorm.weight`),
        ln2B: pg(`${q}output.LayerNorm.bias`),
      });
    }
    this.pool = addPooler ? { w: pg(`${p}pooler.dense.weight`), b: pg(`${p}pooler.dense.bias`) } : null;
  }

  /** y = act(x w^T + b) of an encoder layer, in the model's dtype (inference: this forward keeps nothing for backward). */
  private linear(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array,
    y: Float32Array,
    m: number,
    n: number,
    k: number,
    activation?: Activation,
  ): void {
    this.linears.forward(x, w, b, y, m, n, k, !this.keptAll, activation);
  }

  private drop(p: number, site: number): DropoutSpec | null {
    return this.train && p > 0 ? { p, seed: siteSeed(this.seed, site) } : null;
  }

  /** Activations for (B, T); per-layer ones when `keepAll` (an inference forward reuses them when they exist). */
  private ensureActs(B: number, T: number, keepAll: boolean): BackboneActs {
    const a = this.acts;
    if (!a || a.B !== B || a.T !== T || (keepAll && !a.keepAll))
      this.acts = new BackboneActs(B, T, this.config, keepAll);
    return this.acts!;
  }

  /** Output of the last forward: [B*T, H] (a view, overwritten by the next forward). */
  get sequenceOutput(): Float32Array {
    const a = this.acts!;
    const L = this.config.numHiddenLayers;
    return L > 0 ? a.layer(L - 1).out : a.embOut;
  }

  get pooledOutput(): Float32Array {
    if (!this.pool) throw new Error('this model has no pooler');
    return this.acts!.pooled;
  }

  /** hidden_states[0..L] of the last forward (views). */
  hiddenStates(): Float32Array[] {
    const a = this.acts!;
    if (!this.keptAll) throw new Error('hidden states need a forward that keeps every layer (outputHiddenStates)');
    return [a.embOut, ...a.layers.map((l) => l.out)];
  }

  /** Attention probabilities [B, heads, T, T] of each layer in the last forward (views, before dropout). */
  attentions(): Float32Array[] {
    if (!this.keptAll) throw new Error('attentions need a forward that keeps every layer (outputAttentions)');
    return this.acts!.layers.map((l) => l.probs!);
  }

  /**
   * Runs embeddings, layers and pooler. `keepAll` false (inference) may share activations between layers: then
   * backward() is refused until the next forward that keeps them.
   */
  forward(batch: BackboneBatch, train: boolean, seed: number, keepAll = true): void {
    this.batch = batch;
    this.train = train;
    this.seed = seed;
    const a = this.ensureActs(batch.B, batch.T, keepAll);
    this.keptAll = a.keepAll;
    this.embeddingsForward(a, batch);
    let x = a.embOut;
    for (let l = 0; l < this.config.numHiddenLayers; l++) {
      this.layerForward(l, x, a.layer(l), batch);
      x = a.layer(l).out;
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
    if (!this.keptAll || !a.grad)
      throw new Error('backward() after an inference forward (grad: false): run forward with grad: true first');
    const g = a.grad;
    const H = this.config.hiddenSize;
    // dOut holds d(output of the current layer); starts in dA.
    const dOut = g.dA;
    if (dSeq) dOut.set(dSeq.subarray(0, a.N * H));
    else dOut.fill(0);
    if (dPooled) this.poolerBackward(a, g, dPooled, dOut);
    for (let l = this.config.numHiddenLayers - 1; l >= 0; l--) {
      const x = l === 0 ? a.embOut : a.layer(l - 1).out;
      this.layerBackward(l, x, a.layer(l), batch, dOut, g);
    }
    this.embeddingsBackward(a, g, batch, dOut);
  }

  // ---- embeddings: word + position + token type, LayerNorm, dropout ----

  private embeddingsForward(a: BackboneActs, batch: BackboneBatch): void {
    const k = this.kernels,
      H = this.config.hiddenSize,
      N = a.N;
    k.embeddingForward(batch.inputIds, this.emb.word.w, a.embIn, N, H, false);
    k.embeddingForward(a.posIds, this.emb.pos.w, a.embIn, N, H, true);
    k.embeddingForward(batch.tokenTypeIds, this.emb.type.w, a.embIn, N, H, true);
    k.layerNormForward(
      a.embIn,
      this.emb.lnW.w,
      this.emb.lnB.w,
      a.embOut,
      a.embMean,
      a.embRstd,
      N,
      H,
      this.config.layerNormEps,
    );
    const d = this.drop(this.config.hiddenDropoutProb, 0);
    if (d) k.dropoutForward(a.embOut, a.embOut, N * H, d);
  }

  private embeddingsBackward(a: BackboneActs, g: BackwardScratch, batch: BackboneBatch, dOut: Float32Array): void {
    const k = this.kernels,
      H = this.config.hiddenSize,
      N = a.N;
    const d = this.drop(this.config.hiddenDropoutProb, 0);
    if (d) k.dropoutBackward(dOut, dOut, N * H, d);
    const dIn = g.dB;
    k.layerNormBackward(dOut, a.embIn, this.emb.lnW.w, a.embMean, a.embRstd, dIn, this.emb.lnW.g, this.emb.lnB.g, N, H);
    // nn.Embedding(padding_idx=pad_token_id): the padding row receives no gradient from the lookup (the tied MLM
    // decoder's contribution to that row, already accumulated, stays), so save and restore the row around the scatter.
    const pad = this.config.padTokenId;
    const padRow = pad === null ? null : this.emb.word.g.subarray(pad * H, (pad + 1) * H);
    if (padRow) g.padRowSave.set(padRow);
    k.embeddingBackward(batch.inputIds, dIn, this.emb.word.g, N, H);
    if (padRow) padRow.set(g.padRowSave);
    k.embeddingBackward(a.posIds, dIn, this.emb.pos.g, N, H);
    k.embeddingBackward(batch.tokenTypeIds, dIn, this.emb.type.g, N, H);
  }

  // ---- self-attention: fused QKV projection, scaled dot-product attention with the padding mask ----

  private selfAttentionForward(p: LayerParams, x: Float32Array, s: LayerActs, batch: BackboneBatch, l: number): void {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize,
      N = batch.B * batch.T;
    this.linear(x, p.qkvW.w, p.qkvB.w, s.qkv, N, 3 * H, H);
    k.attentionForward(
      s.qkv,
      s.qkv.subarray(H),
      s.qkv.subarray(2 * H),
      3 * H,
      batch.maskBias,
      s.probs,
      s.ctx,
      H,
      batch.B,
      batch.T,
      c.numAttentionHeads,
      c.headDim,
      1 / Math.sqrt(c.headDim),
      this.drop(c.attentionProbsDropoutProb, 1 + 3 * l),
    );
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
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize,
      N = batch.B * batch.T;
    const dq = g.dQKV;
    k.attentionBackward(
      dCtx,
      H,
      s.qkv,
      s.qkv.subarray(H),
      s.qkv.subarray(2 * H),
      3 * H,
      s.probs!,
      dq,
      dq.subarray(H),
      dq.subarray(2 * H),
      batch.B,
      batch.T,
      c.numAttentionHeads,
      c.headDim,
      1 / Math.sqrt(c.headDim),
      this.drop(c.attentionProbsDropoutProb, 1 + 3 * l),
    );
    const dTmp = g.dC;
    k.linearBackward(dq, x, p.qkvW.w, dTmp, p.qkvW.g, p.qkvB.g, N, 3 * H, H);
    k.add(dX, dTmp, N * H);
  }

  // ---- attention output: dense, dropout, residual, LayerNorm ----

  private attentionOutputForward(p: LayerParams, x: Float32Array, s: LayerActs, N: number, l: number): void {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize;
    this.linear(s.ctx, p.aoW.w, p.aoB.w, s.ln1In, N, H, H);
    const d = this.drop(c.hiddenDropoutProb, 2 + 3 * l);
    if (d) k.dropoutForward(s.ln1In, s.ln1In, N * H, d);
    k.layerNormForward(s.ln1In, p.ln1W.w, p.ln1B.w, s.h1, s.ln1Mean, s.ln1Rstd, N, H, c.layerNormEps, x); // ln1In += x first
  }

  /** dH1 in (d attention block output); writes d(residual input) into dX (overwrite) and d(ctx) into dCtx. */
  private attentionOutputBackward(
    p: LayerParams,
    s: LayerActs,
    N: number,
    l: number,
    dH1: Float32Array,
    dX: Float32Array,
    dCtx: Float32Array,
  ): void {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize;
    k.layerNormBackward(dH1, s.ln1In, p.ln1W.w, s.ln1Mean, s.ln1Rstd, dX, p.ln1W.g, p.ln1B.g, N, H);
    // dX now holds d(ln1In) = d(residual input); the dense branch gets the same gradient through dropout.
    const d = this.drop(c.hiddenDropoutProb, 2 + 3 * l);
    const dDense = dH1; // dH1 is no longer needed: reuse it
    if (d) k.dropoutBackward(dX, dDense, N * H, d);
    else dDense.set(dX.subarray(0, N * H));
    k.linearBackward(dDense, s.ctx, p.aoW.w, dCtx, p.aoW.g, p.aoB.g, N, H, H);
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
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize,
      I = c.intermediateSize;
    k.activationBackward(c.activation, s.inter, dInterAct, dInterAct, N * I);
    k.linearBackward(dInterAct, s.h1, p.inW.w, dTmp, p.inW.g, p.inB.g, N, I, H);
    k.add(dH1, dTmp, N * H);
  }

  // ---- output: dense, dropout, residual, LayerNorm ----

  private outputForward(p: LayerParams, s: LayerActs, N: number, l: number): void {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize;
    this.linear(s.interAct ?? s.inter, p.outW.w, p.outB.w, s.ln2In, N, H, c.intermediateSize);
    const d = this.drop(c.hiddenDropoutProb, 3 + 3 * l);
    if (d) k.dropoutForward(s.ln2In, s.ln2In, N * H, d);
    k.layerNormForward(s.ln2In, p.ln2W.w, p.ln2B.w, s.out, s.ln2Mean, s.ln2Rstd, N, H, c.layerNormEps, s.h1); // ln2In += h1 first
  }

  /** dOut in (consumed); writes d(h1) (residual part + dense part is added later) into dH1 and d(interAct) into dInterAct. */
  private outputBackward(
    p: LayerParams,
    s: LayerActs,
    N: number,
    l: number,
    dOut: Float32Array,
    dH1: Float32Array,
    dInterAct: Float32Array,
  ): void {
    const k = this.kernels,
      c = this.config,
      H = c.hiddenSize;
    k.layerNormBackward(dOut, s.ln2In, p.ln2W.w, s.ln2Mean, s.ln2Rstd, dH1, p.ln2W.g, p.ln2B.g, N, H);
    const d = this.drop(c.hiddenDropoutProb, 3 + 3 * l);
    if (d) k.dropoutBackward(dH1, dOut, N * H, d);
    else dOut.set(dH1.subarray(0, N * H));
    k.linearBackward(dOut, s.interAct!, p.outW.w, dInterAct, p.outW.g, p.outB.g, N, H, c.intermediateSize);
  }

  // ---- layer = attention + attention output + intermediate + output ----

  private layerForward(l: number, x: Float32Array, s: LayerActs, batch: BackboneBatch): void {
    const p = this.layerParams[l]!,
      N = batch.B * batch.T;
    this.selfAttentionForward(p, x, s, batch, l);
    this.attentionOutputForward(p, x, s, N, l);
    this.intermediateForward(p, s, N);
    this.outputForward(p, s, N, l);
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
    this.outputBackward(p, s, N, l, dOut, dH1, g.dI);
    this.intermediateBackward(p, s, N, g.dI, dH1, g.dC);
    // dOut (g.dA) is free now: it receives d(layer input); g.dC receives d(ctx).
    this.attentionOutputBackward(p, s, N, l, dH1, dOut, g.dC);
    // selfAttentionBackward uses g.dC as scratch after reading d(ctx) into dQKV, so copy d(ctx) aside first.
    const dCtx = g.dB;
    dCtx.set(g.dC.subarray(0, N * this.config.hiddenSize));
    this.selfAttentionBackward(p, x, s, batch, l, dCtx, dOut, g);
  }

  // ---- pooler: dense + tanh on the first token ----

  private poolerForward(a: BackboneActs, x: Float32Array): void {
    const k = this.kernels,
      H = this.config.hiddenSize,
      B = a.B,
      T = a.T;
    for (let b = 0; b < B; b++) a.clsRows.set(x.subarray(b * T * H, b * T * H + H), b * H);
    k.linearForward(a.clsRows, this.pool!.w.w, this.pool!.b.w, a.poolPre, B, H, H);
    k.activationForward('tanh', a.poolPre, a.pooled, B * H);
  }

  /** Adds the pooler's contribution to d(sequence output) rows of the first tokens. */
  private poolerBackward(a: BackboneActs, g: BackwardScratch, dPooled: Float32Array, dSeq: Float32Array): void {
    const k = this.kernels,
      H = this.config.hiddenSize,
      B = a.B,
      T = a.T;
    k.activationBackward('tanh', a.poolPre, dPooled, g.dPoolPre, B * H);
    k.linearBackward(g.dPoolPre, a.clsRows, this.pool!.w.w, g.dCls, this.pool!.w.g, this.pool!.b.g, B, H, H);
    for (let b = 0; b < B; b++) {
      const off = b * T * H;
      for (let j = 0; j < H; j++) dSeq[off + j] += g.dCls[b * H + j];
    }
  }
}
