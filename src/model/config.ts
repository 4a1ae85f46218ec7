// BertConfig: the fields of a HuggingFace config.json that change BERT's math, validated, with HF defaults.
import type { Activation } from '../tensor/kernels.js';
import { ConfigError } from './errors.js';

export { ConfigError };

export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/** HF `hidden_act` names we implement, mapped to the kernel activation computing the same function. */
const ACTIVATIONS: Record<string, Activation> = {
  gelu: 'gelu',
  gelu_python: 'gelu',
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  gelu_fast: 'gelu_fast',
  quick_gelu: 'quick_gelu',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
  tanh: 'tanh',
  linear: 'identity',
};

const PROBLEM_TYPES: ProblemType[] = ['regression', 'single_label_classification', 'multi_label_classification'];

/** The model_type values of the BERT family that the one configured encoder implements. */
export const MODEL_TYPES = ['bert', 'roberta', 'xlm-roberta', 'distilbert', 'electra', 'modernbert'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/**
 * configuration_distilbert.py's own key names, read as the BERT field each one is (its attribute_map plus the
 * dropout and activation keys), and written back under the DistilBERT name.
 */
const DISTILBERT_KEYS: Readonly<Record<string, string>> = {
  dim: 'hidden_size',
  n_layers: 'num_hidden_layers',
  n_heads: 'num_attention_heads',
  hidden_dim: 'intermediate_size',
  dropout: 'hidden_dropout_prob',
  attention_dropout: 'attention_probs_dropout_prob',
  activation: 'hidden_act',
};

/** configuration_modernbert.py's names of BERT fields (written back under these names). */
const MODERNBERT_KEYS: Readonly<Record<string, string>> = {
  hidden_activation: 'hidden_act',
  norm_eps: 'layer_norm_eps',
  embedding_dropout: 'hidden_dropout_prob',
  attention_dropout: 'attention_probs_dropout_prob',
};

/** ModernBERT's attention kinds (config.json layer_types): all tokens, or a window of local_attention tokens. */
export type LayerType = 'full_attention' | 'sliding_attention';

/** HF defaults that differ from BertConfig's, per model_type (configuration_roberta.py, ..._distilbert, ..._electra). */
const TYPE_DEFAULTS: Readonly<Record<ModelType, ConfigJson>> = {
  bert: {},
  roberta: { pad_token_id: 1, vocab_size: 50265 },
  'xlm-roberta': { pad_token_id: 1 },
  distilbert: { num_hidden_layers: 6, intermediate_size: 3072 },
  electra: {
    embedding_size: 128,
    hidden_size: 256,
    num_attention_heads: 4,
    intermediate_size: 1024,
  },
  modernbert: {
    vocab_size: 50368,
    intermediate_size: 1152,
    num_hidden_layers: 22,
    max_position_embeddings: 8192,
    layer_norm_eps: 1e-5,
    pad_token_id: 50283,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    classifier_dropout: 0,
  },
};

/** Raw JSON object of a config.json. */
export type ConfigJson = Record<string, unknown>;

/**
 * Upper bounds of the size fields, checked before anything is allocated from them (a config.json comes from the
 * internet: `"vocab_size": 1e12` must be an error, not an allocation). Each is far above any published BERT
 * (BERT-large: hidden 1024, 24 layers, intermediate 4096, 512 positions; the largest vocabularies ~250k).
 */
export const CONFIG_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  vocab_size: 2 ** 24,
  hidden_size: 2 ** 16,
  num_hidden_layers: 1024,
  num_attention_heads: 2 ** 16,
  intermediate_size: 2 ** 18,
  max_position_embeddings: 2 ** 20,
  type_vocab_size: 2 ** 16,
  num_labels: 2 ** 20,
});

/**
 * The most parameters a config may describe (backbone + the largest head): 2^30 values, 4 GiB as float32, which
 * is also what one Float32Array holds on Node 20. BERT-large has 3.4e8.
 */
export const MAX_PARAMETERS = 2 ** 30;

