// The public BERT models: BertModel and every BertFor* head, with HF loss rules, fromPretrained and save.
import { getKernels } from '../native/index.js';
import type { DropoutSpec, Kernels } from '../tensor/kernels.js';
import { dropoutHash } from '../tensor/kernels.js';
import type { Tensor } from '../tensor/tensor.js';
import { join } from 'node:path';
import { CheckpointFormatError, FolderSnapshot } from '../io/index.js';
import {
  checkConfigFitsWeights,
  loadIntoStore,
  loadWarnings,
  readConfig,
  readWeights,
  resolveModelFolder,
  saveToDir,
} from './checkpoint.js';
import { BertConfig, ConfigError } from './config.js';
import { InputError } from './errors.js';
import type { ConfigJson, ModelType, ProblemType } from './config.js';
import { BACKBONE_ROOTS, familyOf, hasPooler, mlmHeadLayout, sinusoidalTable } from './family.js';
import { Backbone, siteSeed } from './encoder.js';
import { FLOAT32_MIN } from '../tensor/math.js';
import type { BackboneBatch } from './encoder.js';
import type { KeysToIgnoreOnLoad, LoadReport } from './checkpoint.js';
import { DenseClassifierHead, LMHead, LinearHead, bceWithLogitsLoss, crossEntropyLoss, mseLoss } from './heads.js';
import type { ClassifierHead, DenseClassifierLayout } from './heads.js';
import { initAll, initParameter, SeededRandom } from './init.js';
import { flatten, flattenInt } from './inputs.js';
import type { ArrayInput, BertInputs } from './inputs.js';
import { parseModelDtype, q8QuantizationConfig, storedQuantization } from './linear-dtype.js';
import type { ModelDtype, QuantizedWeight } from './linear-dtype.js';
import { ParamTable } from './params.js';
import type { Parameter, ParameterStore, ParamScope } from './params.js';

export interface ModelOptions {
  /** The kernels to compute with (default: getKernels(), i.e. the BERT_BACKEND choice). */
  kernels?: Kernels;
  /** Seed of the dropout masks and of random initialisation (default 0): same seed, same run. */
  seed?: number;
  /** Where warnings go (missing weights initialised, unused checkpoint tensors); default console.warn. */
  warn?: (message: string) => void;
  /** false leaves parameters at zero instead of the HF random initialisation (fromPretrained fills them). */
  initWeights?: boolean;
  /**
   * What the encoder's linear layers compute in (transformers.js's names): 'fp32' (default), 'q8' (int8 weights per
   * output channel, int8 activations quantized per token on the fly; inference), 'bf16' (needs AVX512-BF16 or AMX).
   * Attention, LayerNorm, embeddings and heads stay fp32; the fp32 weights are kept (backward and save use them).
   * A q8 model saves as a quantized folder (int8 weights + per-row scales); such a folder loads in q8 by default,
   * without fp32 copies of its int8 weights (and refuses backward), or in 'fp32' / 'bf16' with the weights
   * dequantized (int8 * scale: the original weights are not in the folder). An error says what is missing where the
   * CPU cannot run the dtype. See src/model/linear-dtype.ts.
   */
  dtype?: ModelDtype;
  /**
   * ModernBERT: run a right-padded batch on its attended tokens only (default true), as transformers' unpadded
   * (flash-attention) path does: the linear layers, norms and GeGLU skip the padding and each sequence's attention
   * spans its own length. Outputs at padding positions are then computed from zero hidden states. false computes
   * every position, as transformers' eager and sdpa paths do (those positions then hold what eager holds there,
   * which a question-answering loss reads: it spans every position). Other families ignore it: they have no unpadded
   * path.
   */
  unpad?: boolean;
}

export interface PretrainedOptions extends ModelOptions {
  /** Overrides of config.json fields, as HF `from_pretrained(..., **kwargs)` (e.g. { num_labels: 2 }). */
  config?: ConfigJson;
  /**
   * HF's ignore_mismatched_sizes for the head: a head tensor whose checkpoint shape no longer fits (a 3-class
   * classifier fine-tuned for 2 classes) is initialised afresh and reported, instead of refusing the load. The
   * backbone's tensors must always fit (a mismatch there means the weights belong to another model).
   */
  ignoreMismatchedSizes?: boolean;
}

export interface ForwardOptions {
  /** Training mode: dropout on (seeded). Default false (eval). */
  train?: boolean;
  /**
   * Dropout seed of this training forward (a non-negative integer). Default: a per-model counter (1, 2, ...), so
   * `seed: k` reproduces the masks of the k-th training forward of a fresh model with the same model seed.
   */
  seed?: number;
  /**
   * Run-wide index of the batch's first example (default 0). Dropout masks are drawn per example from it, so an
   * example gets the same masks in any batch that holds it: a data-parallel rank with examples 8..15 of a global
   * batch draws what one process draws for them.
   */
  firstExample?: number;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
  /**
   * Keep what backward() needs (default true). false — inference only: layers share activation buffers (BERT-base
   * at 32 x 128 needs about a sixth of the memory) and backward() is refused until a forward with grad: true.
   */
  grad?: boolean;
  /**
   * BertForPreTraining / BertForMaskedLM with labels: run the MLM head only at labelled positions (label != -100),
   * as the original BERT did. Same loss and gradients at a fraction of the decoder GEMM's cost (for pre-training);
   * the MLM logits tensor is then [M, vocab] for the M labelled positions in row-major order.
   */
  mlmLabeledOnly?: boolean;
}

/** Outputs every model may add. */
export interface CommonOutput {
  /** The loss when labels were given (a number; NaN when every label is ignored, as torch). */
  loss?: number;
  /** hidden_states[0] = embeddings output .. hidden_states[L], each [batch, seq, hidden]. */
  hiddenStates?: Tensor[];
  /** Attention probabilities of each layer, [batch, heads, seq, seq] (before attention dropout). */
  attentions?: Tensor[];
}

export interface BertModelOutput extends CommonOutput {
  lastHiddenState: Tensor;
  poolerOutput?: Tensor;
}
export interface PreTrainingOutput extends CommonOutput {
  predictionLogits: Tensor;
  seqRelationshipLogits: Tensor;
}
export interface LogitsOutput extends CommonOutput {
  logits: Tensor;
}
export interface QuestionAnsweringOutput extends CommonOutput {
  startLogits: Tensor;
  endLogits: Tensor;
}

function copyTensor(data: Float32Array, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: data.slice(0, n) };
}

/** What a subclass passes to build the shared machinery. */
interface Layout<Head> {
  /** '' for BertModel, 'bert.' for the heads (HF's `base_model_prefix`). */
  prefix: string;
  addPooler: boolean;
  /** Declares the head's parameters at the root scope, after the backbone's (the order of the flat buffer). */
  head: (root: ParamScope, backbone: Backbone, kernels: Kernels) => Head;
}

/** One forward pass as the heads see it, after the backbone ran. */
interface ForwardStep {
  batch: BackboneBatch;
  /** The leading dimensions of the inputs ([batch] or [batch, choices]). */
  lead: number[];
  train: boolean;
  seed: number;
  /** Run-wide index of backbone row 0 (examples times choices for multiple choice): dropout masks per example. */
  firstRow: number;
  /** The outputs every model may add (hidden states, attentions). */
  common: CommonOutput;
}

/** Options of {@link BertPreTrainedModel.save}. */
export interface SaveOptions {
  /** Storage precision of model.safetensors: float32 (default), float16 or bfloat16. */
  dtype?: 'float32' | 'float16' | 'bfloat16';
}

