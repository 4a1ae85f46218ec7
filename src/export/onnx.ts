// ONNX export of a BERT-family model (BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA, ModernBERT; opset 17, dynamic batch and sequence) from HF-named parameters and config.json.
import { firstTokenHead } from '../model/bert.js';
import { BertConfig, ConfigError, type ModelType } from '../model/config.js';
import { FAMILIES, familyOf, hasPooler, mlmHeadLayout, type LayerNames } from '../model/family.js';
import { dtypeLinearWeightNames } from '../model/encoder.js';
import type { DenseClassifierLayout } from '../model/heads.js';
import {
  Graph,
  GraphLayers,
  matrixDims,
  ONNX_FLOAT,
  ONNX_INT64,
  OnnxExportError,
  transposed,
  valueInfo,
} from './onnx-graph.js';
import type { NamedTensor } from './onnx-graph.js';
import { firstAttendedToken, meanPooling, modernBertEncoder } from './onnx-modernbert.js';
import { ProtoWriter } from './protobuf.js';

export { OnnxExportError, type NamedTensor } from './onnx-graph.js';

/** The heads the exporter writes; 'auto' reads config.json `architectures`. */
export type OnnxHead =
  'base' | 'sequence-classification' | 'token-classification' | 'question-answering' | 'masked-lm' | 'multiple-choice';

export interface OnnxExportOptions {
  /** The graph's head; 'auto' (default) picks it from `task`, else from config.json `architectures`. */
  head?: OnnxHead | 'auto';
  /**
   * The pipeline task the graph is for (HF / optimum names: feature-extraction, text-classification,
   * token-classification, question-answering, fill-mask); feature-extraction gives the base model.
   */
  task?: string;
  /** Written as the model's producer_version. */
  producerVersion?: string;
  /**
   * 'q8': the encoder layers' linears as ONNX Runtime's quantize_dynamic writes them (per-channel int8 weights,
   * DynamicQuantizeLinear + MatMulInteger + scale Mul), with the int8 weights bert-ts q8 computes with; the rest fp32.
   */
  dtype?: 'fp32' | 'q8';
}

/** The model's config as the encoder reads it (model_type, DistilBERT's key names, defaults), errors as export errors. */
function readConfig(config: Record<string, unknown>): BertConfig {
  try {
    return BertConfig.fromJson(config, 'config.json');
  } catch (e) {
    if (e instanceof ConfigError) throw new OnnxExportError(e.message);
    throw e;
  }
}

/** The head each task needs (optimum's task names and the pipeline aliases). */
const TASK_HEADS: Record<string, OnnxHead> = {
  'feature-extraction': 'base',
  'text-classification': 'sequence-classification',
  'sentiment-analysis': 'sequence-classification',
  'token-classification': 'token-classification',
  ner: 'token-classification',
  'question-answering': 'question-answering',
  'fill-mask': 'masked-lm',
  'multiple-choice': 'multiple-choice',
};

/** The task names resolveOnnxHead accepts. */
export const ONNX_TASKS: readonly string[] = Object.keys(TASK_HEADS);

/** The suffix after the family's class stem of the HF class whose graph each head is. */
const HEAD_CLASS_SUFFIX: Record<OnnxHead, string> = {
  base: 'Model',
  'sequence-classification': 'ForSequenceClassification',
  'token-classification': 'ForTokenClassification',
  'question-answering': 'ForQuestionAnswering',
  'masked-lm': 'ForMaskedLM',
  'multiple-choice': 'ForMultipleChoice',
};

/** The family's HF class stem (Bert, Roberta, XLMRoberta, DistilBert, Electra) from config.json `model_type`. */
function classStem(config: Record<string, unknown>): string {
  const mt = config.model_type ?? 'bert';
  const family = typeof mt === 'string' && Object.hasOwn(FAMILIES, mt) ? FAMILIES[mt as ModelType] : undefined;
  if (!family)
    throw new OnnxExportError(
      `config.json: model_type ${JSON.stringify(mt)} cannot be exported to ONNX (supported: ${Object.keys(FAMILIES).join(', ')})`,
    );
  return family.classStem;
}