export class BertConfig {
  vocabSize = 30522;
  hiddenSize = 768;
  numHiddenLayers = 12;
  numAttentionHeads = 12;
  intermediateSize = 3072;
  /** The `hidden_act` string as written in config.json. */
  hiddenAct = 'gelu';
  hiddenDropoutProb = 0.1;
  attentionProbsDropoutProb = 0.1;
  maxPositionEmbeddings = 512;
  typeVocabSize = 2;
  initializerRange = 0.02;
  layerNormEps = 1e-12;
  /** nn.Embedding padding_idx: its row starts at zero and gets no gradient from the lookup; null = none (HF None). */
  padTokenId: number | null = 0;
  positionEmbeddingType = 'absolute';
  classifierDropout: number | null = null;
  problemType: ProblemType | null = null;
  id2label: Record<number, string> = { 0: 'LABEL_0', 1: 'LABEL_1' };
  label2id: Record<string, number> = { LABEL_0: 0, LABEL_1: 1 };
  architectures: string[] | null = null;
  /** config.json's model_type: which member of the family (names, embeddings, heads). */
  modelType: ModelType = 'bert';
  /** ELECTRA's embedding_size (projected to hidden_size when different); hidden_size for the others. */
  embeddingSize = 768;
  /**
   * DistilBERT's sinusoidal_pos_embds: the position table starts as sinusoids. transformers 5 builds them in a copy
   * (DistilBertPreTrainedModel._init_weights), so the table stays a trained parameter, and so it is here.
   */
  sinusoidalPosEmbds = false;
  /** DistilBERT's seq_classif_dropout (sequence classification / multiple choice) and qa_dropout. */
  seqClassifDropout = 0.2;
  qaDropout = 0.1;
  /**
   * ELECTRA's sequence summary (ElectraForMultipleChoice): the first token → summary (hidden → hidden) →
   * summary_activation (`hidden_act` names; null = none) → dropout summary_last_dropout.
   */
  summaryActivation: string | null = 'gelu';
  summaryLastDropout = 0.1;
  /** ModernBERT's attention kind of each layer (layer_types, else every global_attn_every_n_layers-th global). */
  layerTypes: LayerType[] = [];
  /** ModernBERT's local_attention: a sliding layer's token sees the tokens at most local_attention / 2 away. */
  localAttention = 128;
  /** ModernBERT's rotary bases (rope_parameters' rope_theta; global_rope_theta / local_rope_theta). */
  globalRopeTheta = 160000;
  localRopeTheta = 10000;
  /** Whether LayerNorms, attention linears, MLP linears, the prediction head's dense and the decoder have biases. */
  normBias = true;
  attentionBias = true;
  mlpBias = true;
  classifierBias = true;
  decoderBias = true;
  /** ModernBERT's sentence-level heads read the first token ('cls') or the mean over attended tokens ('mean'). */
  classifierPooling: 'cls' | 'mean' = 'cls';
  /** ModernBERT's prediction head activation (`hidden_act` names). */
  classifierActivation = 'gelu';
  /** ModernBERT's dropout between the GeGLU and the MLP's output projection. */
  mlpDropout = 0;
  /** Every field read from config.json, kept so that save() writes back what it does not interpret. */
  extra: ConfigJson = {};