const SAVE_DTYPES: Record<string, 'F32' | 'F16' | 'BF16'> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** Shared machinery of every model: parameter store, backbone, inputs, dropout seeds, backward, save. */
export abstract class BertPreTrainedModel<Head = unknown> {
  readonly config: BertConfig;
  readonly kernels: Kernels;
  readonly store: ParameterStore;
  /** '' for BertModel, 'bert.' for the heads (HF module names). */
  readonly prefix: string;
  protected readonly backbone: Backbone;
  /** The task head's layers (null for BertModel). */
  protected readonly head: Head;
  protected readonly warn: (message: string) => void;
  /** Runs the backward of the last forward's loss; null when it had none. */
  protected pending: (() => void) | null = null;
  readonly seed: number;
  /** The dtype of the encoder's linear layers (ModelOptions.dtype). */
  readonly dtype: ModelDtype;
  private forwardCount = 0;
  /** The HF class name after the family's stem ('Model', 'ForMaskedLM', ...): RobertaForMaskedLM = Roberta + it. */
  static readonly headName: string = '';
  /** What fromPretrained found (missing, unexpected, resized tensors); null for a model built from a config. */
  loadReport: LoadReport | null = null;
  /** Parameters a checkpoint may lack without a warning (HF `_keys_to_ignore_on_load_missing`). */
  static readonly keysToIgnoreOnLoadMissing: readonly RegExp[] = [];
  /** Checkpoint tensors this class may leave unused without a warning (HF `_keys_to_ignore_on_load_unexpected`). */
  static readonly keysToIgnoreOnLoadUnexpected: readonly RegExp[] = [];

  protected constructor(
    config: BertConfig | ConfigJson,
    options: ModelOptions,
    layoutOf: (config: BertConfig) => Layout<Head>,
  ) {
    this.config = config = config instanceof BertConfig ? config : BertConfig.fromJson(config);
    const layout = layoutOf(config);
    this.kernels = options.kernels ?? getKernels();
    this.seed = (options.seed ?? 0) >>> 0;
    this.warn = options.warn ?? ((m: string) => console.warn(m));
    this.prefix = layout.prefix;
    // Every parameter is declared once, by the module that uses it; the store is then allocated in that order.
    const table = new ParamTable();
    // A q8 folder computes in q8 unless told otherwise; read in q8, its int8 linears hold no fp32 copy (external).
    const stored = storedQuantization(config.extra, 'config.json');
    this.dtype = parseModelDtype(options.dtype ?? stored ?? 'fp32', 'model options');
    this.backbone = new Backbone(config, table.scope(layout.prefix), layout.addPooler, this.kernels, this.dtype);
    this.backbone.unpad = options.unpad ?? true;
    this.head = layout.head(table.scope(), this.backbone, this.kernels);
    const external = stored === 'q8' && this.dtype === 'q8';
    if (external && options.initWeights !== false)
      throw new InputError(
        'model options',
        'a quantized (q8) config has no float32 weights to initialise: use fromPretrained',
      );
    this.store = table.allocate(
      external ? new Set(this.backbone.dtypeLinears.flatMap((l) => l.parts.map((p) => p.name))) : undefined,
    );
    if (options.initWeights !== false) initAll(this.store, config, this.seed);
    if (options.initWeights !== false && config.sinusoidalPosEmbds) {
      const name = `${this.prefix}embeddings.position_embeddings.weight`;
      sinusoidalTable(config.maxPositionEmbeddings, config.embeddingSize, this.store.view(name));
    }
  }

  /**
   * Loads a model folder (HF layout: config.json + model.safetensors or pytorch_model.bin) as this class, through the
   * one loader (folder snapshot, config checked against the weights, missing head weights initialised and reported).
   */
  static fromPretrained<T extends BertPreTrainedModel, O extends ModelOptions>(
    this: ModelClass<T, O>,
    dir: string,
    options: PretrainedOptions & O = {} as PretrainedOptions & O,
  ): Promise<T> {
    return loadPretrained(this, dir, options);
  }

  /** The HF class name written to config.json "architectures". */
  get architecture(): string {
    return this.stem + (this.constructor as unknown as { headName: string }).headName;
  }

  /** The HF class name stem of this model's family (Bert, Roberta, XLMRoberta, DistilBert, Electra). */
  protected get stem(): string {
    return familyOf(this.config).classStem;
  }

  /** Every parameter with its gradient, as named views over the flat buffers (tied weights listed once). */
  parameters(): Parameter[] {
    return this.store.parameters();
  }

  /** Gradients by parameter name (views into the flat gradient buffer). */
  get gradients(): Map<string, Float32Array> {
    return new Map(this.store.order.map((n) => [n, this.store.gradView(n)]));
  }

  /** The parameter values by HF name (views); aliases such as cls.predictions.decoder.weight resolve too. */
  param(name: string): Float32Array {
    return this.store.view(name);
  }

  zeroGrad(): void {
    this.store.grad.fill(0);
  }

  /** Back-propagates the last forward's loss into `gradients` (+=). Call once per forward. */
  backward(): void {
    if (!this.pending)
      throw new Error(
        `${this.architecture}.backward(): the last forward computed no loss (pass labels), or backward already ran`,
      );
    const run = this.pending;
    this.pending = null;
    run();
  }

  /**
   * backward(), calling `ready` after each encoder layer with the byte offset in the gradient buffer from which the
   * gradients are final (data-parallel training reduces them while backward goes on).
   */
  backwardReporting(ready: (byteOffset: number) => void): void {
    this.backbone.gradientsReady = ready;
    try {
      this.backward();
    } finally {
      this.backbone.gradientsReady = null;
    }
  }

  /**
   * Writes config.json + model.safetensors as transformers' save_pretrained does. `dtype` (default float32) is the
   * storage precision of the weights and is recorded in config.json (`dtype`), which transformers 5 loads with
   * (dtype="auto"); float16 / bfloat16 halve the file (values rounded to nearest even, as torch does).
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    const dtype = options.dtype ?? 'float32';
    const stored = SAVE_DTYPES[dtype];
    if (stored === undefined) {
      throw new InputError(
        'save',
        (n) => `unknown ${n('dtype')} ${JSON.stringify(dtype)} (use ${Object.keys(SAVE_DTYPES).join(', ')})`,
      );
    }
    const config = this.config.clone();
    config.architectures = [this.architecture];
    // Always record the stored precision: a float16 inherited from a loaded checkpoint and left in config.json
    // would make transformers load F32 weights back in half precision.
    config.extra.dtype = dtype;
    if ('torch_dtype' in config.extra) config.extra.torch_dtype = dtype;
    // A q8 model saves its encoder linears as int8 + per-row scales (what it computes with); other dtypes in float.
    delete config.extra.quantization_config;
    if (this.dtype === 'q8') config.extra.quantization_config = q8QuantizationConfig();
    saveToDir(dir, config, this.store, stored, this.dtype === 'q8' ? this.backbone.quantizedWeights() : undefined);
  }

  /** @internal fromPretrained of a q8 folder in q8: the int8 weights of the linears the store does not hold. */
  useQuantizedWeights(weights: Map<string, QuantizedWeight>): void {
    this.backbone.setQuantized(weights);
  }

  /**
   * The seed of one forward pass: an explicit `seed` (ForwardOptions) or the next value of a forward counter, mixed
   * with the model seed. Masks differ between steps but not between runs; an explicit seed lets a resumed run
   * replay them (seed k gives the masks the k-th counted training forward would draw).
   */
  protected nextSeed(train: boolean, explicit?: number): number {
    if (!train) return 0;
    if (explicit !== undefined) {
      if (!Number.isInteger(explicit) || explicit < 0)
        throw new InputError('forward', `seed must be a non-negative integer, found ${explicit}`);
      return dropoutHash(this.seed, explicit >>> 0);
    }
    this.forwardCount++;
    return dropoutHash(this.seed, this.forwardCount);
  }