/** The HF class of the graph written for `head` (RobertaForSequenceClassification, DistilBertModel, ...). */
export function onnxArchitecture(config: Record<string, unknown>, head: OnnxHead): string {
  return classStem(config) + HEAD_CLASS_SUFFIX[head];
}

/**
 * The head to export: the explicit head, else the task's, else the one config.json `architectures` names. A
 * BertForPreTraining checkpoint without a task exports the base model (see headFromConfig).
 */
export function resolveOnnxHead(config: Record<string, unknown>, options: OnnxExportOptions = {}): OnnxHead {
  const explicit = options.head && options.head !== 'auto' ? options.head : undefined;
  if (options.task === undefined) return explicit ?? headFromConfig(config);
  const fromTask = TASK_HEADS[options.task];
  if (!fromTask) {
    throw new OnnxExportError(`unknown task "${options.task}"; supported: ${Object.keys(TASK_HEADS).join(', ')}`);
  }
  if (explicit && explicit !== fromTask) {
    throw new OnnxExportError(`head ${explicit} does not fit task ${options.task}, which needs the ${fromTask} head`);
  }
  return fromTask;
}

/**
 * config.json for the exported folder: the source config with `architectures` naming the class of the graph
 * written and the fp32 dtype of its weights (the source may say float16 or name a pre-training class, which
 * would tell transformers.js or optimum the wrong thing about the graph).
 */
export function exportedConfig(config: Record<string, unknown>, head: OnnxHead): Record<string, unknown> {
  // A q8 folder's quantization_config describes its safetensors, not the ONNX graphs: not carried over.
  const { quantization_config: _stored, ...rest } = config;
  return { ...rest, architectures: [onnxArchitecture(config, head)], dtype: 'float32', torch_dtype: 'float32' };
}

function headFromConfig(config: Record<string, unknown>): OnnxHead {
  const stem = classStem(config);
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : `${stem}Model`;
  const suffix = arch.startsWith(stem) ? arch.slice(stem.length) : undefined;
  // A pre-training checkpoint (BERT's MLM + NSP, ELECTRA's discriminator) is exported as its encoder: such a folder
  // is used for features far more often than for fill-mask, and transformers.js's feature-extraction on an MLM graph
  // would silently return vocabulary-wide "embeddings". The MLM graph is one task away (fill-mask).
  if (suffix === 'ForPreTraining') return 'base';
  if (arch === 'BertLMHeadModel') return 'masked-lm';
  const head = (Object.keys(HEAD_CLASS_SUFFIX) as OnnxHead[]).find((h) => HEAD_CLASS_SUFFIX[h] === suffix);
  if (head) return head;
  const supported = [...Object.values(HEAD_CLASS_SUFFIX), 'ForPreTraining'].map((x) => stem + x);
  throw new OnnxExportError(
    `config.json: architecture ${arch} cannot be exported to ONNX (supported: ${supported.join(', ')})`,
  );
}

/**
 * Whether the graph takes token_type_ids: BERT and ELECTRA do; DistilBERT has no token types (transformers.js's
 * DistilBERT models feed none); RoBERTa and XLM-R with their single token type take none either (optimum's and
 * transformers.js's RoBERTa graphs), its one embedding row is then a constant.
 */
function takesTokenTypes(c: BertConfig): boolean {
  const family = familyOf(c);
  return family.tokenTypes && (family.positionIds === 'range' || c.typeVocabSize > 1);
}

/**
 * Encodes the model as an ONNX ModelProto (ir_version 8, opset 17): inputs input_ids / attention_mask
 * [/ token_type_ids] (int64 [batch_size, sequence_length]; see takesTokenTypes); outputs by head:
 * last_hidden_state (+ pooler_output), logits, or start_logits + end_logits — the names transformers.js and optimum
 * use. The family's differences follow src/model/family.ts: RoBERTa's position ids from padding_idx, DistilBERT's
 * module names, ELECTRA's embedding projection, ModernBERT's pre-LN encoder (onnx-modernbert.ts), each family's
 * classification and masked-LM heads.
 */
