// BertConfig: the fields of a HuggingFace config.json that change BERT's math, validated, with HF defaults.
import type { Activation } from '../tensor/kernels.js';

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

/** Raw JSON object of a config.json. */
export type ConfigJson = Record<string, unknown>;

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
  /** Every field read from config.json, kept so that save() writes back what it does not interpret. */
  extra: ConfigJson = {};

  /** Builds a config from a config.json object; `source` (a path) only improves error messages. */
  static fromJson(json: unknown, source = 'config'): BertConfig {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error(`${source}: a BERT config must be a JSON object, found ${Array.isArray(json) ? 'an array' : typeof json}`);
    }
    const o = json as ConfigJson;
    const c = new BertConfig();
    c.extra = { ...o };
    const int = (key: string, min: number, fallback: number): number => {
      const v = o[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
        throw new Error(`${source}: "${key}" must be an integer >= ${min}, found ${JSON.stringify(v)}`);
      }
      return v;
    };
    const prob = (key: string, fallback: number): number => {
      const v = o[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
        throw new Error(`${source}: "${key}" must be a probability in [0, 1), found ${JSON.stringify(v)}`);
      }
      return v;
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
    if (o.classifier_dropout !== undefined && o.classifier_dropout !== null) c.classifierDropout = prob('classifier_dropout', 0);
    const pad = o.pad_token_id;
    if (pad === null) c.padTokenId = null;
    else if (pad !== undefined) c.padTokenId = int('pad_token_id', 0, 0);
    const ir = o.initializer_range;
    if (ir !== undefined) {
      if (typeof ir !== 'number' || !(ir >= 0)) throw new Error(`${source}: "initializer_range" must be a number >= 0, found ${JSON.stringify(ir)}`);
      c.initializerRange = ir;
    }
    const eps = o.layer_norm_eps;
    if (eps !== undefined) {
      if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`${source}: "layer_norm_eps" must be a positive number, found ${JSON.stringify(eps)}`);
      c.layerNormEps = eps;
    }
    const act = o.hidden_act;
    if (act !== undefined) {
      if (typeof act !== 'string' || !(act in ACTIVATIONS)) {
        throw new Error(`${source}: unsupported "hidden_act" ${JSON.stringify(act)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
      }
      c.hiddenAct = act;
    }
    const pet = o.position_embedding_type;
    if (pet !== undefined && pet !== null && pet !== 'absolute') {
      throw new Error(`${source}: "position_embedding_type" ${JSON.stringify(pet)} is not supported (only "absolute")`);
    }
    // Settings that change the math in ways this implementation does not cover are refused, never ignored.
    if (o.is_decoder === true) throw new Error(`${source}: "is_decoder": true (causal BERT decoder) is not supported`);
    if (o.add_cross_attention === true) throw new Error(`${source}: "add_cross_attention": true (encoder-decoder BERT) is not supported`);
    if (o.tie_word_embeddings === false) {
      throw new Error(`${source}: "tie_word_embeddings": false is not supported (the MLM decoder is always the word embedding)`);
    }
    if (c.hiddenSize % c.numAttentionHeads !== 0) {
      throw new Error(`${source}: "hidden_size" ${c.hiddenSize} is not a multiple of "num_attention_heads" ${c.numAttentionHeads}`);
    }
    if (c.padTokenId !== null && c.padTokenId >= c.vocabSize) {
      throw new Error(`${source}: "pad_token_id" ${c.padTokenId} is outside the vocabulary of ${c.vocabSize}`);
    }
    const pt = o.problem_type;
    if (pt !== undefined && pt !== null) {
      if (typeof pt !== 'string' || !PROBLEM_TYPES.includes(pt as ProblemType)) {
        throw new Error(`${source}: "problem_type" must be one of ${PROBLEM_TYPES.join(', ')}, found ${JSON.stringify(pt)}`);
      }
      c.problemType = pt as ProblemType;
    }
    // Labels, as HF PretrainedConfig: id2label wins, else num_labels, else 2.
    if (o.id2label !== undefined && o.id2label !== null) {
      if (typeof o.id2label !== 'object' || Array.isArray(o.id2label)) throw new Error(`${source}: "id2label" must be an object mapping ids to names`);
      const map: Record<number, string> = {};
      for (const [k, v] of Object.entries(o.id2label as Record<string, unknown>)) {
        const id = Number(k);
        if (!Number.isInteger(id) || id < 0) throw new Error(`${source}: "id2label" key ${JSON.stringify(k)} is not a non-negative integer`);
        map[id] = String(v);
      }
      c.setLabels(map);
    } else if (o.num_labels !== undefined) {
      c.setNumLabels(int('num_labels', 1, 2));
    }
    if (o.label2id && typeof o.label2id === 'object' && !Array.isArray(o.label2id)) {
      const l2i: Record<string, number> = {};
      for (const [k, v] of Object.entries(o.label2id as Record<string, unknown>)) if (typeof v === 'number') l2i[k] = v;
      if (Object.keys(l2i).length === c.numLabels) c.label2id = l2i;
    }
    if (Array.isArray(o.architectures)) c.architectures = o.architectures.map(String);
    return c;
  }

  /** A config with HF defaults and the given overrides (snake_case keys as in config.json). */
  static create(json: ConfigJson = {}): BertConfig {
    return BertConfig.fromJson(json);
  }

  get numLabels(): number {
    return Object.keys(this.id2label).length;
  }

  get headDim(): number {
    return this.hiddenSize / this.numAttentionHeads;
  }

  /** The kernel activation computing `hidden_act`. */
  get activation(): Activation {
    const a = ACTIVATIONS[this.hiddenAct];
    if (!a) throw new Error(`config: unsupported "hidden_act" ${JSON.stringify(this.hiddenAct)}`);
    return a;
  }

  /** Sets num_labels with HF's default names LABEL_i. */
  setNumLabels(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error(`config: num_labels must be an integer >= 1, found ${n}`);
    const map: Record<number, string> = {};
    for (let i = 0; i < n; i++) map[i] = `LABEL_${i}`;
    this.setLabels(map);
  }

  setLabels(id2label: Record<number, string>): void {
    const ids = Object.keys(id2label).map(Number).sort((a, b) => a - b);
    ids.forEach((id, i) => {
      if (id !== i) throw new Error(`config: id2label ids must be 0..${ids.length - 1}, found ${id}`);
    });
    if (ids.length === 0) throw new Error('config: id2label is empty');
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
      model_type: 'bert',
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
    // Stable key order, as HF writes (sorted).
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  }
}