  /** The dropout before a classifier (HF: classifier_dropout, else hidden_dropout_prob) in this forward step. */
  protected classifierDropout(step: ForwardStep): DropoutSpec | null {
    const p = this.config.classifierDropout ?? this.config.hiddenDropoutProb;
    return step.train && p > 0 ? { p, seed: siteSeed(step.seed, 0x7fffffff), firstExample: step.firstRow } : null;
  }

  /**
   * What every forward starts with: the inputs checked, this step's dropout seed, the backbone run. `firstTokenOnly`:
   * the head reads only the first token's state (summaryInput) or the pooler's, so an inference forward that keeps
   * nothing else may compute the last layer for those rows alone (Backbone.forward).
   */
  protected encode(inputs: BertInputs, options: ForwardOptions, rank: 2 | 3 = 2, firstTokenOnly = false): ForwardStep {
    const { batch, lead } = this.prepare(inputs, rank);
    const train = options.train ?? false;
    const seed = this.nextSeed(train, options.seed);
    const first = options.firstExample ?? 0;
    if (!Number.isInteger(first) || first < 0)
      throw new InputError('forward', `firstExample must be a non-negative integer, found ${first}`);
    const firstRow = first * (batch.B / (lead[0] ?? batch.B));
    const common = this.runBackbone(batch, options, seed, firstRow, firstTokenOnly);
    return { batch, lead, train, seed, firstRow, common };
  }

  /**
   * Validates ids / mask / types and builds the backbone batch. `rank` 2: [batch, seq] (a single [seq] is batch 1);
   * rank 3: [batch, choices, seq] flattened to [batch*choices, seq].
   */
  protected prepare(inputs: BertInputs, rank: 2 | 3): { batch: BackboneBatch; lead: number[] } {
    const c = this.config;
    if (!inputs || inputs.inputIds === undefined)
      throw new InputError(`${this.architecture}.forward`, 'inputs.inputIds is required');
    const ids = flattenInt(inputs.inputIds, 'inputIds');
    let shape = ids.shape;
    if (shape.length === rank - 1) shape = [1, ...shape];
    if (shape.length !== rank) {
      throw new InputError(
        `${this.architecture}.forward`,
        `inputIds must have ${rank} dimensions (${rank === 3 ? '[batch, choices, seq]' : '[batch, seq]'}), found [${ids.shape.join(', ')}]`,
      );
    }
    const T = shape[shape.length - 1]!;
    const B = ids.data.length / Math.max(T, 1);
    if (T < 1 || B < 1)
      throw new InputError(`${this.architecture}.forward`, `empty input, shape [${shape.join(', ')}]`);
    if (T > c.maxSequenceLength) {
      throw new InputError(
        `${this.architecture}.forward`,
        c.maxSequenceLength === c.maxPositionEmbeddings
          ? `sequence length ${T} exceeds max_position_embeddings ${c.maxPositionEmbeddings}; truncate the input`
          : `sequence length ${T} exceeds ${c.maxSequenceLength} (max_position_embeddings ${c.maxPositionEmbeddings} less RoBERTa's padding_idx + 1); truncate the input`,
      );
    }
    for (let i = 0; i < ids.data.length; i++) {
      const v = ids.data[i]!;
      if (v < 0 || v >= c.vocabSize)
        throw new InputError('inputIds', `id ${v} at flat index ${i} is outside the vocabulary [0, ${c.vocabSize})`);
    }
    const sameSize = (name: string, n: number): void => {
      if (n !== ids.data.length)
        throw new InputError(name, `has ${n} values but inputIds has ${ids.data.length} (shapes must match)`);
    };
    let types: Int32Array;
    // DistilBERT has no token type embeddings: the type ids a tokenizer may give are not inputs of the model.
    if (inputs.tokenTypeIds !== undefined && familyOf(c).tokenTypes) {
      types = flattenInt(inputs.tokenTypeIds, 'tokenTypeIds').data;
      sameSize('tokenTypeIds', types.length);
      for (let i = 0; i < types.length; i++) {
        if (types[i]! < 0 || types[i]! >= c.typeVocabSize)
          throw new InputError(
            'tokenTypeIds',
            `value ${types[i]} at flat index ${i} is outside [0, ${c.typeVocabSize}) (type_vocab_size)`,
          );
      }
    } else types = new Int32Array(ids.data.length);
    const maskBias = new Float32Array(ids.data.length);
    if (inputs.attentionMask !== undefined) {
      const m = flatten(inputs.attentionMask, 'attentionMask').data;
      sameSize('attentionMask', m.length);
      for (let i = 0; i < m.length; i++) {
        const v = m[i]!;
        if (v !== 0 && v !== 1) throw new InputError('attentionMask', `value ${v} at flat index ${i} is not 0 or 1`);
        // HF: (1 - mask) * torch.finfo(float32).min
        maskBias[i] = v === 1 ? 0 : FLOAT32_MIN;
      }
    }
    return { batch: { B, T, inputIds: ids.data, tokenTypeIds: types, maskBias }, lead: shape.slice(0, -1) };
  }

  /** Runs the backbone and gathers the optional outputs. */
  protected runBackbone(
    batch: BackboneBatch,
    options: ForwardOptions,
    seed: number,
    firstRow: number,
    firstTokenOnly: boolean,
  ): CommonOutput {
    this.pending = null;
    const keepAll = options.grad !== false || options.outputHiddenStates === true || options.outputAttentions === true;
    this.backbone.forward(batch, options.train ?? false, seed, keepAll, firstRow, firstTokenOnly);
    const out: CommonOutput = {};
    const { B, T } = batch;
    const H = this.config.hiddenSize,
      nh = this.config.numAttentionHeads;
    if (options.outputHiddenStates)
      out.hiddenStates = this.backbone.hiddenStates().map((h) => copyTensor(h, [B, T, H]));
    if (options.outputAttentions) out.attentions = this.backbone.attentions().map((a) => copyTensor(a, [B, nh, T, T]));
    return out;
  }

  /** Integer labels with an expected element count. */
  protected intLabels(input: ArrayInput, name: string, n: number): Int32Array {
    const l = flattenInt(input, name).data;
    if (l.length !== n)
      throw new InputError(`${this.architecture}.forward`, `${name} has ${l.length} values, expected ${n}`);
    return l;
  }
}

type ModelClass<T, O = ModelOptions> = (new (config: BertConfig, options?: O) => T) & KeysToIgnoreOnLoad;

/** A model class: built from a config, or loaded by fromPretrained (every BertFor* class and family member). */
export type PretrainedModelClass<
  T extends BertPreTrainedModel = BertPreTrainedModel,
  O extends ModelOptions = ModelOptions,
> = ModelClass<T, O> & Pick<typeof BertPreTrainedModel, 'fromPretrained'>;

/**
 * The one loader behind every fromPretrained: config (with overrides), weights read from one folder snapshot,
 * the config checked against the weights, missing (or, with ignoreMismatchedSizes, resized head) parameters
 * initialised, and loadWarnings' report minus what the class declares ignorable.
 */