export function exportBertOnnx(
  configJson: Record<string, unknown>,
  parameters: Iterable<NamedTensor>,
  options: OnnxExportOptions = {},
): Uint8Array {
  const cfg = readConfig(configJson);
  const family = familyOf(cfg);
  const head = resolveOnnxHead(configJson, options);
  const params = new Map<string, NamedTensor>();
  for (const p of parameters)
    params.set(p.name.startsWith(family.prefix) ? p.name.slice(family.prefix.length) : p.name, p);
  const quantized = options.dtype === 'q8' ? dtypeLinearWeightNames(cfg) : new Set<string>();
  const g = new Graph();
  const layers = new GraphLayers(g, params, cfg, quantized, `the ${head} graph`);
  const inputs = takesTokenTypes(cfg)
    ? ['input_ids', 'attention_mask', 'token_type_ids']
    : ['input_ids', 'attention_mask'];
  // Multiple choice (optimum's graph): inputs [batch_size, num_choices, sequence_length], each choice a row.
  const choices = head === 'multiple-choice';
  if (choices) {
    const flat = (name: string): string => g.node('Flatten', `/choices/${name}`, [name], [{ name: 'axis', i: 2 }]);
    const types = inputs.includes('token_type_ids') ? flat('token_type_ids') : 'token_type_ids';
    layers.inputs = { ids: flat('input_ids'), mask: flat('attention_mask'), types };
  }
  const x = family.block.kind === 'post-ln' ? postLnEncoder(layers, family.block.names) : modernBertEncoder(layers);
  const outputs = headOutputs(layers, x, head);

  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'bert-ts');
  for (const i of g.initializers) graph.message(5, i);
  const dims = choices ? ['batch_size', 'num_choices', 'sequence_length'] : ['batch_size', 'sequence_length'];
  for (const name of inputs) graph.message(11, valueInfo(name, ONNX_INT64, dims));
  for (const o of outputs) graph.message(12, o);
  const model = new ProtoWriter()
    .int(1, 8) // ir_version 8 (ONNX 1.10+), the one that pairs with opset 17
    .string(2, 'bert-ts')
    .string(3, options.producerVersion ?? '0.1.0')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, 17));
  return model.finish();
}

/**
 * The post-LN encoder (BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA) under the family's module names: embeddings (word
 * + position + token type at embedding_size, LayerNorm, ELECTRA's projection to hidden), then per layer attention,
 * residual, LayerNorm, intermediate, output, residual, LayerNorm. Returns the last hidden state [B, T, H].
 */
