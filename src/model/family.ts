// The members of the BERT family as settings of the one encoder: checkpoint names, embeddings and block options.
import type { BertConfig, ModelType } from './config.js';
import type { LMHeadLayout } from './heads.js';

/**
 * How positions enter: a table read at 0..T-1 (BERT), at RoBERTa's count of non-padding tokens from padding_idx + 1,
 * or no table and rotary embeddings of 0..T-1 on queries and keys (ModernBERT).
 */
export type PositionIds = 'range' | 'padding-offset' | 'rotary';

/** The checkpoint names of one encoder layer, relative to `<layers>.N.` (modeling_*.py module names). */
export interface LayerNames {
  /** Query, key and value nn.Linear modules. */
  qkv: [string, string, string];
  attentionOutput: string;
  attentionNorm: string;
  intermediate: string;
  output: string;
  outputNorm: string;
}

/**
 * The encoder layer: BERT's post-LN block (attention, dense, LayerNorm(x + ...), intermediate, output, LayerNorm)
 * under the family's module names, or ModernBERT's pre-LN block (modeling_modernbert.py ModernBertEncoderLayer:
 * attn_norm, attn.Wqkv, rotary, attn.Wo, mlp_norm, mlp.Wi as GeGLU, mlp.Wo; then final_norm after the last layer).
 */
export type Block = { kind: 'post-ln'; names: LayerNames } | { kind: 'pre-ln-glu' };

/** What differs between the family's encoders. */
export interface Family {
  modelType: ModelType;
  /** HF class names' stem: Bert, Roberta, XLMRoberta, DistilBert, Electra. */
  classStem: string;
  /** base_model_prefix, with its dot: 'bert.', 'roberta.', 'distilbert.', 'electra.'. */
  prefix: string;
  /** The encoder's layer list under the base model ('encoder.layer' or DistilBERT's 'transformer.layer'). */
  layers: string;
  block: Block;
  /** The embeddings' word table and LayerNorm module names (BERT: word_embeddings, LayerNorm). */
  embeddingNames: { word: string; norm: string };
  tokenTypes: boolean;
  positionIds: PositionIds;
  /** Whether the attention output projection is followed by hidden dropout (DistilBERT's out_lin is not). */
  attentionOutputDropout: boolean;
}

// Each post-LN layer module under BERT's name and under DistilBERT's (modeling_distilbert.py TransformerBlock:
// MultiHeadSelfAttention q_lin, k_lin, v_lin, out_lin; sa_layer_norm; FFN lin1, lin2; output_layer_norm).
const LAYER_MODULES = {
  query: ['attention.self.query', 'attention.q_lin'],
  key: ['attention.self.key', 'attention.k_lin'],
  value: ['attention.self.value', 'attention.v_lin'],
  attentionOutput: ['attention.output.dense', 'attention.out_lin'],
  attentionNorm: ['attention.output.LayerNorm', 'sa_layer_norm'],
  intermediate: ['intermediate.dense', 'ffn.lin1'],
  output: ['output.dense', 'ffn.lin2'],
  outputNorm: ['output.LayerNorm', 'output_layer_norm'],
} as const;

/** The layer's module names in column `c` of LAYER_MODULES (0 BERT, 1 DistilBERT). */
function layerNames(c: 0 | 1): LayerNames {
  const m = LAYER_MODULES;
  return {
    qkv: [m.query[c], m.key[c], m.value[c]],
    attentionOutput: m.attentionOutput[c],
    attentionNorm: m.attentionNorm[c],
    intermediate: m.intermediate[c],
    output: m.output[c],
    outputNorm: m.outputNorm[c],
  };
}

const BERT_LAYER = layerNames(0);
const DISTILBERT_LAYER = layerNames(1);

const BERT_EMBEDDINGS = { word: 'word_embeddings', norm: 'LayerNorm' };

/** A family laid out as BERT (post-LN, BERT's module names, token types); the others override what differs. */
const bertLike = (modelType: ModelType, classStem: string, prefix: string, positionIds: PositionIds): Family => ({
  modelType,
  classStem,
  prefix,
  layers: 'encoder.layer',
  block: { kind: 'post-ln', names: BERT_LAYER },
  embeddingNames: BERT_EMBEDDINGS,
  tokenTypes: true,
  positionIds,
  attentionOutputDropout: true,
});