async function loadPretrained<T extends BertPreTrainedModel, O extends ModelOptions>(
  cls: ModelClass<T, O>,
  folder: string,
  options: PretrainedOptions & O,
): Promise<T> {
  // Every file is read once, from one descriptor; the snapshot refuses the load if the folder changed meanwhile.
  const dir = resolveModelFolder(folder);
  const snapshot = new FolderSnapshot();
  let config = readConfig(dir, snapshot);
  if (options.config)
    config = BertConfig.fromJson({ ...config.toJson(), ...options.config }, `${dir}/config.json (with overrides)`);
  if (options.config && 'num_labels' in options.config && !('id2label' in options.config)) {
    const n = options.config.num_labels;
    if (typeof n === 'number' && n !== config.numLabels) config.setNumLabels(n);
  }
  const { tensors, file } = readWeights(dir, snapshot);
  snapshot.verify();
  checkConfigFitsWeights(config, join(dir, 'config.json'), tensors, file);
  const { config: _overrides, ignoreMismatchedSizes, ...modelOptions } = options;
  const model = new cls(config, { ...modelOptions, initWeights: false } as O);
  const backbone = BACKBONE_ROOTS.map((r) => model.prefix + r);
  const quantized = new Map<string, QuantizedWeight>();
  const report = loadIntoStore(model.store, model.prefix, familyOf(config).prefix, tensors, file, {
    resizable: ignoreMismatchedSizes === true ? (name) => !backbone.some((b) => name.startsWith(b)) : undefined,
    quantized,
  });
  const lacking = report.missing.filter((n) => model.store.isExternal(n));
  if (lacking.length > 0)
    throw new CheckpointFormatError(file, `a quantized (q8) folder without the weights of ${lacking.join(', ')}`);
  if (model.store.order.some((n) => model.store.isExternal(n))) model.useQuantizedWeights(quantized);
  if (report.missing.length > 0) {
    const rng = new SeededRandom(dropoutHash(model.seed, 0x1234));
    for (const name of report.missing) initParameter(model.store, name, config, rng);
  }
  model.loadReport = report;
  const warn = options.warn ?? ((m: string) => console.warn(m));
  for (const message of loadWarnings(report, model.architecture, dir, cls)) warn(message);
  return model;
}

/**
 * Runs the MLM head over every token, or only over labelled rows (mlmLabeledOnly); returns the logits, their shape,
 * the labels aligned with the logits rows, and a backward returning d(sequence output) [N, H].
 */
function runMlmHead(
  lm: LMHead,
  seq: Float32Array,
  B: number,
  T: number,
  H: number,
  V: number,
  labels: Int32Array | null,
  labeledOnly: boolean,
): { logits: Float32Array; shape: number[]; rowLabels: Int32Array | null; backward: () => Float32Array } {
  const N = B * T;
  if (!labeledOnly || !labels) {
    const logits = lm.forward(seq, N);
    return { logits, shape: [B, T, V], rowLabels: labels, backward: () => lm.backward() };
  }
  const rows: number[] = [];
  for (let i = 0; i < N; i++) if (labels[i] !== -100) rows.push(i);
  const M = rows.length;
  if (M === 0) {
    // Nothing to predict: NaN loss (as torch's mean over no rows) and no gradient through the head.
    return {
      logits: new Float32Array(0),
      shape: [0, V],
      rowLabels: new Int32Array(0),
      backward: () => new Float32Array(N * H),
    };
  }
  const x = new Float32Array(M * H);
  rows.forEach((r, j) => x.set(seq.subarray(r * H, (r + 1) * H), j * H));
  const logits = lm.forward(x, M);
  const rowLabels = Int32Array.from(rows, (r) => labels[r]!);
  const backward = (): Float32Array => {
    const dx = lm.backward();
    const dSeq = new Float32Array(N * H);
    rows.forEach((r, j) => dSeq.set(dx.subarray(j * H, (j + 1) * H), r * H));
    return dSeq;
  };
  return { logits, shape: [M, V], rowLabels, backward };
}

/** The layout of a model whose head is one nn.Linear `name` (`out` outputs) on the pooled or the sequence output. */
function linearHeadLayout(c: BertConfig, onPooled: boolean, name: string, out: number): Layout<ClassifierHead> {
  return {
    prefix: familyOf(c).prefix,
    addPooler: onPooled,
    head: (root, _backbone, k) => new LinearHead(root, name, out, c.hiddenSize, k),
  };
}

/** The families' heads that are not BERT's, on the first token ([CLS], <s>) without a pooler. */
function firstTokenLayout(c: BertConfig, task: string, out: number): Layout<ClassifierHead> {
  const dense = firstTokenHead(c, task);
  if (!dense)
    throw new ConfigError(
      'config',
      `${familyOf(c).classStem}For${task} is not implemented (model_type ${c.modelType})`,
    );
  return denseHeadLayout(c, dense, out);
}

function denseHeadLayout(c: BertConfig, dense: DenseClassifierLayout, out: number): Layout<ClassifierHead> {
  return {
    prefix: familyOf(c).prefix,
    addPooler: false,
    head: (root, _backbone, k) => new DenseClassifierHead(root, dense, out, c.hiddenSize, k, c.layerNormEps),
  };
}

/**
 * ModernBERT's heads (sequence / token classification, question answering, multiple choice): ModernBertPredictionHead
 * (head.dense, classifier_activation, head.norm), drop, classifier (with its bias whatever classifier_bias says).
 */
function modernBertHead(c: BertConfig): DenseClassifierLayout {
  return {
    dense: 'head.dense',
    activation: c.classifierKernelActivation,
    norm: 'head.norm',
    out: 'classifier',
    dropoutFirst: false,
    biases: { dense: c.classifierBias, norm: c.normBias, out: true },
  };
}

/** The head on every token (token classification, question answering): BERT's linear `name`, or ModernBERT's. */
function tokenHeadLayout(c: BertConfig, name: string, out: number): Layout<ClassifierHead> {
  return c.modelType === 'modernbert'
    ? denseHeadLayout(c, modernBertHead(c), out)
    : linearHeadLayout(c, false, name, out);
}

/** The module names of each family's first-token head for `task` (SequenceClassification, MultipleChoice). */
export function firstTokenHead(c: BertConfig, task: string): DenseClassifierLayout | null {
  const t = c.modelType;
  if (t === 'modernbert') return modernBertHead(c);
  // DistilBertFor{SequenceClassification,MultipleChoice}: pre_classifier, ReLU, dropout, classifier.
  if (t === 'distilbert')
    return { dense: 'pre_classifier', activation: 'relu', out: 'classifier', dropoutFirst: false };
  // RobertaClassificationHead (tanh) and ElectraClassificationHead (gelu).
  if (task === 'SequenceClassification' && (t === 'roberta' || t === 'xlm-roberta' || t === 'electra')) {
    const activation = t === 'electra' ? 'gelu' : 'tanh';
    return { dense: 'classifier.dense', activation, out: 'classifier.out_proj', dropoutFirst: true };
  }
  // ElectraForMultipleChoice: ElectraSequenceSummary (sequence_summary.summary, summary_activation), classifier.
  if (task === 'MultipleChoice' && t === 'electra') {
    const activation = c.summaryKernelActivation;
    return { dense: 'sequence_summary.summary', activation, out: 'classifier', dropoutFirst: false };
  }
  return null;
}

/**
 * The head of sequence classification / multiple choice: BERT's (and RoBERTa's multiple choice) dropout + linear on
 * the pooler, else the family's dense head on the first token.
 */
function summaryLayout(c: BertConfig, task: string, out: number): Layout<ClassifierHead> {
  const pooled = c.modelType === 'bert' || (task === 'MultipleChoice' && familyOf(c).prefix === 'roberta.');
  return pooled ? linearHeadLayout(c, true, 'classifier', out) : firstTokenLayout(c, task, out);
}