function postLnEncoder(layers: GraphLayers, names: LayerNames): string {
  const { g, cfg, params } = layers;
  const family = familyOf(cfg);
  let positions: string;
  if (family.positionIds === 'padding-offset') {
    // modeling_roberta.py create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad.
    const pad = g.int64s([cfg.padTokenId ?? 0], []);
    const notPad = g.node(
      'Cast',
      '/embeddings/NotPad',
      [g.node('Not', '/embeddings/Not', [g.node('Equal', '/embeddings/IsPad', [layers.inputs.ids, pad])])],
      [{ name: 'to', i: ONNX_INT64 }],
    );
    const counts = g.node('CumSum', '/embeddings/CumSum', [notPad, g.int64s([1], [])]);
    positions = g.node('Add', '/embeddings/AddPad', [g.node('Mul', '/embeddings/MaskCounts', [counts, notPad]), pad]);
  } else positions = g.range(g.dim(layers.inputs.ids, 1, '/embeddings/SeqLen'), '/embeddings/Range');
  const words = g.node('Gather', '/embeddings/word_embeddings/Gather', [
    layers.weight('embeddings.word_embeddings.weight'),
    layers.inputs.ids,
  ]);
  const pos = g.node('Gather', '/embeddings/position_embeddings/Gather', [
    layers.weight('embeddings.position_embeddings.weight'),
    positions,
  ]);
  let sum = g.node('Add', '/embeddings/Add0', [words, pos]);
  if (family.tokenTypes) {
    const types = g.node('Gather', '/embeddings/token_type_embeddings/Gather', [
      layers.weight('embeddings.token_type_embeddings.weight'),
      takesTokenTypes(cfg) ? layers.inputs.types : g.int64s([0], []),
    ]);
    sum = g.node('Add', '/embeddings/Add1', [sum, types]);
  }
  let x = layers.layerNorm(sum, 'embeddings.LayerNorm');
  if (params.has('embeddings_project.weight')) x = layers.linear(x, 'embeddings_project');

  const maskBias = layers.paddingMask();
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `${family.layers}.${l}`;
    const heads = (module: string, perm: number[]): string =>
      layers.splitHeads(layers.linear(x, `${p}.${module}`), `/${p}/${module}`, perm);
    const q = heads(names.qkv[0], [0, 2, 1, 3]);
    const kT = heads(names.qkv[1], [0, 2, 3, 1]);
    const v = heads(names.qkv[2], [0, 2, 1, 3]);
    const ctx = layers.attention(q, kT, v, maskBias, `/${p}/attention`);
    const attnOut = g.node('Add', `/${p}/attention/Residual`, [layers.linear(ctx, `${p}.${names.attentionOutput}`), x]);
    x = layers.layerNorm(attnOut, `${p}.${names.attentionNorm}`);
    const inter = layers.activation(
      layers.linear(x, `${p}.${names.intermediate}`),
      `/${p}/intermediate/act`,
      cfg.activation,
    );
    const out = g.node('Add', `/${p}/output/Residual`, [layers.linear(inter, `${p}.${names.output}`), x]);
    x = layers.layerNorm(out, `${p}.${names.outputNorm}`);
  }
  return x;
}