export const FAMILIES: Readonly<Record<ModelType, Family>> = {
  bert: bertLike('bert', 'Bert', 'bert.', 'range'),
  roberta: bertLike('roberta', 'Roberta', 'roberta.', 'padding-offset'),
  'xlm-roberta': bertLike('xlm-roberta', 'XLMRoberta', 'roberta.', 'padding-offset'),
  electra: bertLike('electra', 'Electra', 'electra.', 'range'),
  distilbert: {
    ...bertLike('distilbert', 'DistilBert', 'distilbert.', 'range'),
    layers: 'transformer.layer',
    block: { kind: 'post-ln', names: DISTILBERT_LAYER },
    tokenTypes: false,
    attentionOutputDropout: false,
  },
  // modeling_modernbert.py: ModernBertModel's embeddings (tok_embeddings, norm), layers, final_norm.
  modernbert: {
    ...bertLike('modernbert', 'ModernBert', 'model.', 'rotary'),
    layers: 'layers',
    block: { kind: 'pre-ln-glu' },
    embeddingNames: { word: 'tok_embeddings', norm: 'norm' },
    tokenTypes: false,
  },
};

export function familyOf(config: BertConfig): Family {
  return FAMILIES[config.modelType];
}

/** The first name segments of the base model's parameters (a checkpoint may store them with or without prefix). */
export const BACKBONE_ROOTS = [
  'embeddings.',
  'encoder.',
  'pooler.',
  'transformer.',
  'embeddings_project.',
  'layers.',
  'final_norm.',
];

/**
 * RoBERTa's create_position_ids_from_input_ids: non-padding tokens are numbered padding_idx + 1, padding_idx + 2, ...
 * and padding tokens get padding_idx (whose embedding row is the padding row).
 */
export function paddingOffsetPositions(inputIds: Int32Array, B: number, T: number, pad: number, out: Int32Array): void {
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (inputIds[i] === pad) out[i] = pad;
      else out[i] = pad + ++count;
    }
  }
}

/** DistilBERT's create_sinusoidal_embeddings: sin on even, cos on odd columns of position / 10000^(2j/dim). */
export function sinusoidalTable(positions: number, dim: number, out: Float32Array): void {
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < dim; j++) {
      const angle = p / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      out[p * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
}

/** Whether the base model has a pooler (BertPooler; RoBERTa's too; DistilBERT and ELECTRA have none). */
export function hasPooler(config: BertConfig): boolean {
  return config.modelType === 'bert' || familyOf(config).prefix === 'roberta.';
}

/**
 * The masked-LM head's scope and module names: modeling_bert.py cls.predictions, modeling_roberta.py
 * RobertaLMHead (lm_head; gelu whatever hidden_act says), DistilBertForMaskedLM's vocab_transform /
 * vocab_layer_norm / vocab_projector, ElectraForMaskedLM's generator_predictions + generator_lm_head (gelu).
 */
export function mlmHeadLayout(config: BertConfig): { scope: string; layout: LMHeadLayout } {
  switch (familyOf(config).prefix) {
    case 'roberta.':
      return {
        scope: 'lm_head',
        layout: { dense: 'dense', norm: 'layer_norm', decoder: 'decoder', bias: 'bias', activation: 'gelu' },
      };
    case 'distilbert.':
      return {
        scope: '',
        layout: {
          dense: 'vocab_transform',
          norm: 'vocab_layer_norm',
          decoder: 'vocab_projector',
          bias: null,
          activation: config.activation,
        },
      };
    case 'electra.':
      return {
        scope: '',
        layout: {
          dense: 'generator_predictions.dense',
          norm: 'generator_predictions.LayerNorm',
          decoder: 'generator_lm_head',
          bias: null,
          activation: 'gelu',
        },
      };
    // ModernBertForMaskedLM: head (dense, classifier_activation, norm), decoder (its own bias when decoder_bias).
    case 'model.':
      return {
        scope: '',
        layout: {
          dense: 'head.dense',
          norm: 'head.norm',
          decoder: 'decoder',
          bias: null,
          activation: config.classifierKernelActivation,
          biases: { dense: config.classifierBias, norm: config.normBias, out: config.decoderBias },
        },
      };
    default:
      return {
        scope: 'cls.predictions',
        layout: {
          dense: 'transform.dense',
          norm: 'transform.LayerNorm',
          decoder: 'decoder',
          bias: 'bias',
          activation: config.activation,
        },
      };
  }
}