/** Refuses a BERT-only head for another model_type (HF has no RobertaForPreTraining with NSP, ...). */
function bertOnly(c: BertConfig, task: string): BertConfig {
  if (c.modelType !== 'bert')
    throw new ConfigError(
      'config',
      `Bert${task} needs model_type "bert"; ${c.modelType} has no such head in transformers`,
    );
  return c;
}

/** A model whose head is a classifier (linearHeadLayout, summaryLayout): the heads share its loss and backward. */
export abstract class BertLinearHeadModel extends BertPreTrainedModel<ClassifierHead> {
  /**
   * ModernBERT's pooling of the last summaryInput: the weight of each token [rows, T] (0 / 1) and each row's divisor;
   * null for the first token of the other families.
   */
  private pooling: { weights: Float32Array; divisors: Float32Array } | null = null;

  /**
   * What a sentence-level head reads: the pooler output, or (families without a pooler) the first token's hidden
   * state of each of the `rows` sequences; ModernBERT's classifier_pooling of `batch` (`firstAttended`: "cls" takes
   * the first attended token, as ModernBertForMultipleChoice does).
   */
  protected summaryInput(rows: number, batch?: BackboneBatch, firstAttended = false): Float32Array {
    if (this.backbone.addPooler) return this.backbone.pooledOutput;
    this.pooling = null;
    if (this.config.modelType === 'modernbert' && batch) return this.poolTokens(rows, batch, firstAttended);
    return this.backbone.firstTokenOutput;
  }

  /**
   * modeling_modernbert.py's classifier_pooling: "cls" the first token (or the first attended one), "mean" the sum of
   * the attended tokens' states over their count.
   */
  private poolTokens(rows: number, batch: BackboneBatch, firstAttended: boolean): Float32Array {
    const H = this.config.hiddenSize,
      T = batch.T,
      seq = this.backbone.sequenceOutput;
    const weights = new Float32Array(rows * T),
      divisors = new Float32Array(rows).fill(1);
    const mean = this.config.classifierPooling === 'mean';
    for (let b = 0; b < rows; b++) {
      const attended = (t: number): boolean => batch.maskBias[b * T + t] === 0;
      if (mean) {
        let count = 0;
        for (let t = 0; t < T; t++) if (attended(t)) ((weights[b * T + t] = 1), count++);
        divisors[b] = count;
      } else {
        let first = 0;
        if (firstAttended) while (first < T - 1 && !attended(first)) first++;
        if (firstAttended && !attended(first)) first = 0; // attention_mask.argmax of an all-zero row
        weights[b * T + first] = 1;
      }
    }
    const pooled = new Float32Array(rows * H);
    for (let b = 0; b < rows; b++) {
      for (let t = 0; t < T; t++) {
        if (weights[b * T + t] === 0) continue;
        const row = seq.subarray((b * T + t) * H, (b * T + t + 1) * H);
        for (let j = 0; j < H; j++) pooled[b * H + j]! += row[j]!;
      }
      for (let j = 0; j < H; j++) pooled[b * H + j] = pooled[b * H + j]! / divisors[b]!;
    }
    this.pooling = { weights, divisors };
    return pooled;
  }

  /** Arms backward(): d(logits) in the head's dLogits flows into the summary input or the sequence output. */
  protected armHeadBackward(onPooled: boolean): void {
    if (!onPooled) this.pending = () => this.backbone.backward(this.head.backward(), null);
    else if (this.backbone.addPooler) this.pending = () => this.backbone.backward(null, this.head.backward());
    else
      this.pending = () => {
        const dFirst = this.head.backward();
        const H = this.config.hiddenSize,
          rows = dFirst.length / H;
        const N = this.backbone.sequenceOutput.length / H;
        const T = N / rows;
        const dSeq = new Float32Array(N * H);
        const pooling = this.pooling;
        if (pooling) {
          for (let i = 0; i < N; i++) {
            const w = pooling.weights[i]!,
              b = Math.floor(i / T);
            if (w === 0) continue;
            for (let j = 0; j < H; j++) dSeq[i * H + j] = dFirst[b * H + j]! / pooling.divisors[b]!;
          }
        } else for (let b = 0; b < rows; b++) dSeq.set(dFirst.subarray(b * H, (b + 1) * H), b * T * H);
        this.backbone.backward(dSeq, null);
      };
  }

  /**
   * The dropout of a sentence-level head: DistilBERT's seq_classif_dropout, ELECTRA's summary_last_dropout (multiple
   * choice), else the classifier dropout.
   */
  protected summaryDropout(step: ForwardStep): DropoutSpec | null {
    const c = this.config;
    const electraSummary = c.modelType === 'electra' && this.architecture === 'ElectraForMultipleChoice';
    if (c.modelType !== 'distilbert' && !electraSummary) return this.classifierDropout(step);
    const p = electraSummary ? c.summaryLastDropout : c.seqClassifDropout;
    return step.train && p > 0 ? { p, seed: siteSeed(step.seed, 0x7fffffff), firstExample: step.firstRow } : null;
  }