  /** Builds a config from a config.json object; `source` (a path) only improves error messages. */
  static fromJson(json: unknown, source = 'config'): BertConfig {
    const fail = (problem: string): never => {
      throw new ConfigError(source, problem);
    };
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      fail(
        `a BERT config must be a JSON object, found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`,
      );
    }
    const c = new BertConfig();
    c.extra = { ...(json as ConfigJson) };
    const mt = (json as ConfigJson).model_type;
    if (mt !== undefined && mt !== null && (typeof mt !== 'string' || !MODEL_TYPES.includes(mt as ModelType)))
      fail(`"model_type" ${show(mt)} is not supported (supported: ${MODEL_TYPES.join(', ')})`);
    c.modelType = (mt ?? 'bert') as ModelType;
    // The type's HF defaults, then the file; DistilBERT's keys read under the BERT names they stand for.
    const o: ConfigJson = { ...TYPE_DEFAULTS[c.modelType], ...(json as ConfigJson) };
    if (c.modelType === 'distilbert') {
      for (const [own, bert] of Object.entries(DISTILBERT_KEYS)) if (own in o) o[bert] = o[own];
      o.layer_norm_eps = 1e-12; // modeling_distilbert.py: nn.LayerNorm(dim, eps=1e-12), not configurable
      o.type_vocab_size = 1;
    }
    if (c.modelType === 'modernbert') {
      for (const [own, bert] of Object.entries(MODERNBERT_KEYS)) if (own in o) o[bert] = o[own];
      o.type_vocab_size = 1;
    }
    const int = (key: string, min: number, fallback: number): number => {
      const v = o[key];
      if (v === undefined || v === null) return fallback;
      const max = CONFIG_LIMITS[key] ?? Number.MAX_SAFE_INTEGER;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        fail(`"${key}" must be an integer in [${min}, ${max}], found ${show(v)}`);
      }
      return v as number;
    };
    const prob = (key: string, fallback: number): number => {
      const v = o[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
        fail(`"${key}" must be a probability in [0, 1), found ${show(v)}`);
      }
      return v as number;
    };
    c.vocabSize = int('vocab_size', 1, c.vocabSize);
    c.hiddenSize = int('hidden_size', 1, c.hiddenSize);
    c.numHiddenLayers = int('num_hidden_layers', 0, c.numHiddenLayers);
    c.numAttentionHeads = int('num_attention_heads', 1, c.numAttentionHeads);
    c.intermediateSize = int('intermediate_size', 1, c.intermediateSize);
    c.maxPositionEmbeddings = int('max_position_embeddings', 1, c.maxPositionEmbeddings);
    c.typeVocabSize = int('type_vocab_size', 1, c.typeVocabSize);
    c.hiddenDropoutProb = prob('hidden_dropout_prob', c.hiddenDropoutProb);
    c.attentionProbsDropoutProb = prob('attention_probs_dropout_prob', c.attentionProbsDropoutProb);
    c.embeddingSize = c.modelType === 'electra' ? int('embedding_size', 1, c.hiddenSize) : c.hiddenSize;
    c.seqClassifDropout = prob('seq_classif_dropout', c.seqClassifDropout);
    c.qaDropout = prob('qa_dropout', c.qaDropout);
    if (c.modelType === 'electra') {
      // ElectraSequenceSummary as ElectraConfig sets it up; its other forms are refused, not approximated.
      if ((o.summary_type ?? 'first') !== 'first')
        fail(`"summary_type" ${show(o.summary_type)} is not supported (only "first")`);
      if (o.summary_use_proj === false) fail('"summary_use_proj": false is not supported');
      if (o.summary_proj_to_labels === true) fail('"summary_proj_to_labels": true is not supported');
      if (typeof o.summary_first_dropout === 'number' && o.summary_first_dropout > 0)
        fail('"summary_first_dropout" > 0 is not supported');
      const sa = o.summary_activation;
      if (sa !== undefined && sa !== null && (typeof sa !== 'string' || !(sa in ACTIVATIONS)))
        fail(`unsupported "summary_activation" ${show(sa)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
      if (sa !== undefined) c.summaryActivation = sa as string | null;
      c.summaryLastDropout = prob('summary_last_dropout', c.summaryLastDropout);
    }
    if (c.modelType === 'modernbert') readModernBert(c, o, fail, prob);
    if (o.sinusoidal_pos_embds === true) {
      if (c.modelType !== 'distilbert') fail('"sinusoidal_pos_embds" is a DistilBERT setting');
      c.sinusoidalPosEmbds = true;
    }
    if (o.classifier_dropout !== undefined && o.classifier_dropout !== null)
      c.classifierDropout = prob('classifier_dropout', 0);
    const pad = o.pad_token_id;
    if (pad === null) c.padTokenId = null;
    else if (pad !== undefined) c.padTokenId = int('pad_token_id', 0, 0);
    const ir = o.initializer_range;
    if (ir !== undefined) {
      if (typeof ir !== 'number' || !(ir >= 0) || !Number.isFinite(ir))
        fail(`"initializer_range" must be a finite number >= 0, found ${show(ir)}`);
      c.initializerRange = ir as number;
    }
    const eps = o.layer_norm_eps;
    if (eps !== undefined) {
      if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps))
        fail(`"layer_norm_eps" must be a finite positive number, found ${show(eps)}`);
      c.layerNormEps = eps as number;
    }
    const act = o.hidden_act;
    if (act !== undefined) {
      if (typeof act !== 'string' || !(act in ACTIVATIONS)) {
        fail(`unsupported "hidden_act" ${show(act)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
      }
      c.hiddenAct = act as string;
    }
    const pet = o.position_embedding_type;
    if (pet !== undefined && pet !== null && pet !== 'absolute') {
      fail(`"position_embedding_type" ${show(pet)} is not supported (only "absolute")`);
    }
    // Settings that change the math in ways this implementation does not cover are refused, never ignored.
    if (o.is_decoder === true) fail('"is_decoder": true (causal BERT decoder) is not supported');
    if (o.add_cross_attention === true) fail('"add_cross_attention": true (encoder-decoder BERT) is not supported');
    if (o.tie_word_embeddings === false) {
      fail('"tie_word_embeddings": false is not supported (the MLM decoder is always the word embedding)');
    }
    if (c.hiddenSize % c.numAttentionHeads !== 0) {
      fail(`"hidden_size" ${c.hiddenSize} is not a multiple of "num_attention_heads" ${c.numAttentionHeads}`);
    }
    if ((c.modelType === 'roberta' || c.modelType === 'xlm-roberta') && c.padTokenId === null)
      fail('"pad_token_id" is required: RoBERTa counts positions from padding_idx + 1');
    if (c.padTokenId !== null && c.padTokenId >= c.vocabSize) {
      fail(`"pad_token_id" ${c.padTokenId} is outside the vocabulary of ${c.vocabSize}`);
    }
    const pt = o.problem_type;
    if (pt !== undefined && pt !== null) {
      if (typeof pt !== 'string' || !PROBLEM_TYPES.includes(pt as ProblemType)) {
        fail(`"problem_type" must be one of ${PROBLEM_TYPES.join(', ')}, found ${show(pt)}`);
      }
      c.problemType = pt as ProblemType;
    }
    // Labels, as HF PretrainedConfig: id2label wins, else num_labels, else 2.
    if (o.id2label !== undefined && o.id2label !== null) {
      if (typeof o.id2label !== 'object' || Array.isArray(o.id2label))
        fail('"id2label" must be an object mapping ids to names');
      const map: Record<number, string> = {};
      for (const [k, v] of Object.entries(o.id2label as Record<string, unknown>)) {
        const id = Number(k);
        if (!Number.isInteger(id) || id < 0) fail(`"id2label" key ${show(k)} is not a non-negative integer`);
        map[id] = String(v);
      }
      c.setLabels(map, source);
    } else if (o.num_labels !== undefined) {
      c.setNumLabels(int('num_labels', 1, 2));
    }
    if (o.label2id && typeof o.label2id === 'object' && !Array.isArray(o.label2id)) {
      const l2i: Record<string, number> = {};
      for (const [k, v] of Object.entries(o.label2id as Record<string, unknown>)) if (typeof v === 'number') l2i[k] = v;
      if (Object.keys(l2i).length === c.numLabels) c.label2id = l2i;
    }
    if (Array.isArray(o.architectures)) c.architectures = o.architectures.map(String);
    const count = c.parameterCount();
    if (count > MAX_PARAMETERS) {
      fail(
        `the model would have ${count.toExponential(3)} parameters (vocab_size ${c.vocabSize}, hidden_size ${c.hiddenSize}, ` +
          `num_hidden_layers ${c.numHiddenLayers}, intermediate_size ${c.intermediateSize}, max_position_embeddings ${c.maxPositionEmbeddings}); ` +
          `the limit is ${MAX_PARAMETERS} (2^30)`,
      );
    }
    return c;
  }

  /**
   * Parameters of the backbone with pooler plus an upper bound for any head (MLM + NSP + a num_labels classifier),
   * computed in float64 arithmetic without allocating: what {@link MAX_PARAMETERS} bounds.
   */
  parameterCount(): number {
    const V = this.vocabSize,
      H = this.hiddenSize,
      I = this.intermediateSize,
      L = this.numLabels;
    const embeddings = (V + this.maxPositionEmbeddings + this.typeVocabSize) * H + 2 * H;
    // ModernBERT's GeGLU input projection is 2I wide: counted as one more I (an upper bound for both blocks).
    const glu = this.modelType === 'modernbert' ? H * I + I : 0;
    const layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H + glu;
    const pooler = H * H + H;
    const heads = H * H + 3 * H + V + (2 * H + 2) + (H * L + L);
    return embeddings + this.numHiddenLayers * layer + pooler + heads;
  }

  /** A config with HF defaults and the given overrides (snake_case keys as in config.json). */
  static create(json: ConfigJson = {}): BertConfig {
    return BertConfig.fromJson(json);
  }

  get numLabels(): number {
    return Object.keys(this.id2label).length;
  }

  /**
   * The longest input the position embeddings cover: max_position_embeddings, less RoBERTa's padding_idx + 1
   * offset (positions count from pad_token_id + 1, so roberta-base's 514 positions hold 512 tokens).
   */
  get maxSequenceLength(): number {
    const offset = this.modelType === 'roberta' || this.modelType === 'xlm-roberta' ? (this.padTokenId ?? 0) + 1 : 0;
    return Math.max(0, this.maxPositionEmbeddings - offset);
  }

  get headDim(): number {
    return this.hiddenSize / this.numAttentionHeads;
  }

  /** The kernel activation of ELECTRA's summary_activation (identity when null). */
  get summaryKernelActivation(): Activation {
    return this.summaryActivation === null ? 'identity' : ACTIVATIONS[this.summaryActivation]!;
  }

  /** The kernel activation of ModernBERT's classifier_activation. */
  get classifierKernelActivation(): Activation {
    return ACTIVATIONS[this.classifierActivation]!;
  }

  /** The kernel activation computing `hidden_act`. */
  get activation(): Activation {
    const a = ACTIVATIONS[this.hiddenAct];
    if (!a) throw new ConfigError('config', `unsupported "hidden_act" ${show(this.hiddenAct)}`);
    return a;
  }

  /** Sets num_labels with HF's default names LABEL_i. */
  setNumLabels(n: number): void {
    const max = CONFIG_LIMITS.num_labels!;
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new ConfigError('config', `num_labels must be an integer in [1, ${max}], found ${n}`);
    const map: Record<number, string> = {};
    for (let i = 0; i < n; i++) map[i] = `LABEL_${i}`;
    this.setLabels(map);
  }

  setLabels(id2label: Record<number, string>, source = 'config'): void {
    const ids = Object.keys(id2label)
      .map(Number)
      .sort((a, b) => a - b);
    ids.forEach((id, i) => {
      if (id !== i) throw new ConfigError(source, `id2label ids must be 0..${ids.length - 1}, found ${id}`);
    });
    if (ids.length === 0) throw new ConfigError(source, 'id2label is empty');
    if (ids.length > CONFIG_LIMITS.num_labels!)
      throw new ConfigError(source, `id2label has ${ids.length} labels; the limit is ${CONFIG_LIMITS.num_labels}`);
    this.id2label = { ...id2label };
    this.label2id = {};
    for (const id of ids) this.label2id[id2label[id]!] = id;
  }

  clone(): BertConfig {
    const c = BertConfig.fromJson(this.toJson());
    c.extra = { ...this.extra };
    return c;
  }

  /** The config.json object (HF key names); fields we do not interpret are written back unchanged. */
  toJson(): ConfigJson {
    const o: ConfigJson = { ...this.extra };
    delete o.num_labels;
    Object.assign(o, {
      architectures: this.architectures ?? undefined,
      attention_probs_dropout_prob: this.attentionProbsDropoutProb,
      classifier_dropout: this.classifierDropout,
      hidden_act: this.hiddenAct,
      hidden_dropout_prob: this.hiddenDropoutProb,
      hidden_size: this.hiddenSize,
      id2label: Object.fromEntries(Object.entries(this.id2label).map(([k, v]) => [String(k), v])),
      initializer_range: this.initializerRange,
      intermediate_size: this.intermediateSize,
      label2id: { ...this.label2id },
      layer_norm_eps: this.layerNormEps,
      max_position_embeddings: this.maxPositionEmbeddings,
      model_type: this.modelType,
      num_attention_heads: this.numAttentionHeads,
      num_hidden_layers: this.numHiddenLayers,
      pad_token_id: this.padTokenId,
      position_embedding_type: this.positionEmbeddingType,
      type_vocab_size: this.typeVocabSize,
      vocab_size: this.vocabSize,
    });
    // transformers 5 leaves the default two labels (LABEL_0, LABEL_1) out of config.json.
    const defaultLabels = this.numLabels === 2 && this.id2label[0] === 'LABEL_0' && this.id2label[1] === 'LABEL_1';
    if (defaultLabels) {
      delete o.id2label;
      delete o.label2id;
    }
    if (this.problemType !== null) o.problem_type = this.problemType;
    else delete o.problem_type;
    if (o.architectures === undefined) delete o.architectures;
    if (this.modelType === 'electra') o.embedding_size = this.embeddingSize;
    if (this.modelType === 'distilbert') {
      for (const [own, bert] of Object.entries(DISTILBERT_KEYS)) {
        o[own] = o[bert];
        delete o[bert];
      }
      for (const k of ['layer_norm_eps', 'type_vocab_size', 'position_embedding_type', 'classifier_dropout'])
        delete o[k];
      Object.assign(o, {
        sinusoidal_pos_embds: this.sinusoidalPosEmbds,
        seq_classif_dropout: this.seqClassifDropout,
        qa_dropout: this.qaDropout,
      });
    }
    if (this.modelType === 'modernbert') {
      for (const [own, bert] of Object.entries(MODERNBERT_KEYS)) {
        o[own] = o[bert];
        delete o[bert];
      }
      for (const k of ['type_vocab_size', 'position_embedding_type']) delete o[k];
      for (const k of ['global_rope_theta', 'local_rope_theta']) delete o[k];
      // Everything that changes the math, written as transformers 5 writes it.
      Object.assign(o, {
        layer_types: this.layerTypes.slice(),
        local_attention: this.localAttention,
        rope_parameters: {
          full_attention: { rope_theta: this.globalRopeTheta, rope_type: 'default' },
          sliding_attention: { rope_theta: this.localRopeTheta, rope_type: 'default' },
        },
        norm_bias: this.normBias,
        attention_bias: this.attentionBias,
        mlp_bias: this.mlpBias,
        classifier_bias: this.classifierBias,
        decoder_bias: this.decoderBias,
        classifier_pooling: this.classifierPooling,
        classifier_activation: this.classifierActivation,
        mlp_dropout: this.mlpDropout,
      });
    }
    // Stable key order, as HF writes (sorted).
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  }
}