/** The head's outputs on the last hidden state x [B, T, H] (named Identity nodes) and their value infos. */
function headOutputs(layers: GraphLayers, x: string, head: OnnxHead): ProtoWriter[] {
  const { g, cfg, params } = layers;
  const H = cfg.hiddenSize;
  const outputs: ProtoWriter[] = [];
  const firstToken = (): string => g.node('Gather', '/head/First', [x, g.int64s([0], [])], [{ name: 'axis', i: 1 }]);
  const pooled = (): string => g.node('Tanh', '/pooler/Tanh', [layers.linear(firstToken(), 'pooler.dense')]);
  const output = (value: string, name: string, dims: Array<number | string>): void => {
    g.node('Identity', `/output/${name}`, [value], [], name);
    outputs.push(valueInfo(name, ONNX_FLOAT, dims));
  };
  // A dense head (RoBERTa's classifier.dense, DistilBERT's pre_classifier, ModernBERT's head): dense → activation
  // [→ LayerNorm] → out.
  const denseHead = (features: string, dense: DenseClassifierLayout): string => {
    let h = layers.activation(layers.linear(features, dense.dense), `/${dense.dense}/act`, dense.activation);
    if (dense.norm) h = layers.layerNorm(h, dense.norm);
    return layers.linear(h, dense.out);
  };
  // The head on every token (token classification, question answering): ModernBERT's dense head (firstTokenHead's for
  // every task), else the linear `name`.
  const modernBertHead = cfg.modelType === 'modernbert' ? firstTokenHead(cfg, 'TokenClassification') : null;
  const tokenHead = (name: string): string => (modernBertHead ? denseHead(x, modernBertHead) : layers.linear(x, name));
  switch (head) {
    case 'base':
      output(x, 'last_hidden_state', ['batch_size', 'sequence_length', H]);
      if (hasPooler(cfg) && params.has('pooler.dense.weight')) output(pooled(), 'pooler_output', ['batch_size', H]);
      break;
    case 'sequence-classification': {
      // BERT: classifier on the pooler; the others: their dense head on the first token (bert.ts firstTokenHead),
      // ModernBERT's on the first token or (classifier_pooling "mean") the mean of the attended ones.
      const dense = firstTokenHead(cfg, 'SequenceClassification');
      const out = dense ? dense.out : 'classifier';
      const [labels] = matrixDims(layers.get(`${out}.weight`));
      const mean = cfg.modelType === 'modernbert' && cfg.classifierPooling === 'mean';
      const features = mean ? meanPooling(layers, x) : dense ? firstToken() : pooled();
      output(dense ? denseHead(features, dense) : layers.linear(features, out), 'logits', ['batch_size', labels]);
      break;
    }
    case 'token-classification': {
      const [labels] = matrixDims(layers.get('classifier.weight'));
      output(tokenHead('classifier'), 'logits', ['batch_size', 'sequence_length', labels]);
      break;
    }
    case 'question-answering': {
      const both = tokenHead('qa_outputs');
      const column = (n: string, i: number): string =>
        g.node('Squeeze', `/qa/${n}/Squeeze`, [
          g.node('Slice', `/qa/${n}/Slice`, [both, g.int64s([i]), g.int64s([i + 1]), g.int64s([-1])]),
          g.int64s([-1]),
        ]);
      output(column('start', 0), 'start_logits', ['batch_size', 'sequence_length']);
      output(column('end', 1), 'end_logits', ['batch_size', 'sequence_length']);
      break;
    }
    case 'multiple-choice': {
      // bert.ts BertForMultipleChoice: BERT, RoBERTa and XLM-R score the pooler output, DistilBERT and ELECTRA their
      // dense head on the first token, ModernBERT its head on the first attended token (or the mean); one logit per
      // row, then [batch_size, num_choices].
      const dense = firstTokenHead(cfg, 'MultipleChoice');
      let features: string;
      if (cfg.modelType === 'modernbert')
        features = cfg.classifierPooling === 'mean' ? meanPooling(layers, x) : firstAttendedToken(layers, x);
      else features = dense ? firstToken() : pooled();
      const logits = dense ? denseHead(features, dense) : layers.linear(features, 'classifier');
      const count = g.node('Unsqueeze', '/choices/Count', [g.dim('input_ids', 1, '/choices/Dim'), g.int64s([0])]);
      const shape = g.node('Concat', '/choices/Shape', [g.int64s([-1]), count], [{ name: 'axis', i: 0 }]);
      output(g.node('Reshape', '/choices/Reshape', [logits, shape]), 'logits', ['batch_size', 'num_choices']);
      break;
    }
    case 'masked-lm': {
      // family.ts mlmHeadLayout: dense → activation → LayerNorm → decoder (tied to the word embeddings) [+ bias].
      const { scope, layout } = mlmHeadLayout(cfg);
      const at = (module: string): string => (scope ? `${scope}.${module}` : module);
      const t = layers.layerNorm(
        layers.activation(layers.linear(x, at(layout.dense)), '/lm_head/transform/act', layout.activation),
        at(layout.norm),
      );
      const word = `embeddings.${familyOf(cfg).embeddingNames.word}.weight`;
      const emb = params.get(`${at(layout.decoder)}.weight`) ?? layers.get(word);
      const [vocab, hidden] = matrixDims(emb);
      let logits = g.node('MatMul', '/lm_head/decoder/MatMul', [
        t,
        g.init(`${at(layout.decoder)}.weight.T`, [hidden, vocab], transposed(emb)),
      ]);
      if (layout.biases?.out !== false) {
        const bias = (layout.bias && params.get(at(layout.bias))) || layers.get(`${at(layout.decoder)}.bias`);
        const b = g.init(`${at(layout.decoder)}.bias`, bias.shape, bias.data);
        logits = g.node('Add', '/lm_head/decoder/Add', [logits, b]);
      }
      output(logits, 'logits', ['batch_size', 'sequence_length', vocab]);
      break;
    }
  }
  return outputs;
}