  /** Cross-entropy of integer labels (-100 ignored) over `rows` rows of `classes` logits; arms backward. */
  protected crossEntropyHeadLoss(
    labels: ArrayInput,
    logits: Float32Array,
    rows: number,
    classes: number,
    onPooled: boolean,
  ): number {
    const ids = this.intLabels(labels, 'labels', rows);
    const loss = crossEntropyLoss(this.kernels, logits, ids, rows, classes, -100, this.head.dLogits);
    this.armHeadBackward(onPooled);
    return loss;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The bare encoder (HF BertModel): last hidden state and pooler output. Parameter names have no `bert.` prefix. */
export class BertModel extends BertPreTrainedModel<null> {
  static override readonly headName: string = 'Model';
  // HF modeling_bert.py's _keys_to_ignore_on_load_* of this class.
  static override readonly keysToIgnoreOnLoadMissing: readonly RegExp[] = [/position_ids/];

  /**
   * `addPoolingLayer: false` leaves the pooler out (fromPretrained then leaves its checkpoint weights unused), as
   * HF's argument.
   */
  constructor(config: BertConfig | ConfigJson, options: ModelOptions & { addPoolingLayer?: boolean } = {}) {
    super(config, options, (c) => {
      if (options.addPoolingLayer === true && !hasPooler(c))
        throw new ConfigError('config', `${familyOf(c).classStem}Model has no pooler (addPoolingLayer)`);
      return { prefix: '', addPooler: options.addPoolingLayer ?? hasPooler(c), head: () => null };
    });
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): BertModelOutput {
    const { batch, common } = this.encode(inputs, options);
    const { B, T } = batch,
      H = this.config.hiddenSize;
    const out: BertModelOutput = { ...common, lastHiddenState: copyTensor(this.backbone.sequenceOutput, [B, T, H]) };
    if (this.backbone.addPooler) out.poolerOutput = copyTensor(this.backbone.pooledOutput, [B, H]);
    const N = B * T;
    // Without a loss, backward takes the gradients of the outputs (for heads built outside this library).
    this.pendingOutputs = { N, B };
    return out;
  }

  private pendingOutputs: { N: number; B: number } | null = null;

  /**
   * Back-propagates given gradients of lastHiddenState [B,T,H] and/or poolerOutput [B,H] of the last forward into
   * `gradients` (+=).
   */
  override backward(dLastHiddenState?: Float32Array | null, dPoolerOutput?: Float32Array | null): void {
    const p = this.pendingOutputs;
    if (!p) throw new Error('BertModel.backward(): call forward() first');
    const H = this.config.hiddenSize;
    if (!dLastHiddenState && !dPoolerOutput)
      throw new Error('BertModel.backward(dLastHiddenState, dPoolerOutput): give at least one gradient');
    if (dLastHiddenState && dLastHiddenState.length !== p.N * H)
      throw new InputError(
        'BertModel.backward',
        `dLastHiddenState has ${dLastHiddenState.length} values, expected ${p.N * H}`,
      );
    if (dPoolerOutput && dPoolerOutput.length !== p.B * H)
      throw new InputError(
        'BertModel.backward',
        `dPoolerOutput has ${dPoolerOutput.length} values, expected ${p.B * H}`,
      );
    if (dPoolerOutput && !this.backbone.addPooler) throw new Error('BertModel.backward: this model has no pooler');
    this.pendingOutputs = null;
    this.backbone.backward(
      dLastHiddenState ? dLastHiddenState.slice() : null,
      dPoolerOutput ? dPoolerOutput.slice() : null,
    );
  }
}

/** BertForPreTraining: MLM prediction head + next sentence prediction; loss = MLM loss + NSP loss. */
export class BertForPreTraining extends BertPreTrainedModel<{ lm: LMHead; nsp: LinearHead }> {
  static override readonly headName: string = 'ForPreTraining';
  // HF modeling_bert.py's _keys_to_ignore_on_load_* of this class.
  static override readonly keysToIgnoreOnLoadMissing: readonly RegExp[] = [
    /position_ids/,
    /predictions\.decoder\.bias/,
    /cls\.predictions\.decoder\.weight/,
  ];

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    // BertPreTrainingHeads: cls.predictions and cls.seq_relationship.
    super(config, options, (c) => ({
      prefix: familyOf(bertOnly(c, 'ForPreTraining')).prefix,
      addPooler: true,
      head: (root, backbone, k) => ({
        lm: new LMHead(c, root.pp('cls').pp('predictions'), backbone.wordEmbeddings, k),
        nsp: new LinearHead(root.pp('cls'), 'seq_relationship', 2, c.hiddenSize, k),
      }),
    }));
  }

  /**
   * Multiplies the gradients of the last forward's MLM and NSP losses (before backward): data-parallel training
   * weights each rank's share of a batch by its share of the masked tokens and of the sequences.
   */
  scaleLossGradients(mlm: number, nsp: number): void {
    this.kernels.scale(this.head.lm.dLogits, this.head.lm.dLogits.length, mlm);
    this.kernels.scale(this.head.nsp.dLogits, this.head.nsp.dLogits.length, nsp);
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): PreTrainingOutput {
    const { batch, common } = this.encode(inputs, options);
    const { B, T } = batch,
      N = B * T,
      V = this.config.vocabSize,
      H = this.config.hiddenSize;
    const labels = inputs.labels !== undefined ? this.intLabels(inputs.labels, 'labels', N) : null;
    const mlm = runMlmHead(
      this.head.lm,
      this.backbone.sequenceOutput,
      B,
      T,
      H,
      V,
      labels,
      options.mlmLabeledOnly ?? false,
    );
    const nspLogits = this.head.nsp.forward(this.backbone.pooledOutput, B, null);
    const out: PreTrainingOutput = {
      ...common,
      predictionLogits: copyTensor(mlm.logits, mlm.shape),
      seqRelationshipLogits: copyTensor(nspLogits, [B, 2]),
    };
    if (labels && inputs.nextSentenceLabel !== undefined) {
      const nspLabels = this.intLabels(inputs.nextSentenceLabel, 'nextSentenceLabel', B);
      const rowsN = mlm.rowLabels!.length;
      const mlmLoss = crossEntropyLoss(this.kernels, mlm.logits, mlm.rowLabels!, rowsN, V, -100, this.head.lm.dLogits);
      const nspLoss = crossEntropyLoss(this.kernels, nspLogits, nspLabels, B, 2, -100, this.head.nsp.dLogits);
      out.loss = mlmLoss + nspLoss;
      this.pending = () => {
        const dSeq = mlm.backward();
        const dPooled = this.head.nsp.backward();
        this.backbone.backward(dSeq, dPooled);
      };
    }
    return out;
  }
}

/** BertForMaskedLM: the MLM head over every token (no pooler); loss = cross-entropy on labels != -100. */
export class BertForMaskedLM extends BertPreTrainedModel<LMHead> {
  static override readonly headName: string = 'ForMaskedLM';
  // HF modeling_bert.py's _keys_to_ignore_on_load_* of this class.
  static override readonly keysToIgnoreOnLoadMissing: readonly RegExp[] = [
    /position_ids/,
    /predictions\.decoder\.bias/,
    /cls\.predictions\.decoder\.weight/,
  ];

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options, (c) => ({
      prefix: familyOf(c).prefix,
      addPooler: false,
      head: (root, backbone, k) => {
        const { scope, layout } = mlmHeadLayout(c);
        return new LMHead(c, scope === '' ? root : root.pp(scope), backbone.wordEmbeddings, k, layout);
      },
    }));
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const { batch, common } = this.encode(inputs, options);
    const { B, T } = batch,
      N = B * T,
      V = this.config.vocabSize,
      H = this.config.hiddenSize;
    const labels = inputs.labels !== undefined ? this.intLabels(inputs.labels, 'labels', N) : null;
    const mlm = runMlmHead(
      this.head,
      this.backbone.sequenceOutput,
      B,
      T,
      H,
      V,
      labels,
      options.mlmLabeledOnly ?? false,
    );
    const out: LogitsOutput = { ...common, logits: copyTensor(mlm.logits, mlm.shape) };
    if (labels) {
      out.loss = crossEntropyLoss(
        this.kernels,
        mlm.logits,
        mlm.rowLabels!,
        mlm.rowLabels!.length,
        V,
        -100,
        this.head.dLogits,
      );
      this.pending = () => this.backbone.backward(mlm.backward(), null);
    }
    return out;
  }
}

/** BertForNextSentencePrediction: linear layer on the pooled output; label 0 = B follows A. */
export class BertForNextSentencePrediction extends BertLinearHeadModel {
  static override readonly headName: string = 'ForNextSentencePrediction';

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    // BertOnlyNSPHead: cls.seq_relationship.
    super(config, options, (c) =>
      linearHeadLayout(bertOnly(c, 'ForNextSentencePrediction'), true, 'cls.seq_relationship', 2),
    );
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const { batch, common } = this.encode(inputs, options, 2, true);
    const B = batch.B;
    const logits = this.head.forward(this.backbone.pooledOutput, B, null);
    const out: LogitsOutput = { ...common, logits: copyTensor(logits, [B, 2]) };
    const labels = inputs.labels ?? inputs.nextSentenceLabel;
    if (labels !== undefined) out.loss = this.crossEntropyHeadLoss(labels, logits, B, 2, true);
    return out;
  }
}

/**
 * BertForSequenceClassification: dropout + linear on the pooled output. The loss follows config.problem_type,
 * inferred as HF does when unset: 1 label → regression (MSE), labels shaped [batch, numLabels] → multi-label
 * (BCE with logits), integer labels [batch] → single-label (cross-entropy).
 */