/**
 * configuration_modernbert.py's settings: layer kinds, window, rotary bases, biases, pooling. What changes the math
 * and is not implemented (RoPE scaling, sparse prediction) is refused.
 */
function readModernBert(
  c: BertConfig,
  o: ConfigJson,
  fail: (problem: string) => never,
  prob: (key: string, fallback: number) => number,
): void {
  const flag = (key: string, fallback: boolean): boolean => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') fail(`"${key}" must be true or false, found ${show(v)}`);
    return v as boolean;
  };
  c.normBias = flag('norm_bias', false);
  c.attentionBias = flag('attention_bias', false);
  c.mlpBias = flag('mlp_bias', false);
  c.classifierBias = flag('classifier_bias', false);
  c.decoderBias = flag('decoder_bias', true);
  if (flag('sparse_prediction', false)) fail('"sparse_prediction": true is not supported (use mlmLabeledOnly)');
  c.mlpDropout = prob('mlp_dropout', 0);
  const pooling = o.classifier_pooling ?? 'cls';
  if (pooling !== 'cls' && pooling !== 'mean')
    fail(`"classifier_pooling" must be "cls" or "mean", found ${show(pooling)}`);
  c.classifierPooling = pooling;
  const act = o.classifier_activation ?? 'gelu';
  if (typeof act !== 'string' || !(act in ACTIVATIONS))
    fail(`unsupported "classifier_activation" ${show(act)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  c.classifierActivation = act as string;
  const window = o.local_attention ?? 128;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 0)
    fail(`"local_attention" must be a non-negative integer, found ${show(window)}`);
  c.localAttention = window as number;
  const every = o.global_attn_every_n_layers ?? 3;
  if (typeof every !== 'number' || !Number.isInteger(every) || every < 1)
    fail(`"global_attn_every_n_layers" must be a positive integer, found ${show(every)}`);
  const types = o.layer_types;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || types.length !== c.numHiddenLayers)
      fail(`"layer_types" must list ${c.numHiddenLayers} layer kinds, found ${show(types)}`);
    for (const t of types as unknown[])
      if (t !== 'full_attention' && t !== 'sliding_attention')
        fail(`"layer_types" entry ${show(t)} is not "full_attention" or "sliding_attention"`);
    c.layerTypes = (types as LayerType[]).slice();
  } else {
    // configuration_modernbert.py: layer i is global when i % global_attn_every_n_layers == 0.
    c.layerTypes = Array.from({ length: c.numHiddenLayers }, (_, i) =>
      i % (every as number) === 0 ? 'full_attention' : 'sliding_attention',
    );
  }
  const theta = (kind: LayerType, legacy: string, fallback: number): number => {
    const params = (o.rope_parameters as Record<string, unknown> | undefined | null)?.[kind] as
      Record<string, unknown> | undefined;
    const type = params?.rope_type ?? 'default';
    if (type !== 'default') fail(`"rope_parameters.${kind}.rope_type" ${show(type)} is not supported (only "default")`);
    const v = params?.rope_theta ?? o[legacy] ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      fail(`the rotary base of ${kind} layers must be a positive number, found ${show(v)}`);
    return v as number;
  };
  c.globalRopeTheta = theta('full_attention', 'global_rope_theta', 160000);
  c.localRopeTheta = theta('sliding_attention', 'local_rope_theta', 10000);
  if (c.headDim % 2 !== 0) fail(`the head size ${c.headDim} must be even for rotary position embeddings`);
}

/**
 * Keys that transformers' strict config classes type as float (ModernBertConfig refuses `2` for
 * initializer_cutoff_factor): written with a decimal point even when whole.
 */
const FLOAT_KEYS = new Set([
  'initializer_cutoff_factor',
  'initializer_range',
  'norm_eps',
  'layer_norm_eps',
  'rope_theta',
  'global_rope_theta',
  'local_rope_theta',
]);

/** config.json's text: JSON with two-space indents, whole numbers of FLOAT_KEYS written as `2.0`. */
export function configJsonText(json: ConfigJson): string {
  const mark = '\u0000float:';
  const text = JSON.stringify(
    json,
    (key, v: unknown) => (FLOAT_KEYS.has(key) && typeof v === 'number' && Number.isInteger(v) ? `${mark}${v}` : v),
    2,
  );
  return text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0') + '\n';
}

/** A JSON value for an error message, cut to 60 characters. */
function show(v: unknown): string {
  const s =
    v === undefined
      ? 'nothing'
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}