export class BertForSequenceClassification extends BertLinearHeadModel {
  static override readonly headName: string = 'ForSequenceClassification';

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options, (c) => summaryLayout(c, 'SequenceClassification', c.numLabels));
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const step = this.encode(inputs, options, 2, true);
    const { batch, common } = step;
    const B = batch.B,
      L = this.config.numLabels;
    const logits = this.head.forward(this.summaryInput(B, batch), B, this.summaryDropout(step));
    const out: LogitsOutput = { ...common, logits: copyTensor(logits, [B, L]) };
    if (inputs.labels !== undefined) {
      const labels = flatten(inputs.labels, 'labels');
      let problem: ProblemType | null = this.config.problemType;
      if (problem === null) {
        const integral = labels.data.every((v) => Number.isInteger(v));
        const isFloatTyped =
          typeof inputs.labels === 'object' &&
          inputs.labels !== null &&
          'data' in inputs.labels &&
          (inputs.labels.data instanceof Float32Array || inputs.labels.data instanceof Float64Array);
        if (L === 1) problem = 'regression';
        else if (integral && !isFloatTyped && labels.data.length === B) problem = 'single_label_classification';
        else problem = 'multi_label_classification';
        // HF records the inferred problem type in the config (and save() writes it).
        this.config.problemType = problem;
      }
      if (problem === 'single_label_classification') {
        out.loss = this.crossEntropyHeadLoss(inputs.labels, logits, B, L, true);
      } else {
        if (labels.data.length !== B * L)
          throw new InputError(
            `${this.architecture}.forward`,
            `${problem} labels need ${B * L} values ([batch, num_labels]), found ${labels.data.length}`,
          );
        const y = Float32Array.from(labels.data);
        out.loss =
          problem === 'regression'
            ? mseLoss(logits, y, B * L, this.head.dLogits)
            : bceWithLogitsLoss(logits, y, B * L, this.head.dLogits);
        this.armHeadBackward(true);
      }
    }
    return out;
  }
}

/** BertForTokenClassification: dropout + linear on every token; cross-entropy over labels != -100. */
export class BertForTokenClassification extends BertLinearHeadModel {
  static override readonly headName: string = 'ForTokenClassification';

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options, (c) => tokenHeadLayout(c, 'classifier', c.numLabels));
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const step = this.encode(inputs, options);
    const { batch, common } = step;
    const { B, T } = batch,
      N = B * T,
      L = this.config.numLabels;
    const logits = this.head.forward(this.backbone.sequenceOutput, N, this.classifierDropout(step), T);
    const out: LogitsOutput = { ...common, logits: copyTensor(logits, [B, T, L]) };
    if (inputs.labels !== undefined) out.loss = this.crossEntropyHeadLoss(inputs.labels, logits, N, L, false);
    return out;
  }
}

/**
 * BertForQuestionAnswering: qa_outputs gives start and end logits per token. Loss as HF: positions clamped to
 * [0, seq], a clamped position equal to seq is ignored, loss = (start CE + end CE) / 2.
 */
export class BertForQuestionAnswering extends BertLinearHeadModel {
  static override readonly headName: string = 'ForQuestionAnswering';
  private dStart = new Float32Array(0);
  private dEnd = new Float32Array(0);

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options, (c) => tokenHeadLayout(c, 'qa_outputs', 2));
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): QuestionAnsweringOutput {
    const step = this.encode(inputs, options);
    const { batch, common } = step;
    const { B, T } = batch,
      N = B * T;
    // DistilBertForQuestionAnswering applies qa_dropout before qa_outputs, ModernBERT's its classifier dropout before
    // the classifier; BERT's and the others' have none.
    const c = this.config;
    const p =
      c.modelType === 'distilbert' ? c.qaDropout : c.modelType === 'modernbert' ? (c.classifierDropout ?? 0) : 0;
    const drop = step.train && p > 0 ? { p, seed: siteSeed(step.seed, 0x7fffffff), firstExample: step.firstRow } : null;
    const logits = this.head.forward(this.backbone.sequenceOutput, N, drop, T);
    const start = new Float32Array(N),
      end = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      start[i] = logits[2 * i]!;
      end[i] = logits[2 * i + 1]!;
    }
    const out: QuestionAnsweringOutput = {
      ...common,
      startLogits: { shape: [B, T], data: start },
      endLogits: { shape: [B, T], data: end },
    };
    if (inputs.startPositions !== undefined && inputs.endPositions !== undefined) {
      const clamp = (l: Int32Array): Int32Array => l.map((v) => Math.min(Math.max(v, 0), T));
      const sp = clamp(this.intLabels(inputs.startPositions, 'startPositions', B));
      const ep = clamp(this.intLabels(inputs.endPositions, 'endPositions', B));
      if (this.dStart.length !== N) {
        this.dStart = new Float32Array(N);
        this.dEnd = new Float32Array(N);
      }
      const ls = crossEntropyLoss(this.kernels, start, sp, B, T, T, this.dStart, 0.5);
      const le = crossEntropyLoss(this.kernels, end, ep, B, T, T, this.dEnd, 0.5);
      out.loss = (ls + le) / 2;
      for (let i = 0; i < N; i++) {
        this.head.dLogits[2 * i] = this.dStart[i]!;
        this.head.dLogits[2 * i + 1] = this.dEnd[i]!;
      }
      this.armHeadBackward(false);
    }
    return out;
  }
}

/** BertForMultipleChoice: inputs [batch, choices, seq]; one score per choice from the pooled output. */
export class BertForMultipleChoice extends BertLinearHeadModel {
  static override readonly headName: string = 'ForMultipleChoice';

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(config, options, (c) => summaryLayout(c, 'MultipleChoice', 1));
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const step = this.encode(inputs, options, 3, true);
    const { batch, lead, common } = step;
    const [B, C] = lead as [number, number];
    const logits = this.head.forward(this.summaryInput(B * C, batch, true), B * C, this.summaryDropout(step));
    const out: LogitsOutput = { ...common, logits: copyTensor(logits, [B, C]) };
    if (inputs.labels !== undefined) out.loss = this.crossEntropyHeadLoss(inputs.labels, logits, B, C, true);
    return out;
  }
}

/**
 * ElectraForPreTraining: the replaced-token-detection discriminator (modeling_electra.py
 * ElectraDiscriminatorPredictions: dense → hidden_act → dense_prediction, one logit per token). Labels [batch, seq]
 * (1 = replaced); the loss is BCE with logits over the attended positions (attention_mask == 1), as HF.
 */
export class ElectraForPreTraining extends BertLinearHeadModel {
  static override readonly headName: string = 'ForPreTraining';
  private active = new Float32Array(0);
  private dActive = new Float32Array(0);

  constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
    super(ofModelType(config, 'electra', 'ElectraForPreTraining'), options, (c) => ({
      prefix: familyOf(c).prefix,
      addPooler: false,
      head: (root, _backbone, k) =>
        new DenseClassifierHead(
          root,
          {
            dense: 'discriminator_predictions.dense',
            activation: c.activation,
            out: 'discriminator_predictions.dense_prediction',
            dropoutFirst: false,
          },
          1,
          c.hiddenSize,
          k,
        ),
    }));
  }

  /** Multiplies the gradient of the last forward's loss before backward (ELECTRA's joint loss weights it by 50). */
  scaleLossGradient(factor: number): void {
    this.kernels.scale(this.head.dLogits, this.head.dLogits.length, factor);
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): LogitsOutput {
    const { batch, common } = this.encode(inputs, options);
    const { B, T } = batch,
      N = B * T;
    const logits = this.head.forward(this.backbone.sequenceOutput, N, null);
    const out: LogitsOutput = { ...common, logits: copyTensor(logits, [B, T]) };
    if (inputs.labels !== undefined) {
      const labels = flatten(inputs.labels, 'labels').data;
      if (labels.length !== N)
        throw new InputError(`${this.architecture}.forward`, `labels has ${labels.length} values, expected ${N}`);
      // The attended positions (HF: attention_mask == 1), in row-major order.
      const rows: number[] = [];
      for (let i = 0; i < N; i++) if (batch.maskBias[i] === 0) rows.push(i);
      if (this.active.length !== rows.length) {
        this.active = new Float32Array(rows.length);
        this.dActive = new Float32Array(rows.length);
      }
      const x = new Float32Array(rows.length);
      rows.forEach((r, j) => {
        x[j] = logits[r]!;
        this.active[j] = labels[r]!;
      });
      out.loss = bceWithLogitsLoss(x, this.active, rows.length, this.dActive);
      this.head.dLogits.fill(0);
      rows.forEach((r, j) => (this.head.dLogits[r] = this.dActive[j]!));
      this.armHeadBackward(false);
    }
    return out;
  }
}

type ModelConstructor<T, O> = (new (config: BertConfig | ConfigJson, options?: O) => T) & KeysToIgnoreOnLoad;
type PretrainedClass<T, O> = ModelConstructor<T, O> & Pick<typeof BertPreTrainedModel, 'fromPretrained'>;

/** `config` as a config of `modelType` (a JSON object without model_type gets it); another model_type is refused. */
function ofModelType(config: BertConfig | ConfigJson, modelType: ModelType, name: string): BertConfig {
  const c = config instanceof BertConfig ? config : BertConfig.fromJson({ model_type: modelType, ...config });
  if (c.modelType !== modelType)
    throw new ConfigError('config', `${name} needs model_type "${modelType}", found "${c.modelType}"`);
  return c;
}

/**
 * The HF class `name` of another family member: the BERT class of the same task (the one encoder and head code,
 * configured by model_type), bound to `modelType`. E.g. RobertaForMaskedLM = BertForMaskedLM over a roberta config.
 */
function familyMember<T extends BertPreTrainedModel, O extends ModelOptions>(
  base: ModelConstructor<T, O>,
  modelType: ModelType,
  name: string,
): PretrainedClass<T, O> {
  const Parent = base as unknown as new (config: BertConfig | ConfigJson, options?: ModelOptions) => object;
  const Member = class extends Parent {
    constructor(config: BertConfig | ConfigJson, options: ModelOptions = {}) {
      super(ofModelType(config, modelType, name), options);
    }
  };
  Object.defineProperty(Member, 'name', { value: name });
  return Member as unknown as PretrainedClass<T, O>;
}

export const RobertaModel = familyMember(BertModel, 'roberta', 'RobertaModel');
export const RobertaForMaskedLM = familyMember(BertForMaskedLM, 'roberta', 'RobertaForMaskedLM');
export const RobertaForSequenceClassification = familyMember(
  BertForSequenceClassification,
  'roberta',
  'RobertaForSequenceClassification',
);
export const RobertaForTokenClassification = familyMember(
  BertForTokenClassification,
  'roberta',
  'RobertaForTokenClassification',
);
export const RobertaForQuestionAnswering = familyMember(
  BertForQuestionAnswering,
  'roberta',
  'RobertaForQuestionAnswering',
);
export const RobertaForMultipleChoice = familyMember(BertForMultipleChoice, 'roberta', 'RobertaForMultipleChoice');
export const XLMRobertaModel = familyMember(BertModel, 'xlm-roberta', 'XLMRobertaModel');
export const XLMRobertaForMaskedLM = familyMember(BertForMaskedLM, 'xlm-roberta', 'XLMRobertaForMaskedLM');
export const XLMRobertaForSequenceClassification = familyMember(
  BertForSequenceClassification,
  'xlm-roberta',
  'XLMRobertaForSequenceClassification',
);
export const XLMRobertaForTokenClassification = familyMember(
  BertForTokenClassification,
  'xlm-roberta',
  'XLMRobertaForTokenClassification',
);
export const XLMRobertaForQuestionAnswering = familyMember(
  BertForQuestionAnswering,
  'xlm-roberta',
  'XLMRobertaForQuestionAnswering',
);
export const XLMRobertaForMultipleChoice = familyMember(
  BertForMultipleChoice,
  'xlm-roberta',
  'XLMRobertaForMultipleChoice',
);
export const DistilBertModel = familyMember(BertModel, 'distilbert', 'DistilBertModel');
export const DistilBertForMaskedLM = familyMember(BertForMaskedLM, 'distilbert', 'DistilBertForMaskedLM');
export const DistilBertForSequenceClassification = familyMember(
  BertForSequenceClassification,
  'distilbert',
  'DistilBertForSequenceClassification',
);
export const DistilBertForTokenClassification = familyMember(
  BertForTokenClassification,
  'distilbert',
  'DistilBertForTokenClassification',
);
export const DistilBertForQuestionAnswering = familyMember(
  BertForQuestionAnswering,
  'distilbert',
  'DistilBertForQuestionAnswering',
);
export const DistilBertForMultipleChoice = familyMember(
  BertForMultipleChoice,
  'distilbert',
  'DistilBertForMultipleChoice',
);
export const ElectraModel = familyMember(BertModel, 'electra', 'ElectraModel');
export const ElectraForMaskedLM = familyMember(BertForMaskedLM, 'electra', 'ElectraForMaskedLM');
export const ElectraForSequenceClassification = familyMember(
  BertForSequenceClassification,
  'electra',
  'ElectraForSequenceClassification',
);
export const ElectraForTokenClassification = familyMember(
  BertForTokenClassification,
  'electra',
  'ElectraForTokenClassification',
);
export const ElectraForMultipleChoice = familyMember(BertForMultipleChoice, 'electra', 'ElectraForMultipleChoice');
export const ElectraForQuestionAnswering = familyMember(
  BertForQuestionAnswering,
  'electra',
  'ElectraForQuestionAnswering',
);
export const ModernBertModel = familyMember(BertModel, 'modernbert', 'ModernBertModel');
export const ModernBertForMaskedLM = familyMember(BertForMaskedLM, 'modernbert', 'ModernBertForMaskedLM');
export const ModernBertForSequenceClassification = familyMember(
  BertForSequenceClassification,
  'modernbert',
  'ModernBertForSequenceClassification',
);
export const ModernBertForTokenClassification = familyMember(
  BertForTokenClassification,
  'modernbert',
  'ModernBertForTokenClassification',
);
export const ModernBertForQuestionAnswering = familyMember(
  BertForQuestionAnswering,
  'modernbert',
  'ModernBertForQuestionAnswering',
);
export const ModernBertForMultipleChoice = familyMember(
  BertForMultipleChoice,
  'modernbert',
  'ModernBertForMultipleChoice',
);

/** Every model class by its HF architecture name. */
export const MODEL_CLASSES = {
  BertModel,
  BertForPreTraining,
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertForQuestionAnswering,
  BertForMultipleChoice,
  RobertaModel,
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaForTokenClassification,
  RobertaForQuestionAnswering,
  RobertaForMultipleChoice,
  XLMRobertaModel,
  XLMRobertaForMaskedLM,
  XLMRobertaForSequenceClassification,
  XLMRobertaForTokenClassification,
  XLMRobertaForQuestionAnswering,
  XLMRobertaForMultipleChoice,
  DistilBertModel,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertForTokenClassification,
  DistilBertForQuestionAnswering,
  DistilBertForMultipleChoice,
  ElectraModel,
  ElectraForPreTraining,
  ElectraForMaskedLM,
  ElectraForSequenceClassification,
  ElectraForTokenClassification,
  ElectraForQuestionAnswering,
  ElectraForMultipleChoice,
  ModernBertModel,
  ModernBertForMaskedLM,
  ModernBertForSequenceClassification,
  ModernBertForTokenClassification,
  ModernBertForQuestionAnswering,
  ModernBertForMultipleChoice,
} as const;

export type BertArchitecture = keyof typeof MODEL_CLASSES;
