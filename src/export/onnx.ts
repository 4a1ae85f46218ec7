// ONNX export of a BERT-family model (BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA; opset 17, dynamic batch and sequence) from HF-named parameters and config.json.
import { firstTokenHead } from '../model/bert.js';
import { BertConfig, ConfigError, type ModelType } from '../model/config.js';
import { FAMILIES, familyOf, hasPooler, mlmHeadLayout } from '../model/family.js';
import { dtypeLinearWeightNames } from '../model/encoder.js';
import { quantizeForStorage, type QuantizedWeight } from '../model/linear-dtype.js';
import type { Activation } from '../tensor/kernels.js';
import { ProtoWriter } from './protobuf.js';

/** A parameter as HF names it (with or without the `bert.` prefix), shape as PyTorch stores it. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  /** A q8 folder's int8 rows and per-row scales of this weight (`data` is then their dequantized values). */
  q8?: QuantizedWeight;
}

/** The heads the exporter writes; 'auto' reads config.json `architectures`. */
export type OnnxHead = 'base' | 'sequence-classification' | 'token-classification' | 'question-answering' | 'masked-lm';

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

const ONNX_FLOAT = 1;
const ONNX_INT8 = 3;
const ONNX_INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

type Attr = { name: string; f: number } | { name: string; i: number } | { name: string; ints: number[] };

function tensorProto(name: string, dims: number[], type: number, raw: Uint8Array): ProtoWriter {
  const t = new ProtoWriter();
  for (const d of dims) t.int(1, d);
  t.int(2, type);
  t.string(8, name);
  t.bytes(9, raw);
  return t;
}

function bytesOf(a: Float32Array | BigInt64Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function valueInfo(name: string, elemType: number, dims: Array<number | string>): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims)
    shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Collects nodes and initializers; names outputs after the node so the graph reads like the module tree. */
class Graph {
  readonly nodes: ProtoWriter[] = [];
  readonly initializers: ProtoWriter[] = [];
  private constCount = 0;

  init(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(tensorProto(name, dims, ONNX_FLOAT, bytesOf(data)));
    return name;
  }

  int8(name: string, dims: number[], data: Int8Array): string {
    this.initializers.push(tensorProto(name, dims, ONNX_INT8, bytesOf(data)));
    return name;
  }

  scalar(value: number): string {
    return this.init(`const_${this.constCount++}`, [], Float32Array.of(value));
  }

  int64s(values: number[], dims: number[] = [values.length]): string {
    const name = `const_${this.constCount++}`;
    this.initializers.push(tensorProto(name, dims, ONNX_INT64, bytesOf(BigInt64Array.from(values.map(BigInt)))));
    return name;
  }

  node(op: string, name: string, inputs: string[], attrs: Attr[] = [], output = `${name}_output`): string {
    return this.nodeOutputs(op, name, inputs, [output], attrs)[0]!;
  }

  /** A node with several outputs (DynamicQuantizeLinear's value, scale and zero point). */
  nodeOutputs(op: string, name: string, inputs: string[], outputs: string[], attrs: Attr[] = []): string[] {
    const n = new ProtoWriter();
    for (const i of inputs) n.string(1, i);
    for (const o of outputs) n.string(2, o);
    n.string(3, name);
    n.string(4, op);
    for (const a of attrs) {
      const w = new ProtoWriter().string(1, a.name);
      if ('f' in a) w.float(2, a.f).int(20, ATTR_FLOAT);
      else if ('i' in a) w.int(3, a.i).int(20, ATTR_INT);
      else {
        for (const v of a.ints) w.int(8, v);
        w.int(20, ATTR_INTS);
      }
      n.message(5, w);
    }
    this.nodes.push(n);
    return outputs;
  }
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

/** The [rows, cols] of a parameter that must be a matrix (a linear or embedding weight). */
function matrixDims(w: NamedTensor): [rows: number, cols: number] {
  const [rows, cols] = w.shape;
  if (w.shape.length !== 2 || rows === undefined || cols === undefined)
    throw new OnnxExportError(`parameter ${w.name} must be a matrix, but its shape is [${w.shape}]`);
  return [rows, cols];
}

/** Transposes a PyTorch [out, in] linear weight to the [in, out] that MatMul wants. */
function transposed(w: NamedTensor): Float32Array {
  const [rows, cols] = matrixDims(w);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w.data[r * cols + c]!;
  return out;
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
 * module names, ELECTRA's embedding projection, each family's classification and masked-LM heads.
 */
export function exportBertOnnx(
  configJson: Record<string, unknown>,
  parameters: Iterable<NamedTensor>,
  options: OnnxExportOptions = {},
): Uint8Array {
  const cfg = readConfig(configJson);
  const family = familyOf(cfg);
  if (family.block.kind !== 'post-ln')
    throw new OnnxExportError(`ONNX export of ${cfg.modelType} (a pre-LN GeGLU encoder) is not supported yet`);
  const block = family.block;
  const head = resolveOnnxHead(configJson, options);
  const params = new Map<string, NamedTensor>();
  for (const p of parameters)
    params.set(p.name.startsWith(family.prefix) ? p.name.slice(family.prefix.length) : p.name, p);
  const get = (name: string): NamedTensor => {
    const p = params.get(name);
    if (!p) throw new OnnxExportError(`parameter ${name} is missing (needed by the ${head} graph)`);
    if (p.data.length !== p.shape.reduce((a, b) => a * b, 1))
      throw new OnnxExportError(`parameter ${name}: data length ${p.data.length} does not match shape [${p.shape}]`);
    return p;
  };
  const g = new Graph();
  const H = cfg.hiddenSize,
    D = cfg.headDim;
  const weight = (name: string): string => g.init(name, get(name).shape, get(name).data);
  const linearWeightT = (name: string): string => {
    const w = get(name);
    const [rows, cols] = matrixDims(w);
    return g.init(`${name}.T`, [cols, rows], transposed(w));
  };
  const quantized = options.dtype === 'q8' ? dtypeLinearWeightNames(cfg) : new Set<string>();
  // ONNX Runtime's dynamic quantization of x @ W: x to uint8 per tensor (DynamicQuantizeLinear), W int8 per output
  // channel with zero point 0, the int32 product scaled by x_scale * W_scale (quantize_dynamic's own node pattern).
  const xQuantized = new Map<string, string[]>();
  const quantizedMatMul = (x: string, prefix: string): string => {
    const w = get(`${prefix}.weight`);
    const [rows, cols] = matrixDims(w);
    const q = w.q8 ?? quantizeForStorage(w.data, rows, cols);
    const qT = new Int8Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) qT[c * rows + r] = q.data[r * cols + c]!;
    // One DynamicQuantizeLinear per input, shared by the products that read it (query, key and value), as ORT does.
    let xQuant = xQuantized.get(x);
    if (!xQuant) {
      const at = `${prefix}/MatMul_quant`;
      xQuant = g.nodeOutputs(
        'DynamicQuantizeLinear',
        at,
        [x],
        [`${at}/x_quantized`, `${at}/x_scale`, `${at}/x_zero_point`],
      );
      xQuantized.set(x, xQuant);
    }
    const [xq, xScale, xZero] = xQuant;
    const acc = g.node('MatMulInteger', `${prefix}/MatMul_quant_int`, [
      xq!,
      g.int8(`${prefix}.weight_quantized`, [cols, rows], qT),
      xZero!,
      g.int8(`${prefix}.weight_zero_point`, [rows], new Int8Array(rows)),
    ]);
    const accF = g.node('Cast', `${prefix}/MatMul_quant_cast`, [acc], [{ name: 'to', i: ONNX_FLOAT }]);
    const scales = g.node('Mul', `${prefix}/MatMul_quant_scales_mul`, [
      xScale!,
      g.init(`${prefix}.weight_scale`, [rows], q.scales),
    ]);
    return g.node('Mul', `${prefix}/MatMul_quant_output_scale_mul`, [accF, scales]);
  };
  const linear = (x: string, prefix: string): string => {
    const y = quantized.has(`${prefix}.weight`)
      ? quantizedMatMul(x, prefix)
      : g.node('MatMul', `${prefix}/MatMul`, [x, linearWeightT(`${prefix}.weight`)]);
    return params.has(`${prefix}.bias`) ? g.node('Add', `${prefix}/Add`, [y, weight(`${prefix}.bias`)]) : y;
  };
  const layerNorm = (x: string, prefix: string): string =>
    g.node(
      'LayerNormalization',
      `${prefix}/LayerNorm`,
      [x, weight(`${prefix}.weight`), weight(`${prefix}.bias`)],
      [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: cfg.layerNormEps },
      ],
    );
  const activation = (x: string, prefix: string, act: Activation): string => {
    switch (act) {
      case 'gelu': {
        const erf = g.node('Erf', `${prefix}/Erf`, [
          g.node('Mul', `${prefix}/MulSqrtHalf`, [x, g.scalar(Math.SQRT1_2)]),
        ]);
        const onePlus = g.node('Add', `${prefix}/AddOne`, [erf, g.scalar(1)]);
        return g.node('Mul', `${prefix}/MulHalf`, [g.node('Mul', `${prefix}/MulX`, [x, onePlus]), g.scalar(0.5)]);
      }
      case 'gelu_new':
      case 'gelu_fast': {
        const cube = g.node('Mul', `${prefix}/Cube`, [g.node('Mul', `${prefix}/Square`, [x, x]), x]);
        const inner = g.node('Add', `${prefix}/Inner`, [
          x,
          g.node('Mul', `${prefix}/MulCoef`, [cube, g.scalar(0.044715)]),
        ]);
        const t = g.node('Tanh', `${prefix}/Tanh`, [
          g.node('Mul', `${prefix}/MulC`, [inner, g.scalar(Math.sqrt(2 / Math.PI))]),
        ]);
        const onePlus = g.node('Add', `${prefix}/AddOne`, [t, g.scalar(1)]);
        return g.node('Mul', `${prefix}/MulHalf`, [g.node('Mul', `${prefix}/MulX`, [x, onePlus]), g.scalar(0.5)]);
      }
      case 'quick_gelu':
        return g.node('Mul', `${prefix}/Mul`, [
          x,
          g.node('Sigmoid', `${prefix}/Sigmoid`, [g.node('Mul', `${prefix}/Mul1702`, [x, g.scalar(1.702)])]),
        ]);
      case 'silu':
        return g.node('Mul', `${prefix}/Mul`, [x, g.node('Sigmoid', `${prefix}/Sigmoid`, [x])]);
      case 'relu':
        return g.node('Relu', `${prefix}/Relu`, [x]);
      case 'tanh':
        return g.node('Tanh', `${prefix}/Tanh`, [x]);
      case 'identity':
        return x;
    }
  };

  // Embeddings: word + position + token type (at embedding_size), LayerNorm, then ELECTRA's projection to hidden.
  let positions: string;
  if (family.positionIds === 'padding-offset') {
    // modeling_roberta.py create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad.
    const pad = g.int64s([cfg.padTokenId ?? 0], []);
    const notPad = g.node(
      'Cast',
      '/embeddings/NotPad',
      [g.node('Not', '/embeddings/Not', [g.node('Equal', '/embeddings/IsPad', ['input_ids', pad])])],
      [{ name: 'to', i: ONNX_INT64 }],
    );
    const counts = g.node('CumSum', '/embeddings/CumSum', [notPad, g.int64s([1], [])]);
    positions = g.node('Add', '/embeddings/AddPad', [g.node('Mul', '/embeddings/MaskCounts', [counts, notPad]), pad]);
  } else {
    const seqLen = g.node(
      'Gather',
      '/embeddings/SeqLen',
      [g.node('Shape', '/embeddings/Shape', ['input_ids']), g.int64s([1], [])],
      [{ name: 'axis', i: 0 }],
    );
    positions = g.node('Range', '/embeddings/Range', [g.int64s([0], []), seqLen, g.int64s([1], [])]);
  }
  const words = g.node('Gather', '/embeddings/word_embeddings/Gather', [
    weight('embeddings.word_embeddings.weight'),
    'input_ids',
  ]);
  const pos = g.node('Gather', '/embeddings/position_embeddings/Gather', [
    weight('embeddings.position_embeddings.weight'),
    positions,
  ]);
  let sum = g.node('Add', '/embeddings/Add0', [words, pos]);
  const tokenTypes = takesTokenTypes(cfg);
  if (family.tokenTypes) {
    const types = g.node('Gather', '/embeddings/token_type_embeddings/Gather', [
      weight('embeddings.token_type_embeddings.weight'),
      tokenTypes ? 'token_type_ids' : g.int64s([0], []),
    ]);
    sum = g.node('Add', '/embeddings/Add1', [sum, types]);
  }
  let x = layerNorm(sum, 'embeddings.LayerNorm');
  if (params.has('embeddings_project.weight')) x = linear(x, 'embeddings_project');

  // Additive mask [B,1,1,T]: 0 for tokens, float32 min for padding (HF's extended attention mask).
  const maskF = g.node('Cast', '/mask/Cast', ['attention_mask'], [{ name: 'to', i: ONNX_FLOAT }]);
  const inverted = g.node('Sub', '/mask/Sub', [g.scalar(1), maskF]);
  const maskBias = g.node('Unsqueeze', '/mask/Unsqueeze', [
    g.node('Mul', '/mask/Mul', [inverted, g.scalar(-3.4028234663852886e38)]),
    g.int64s([1, 2]),
  ]);

  const splitHeads = g.int64s([0, 0, cfg.numAttentionHeads, D]);
  const mergeHeads = g.int64s([0, 0, H]);
  const scale = g.scalar(1 / Math.sqrt(D));
  const names = block.names;
  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `${family.layers}.${l}`;
    const heads = (module: string, perm: number[]): string =>
      g.node(
        'Transpose',
        `/${p}/${module}/Transpose`,
        [g.node('Reshape', `/${p}/${module}/Reshape`, [linear(x, `${p}.${module}`), splitHeads])],
        [{ name: 'perm', ints: perm }],
      );
    const q = heads(names.qkv[0], [0, 2, 1, 3]);
    const kT = heads(names.qkv[1], [0, 2, 3, 1]);
    const v = heads(names.qkv[2], [0, 2, 1, 3]);
    const scores = g.node('Add', `/${p}/attention/AddMask`, [
      g.node('Mul', `/${p}/attention/Scale`, [g.node('MatMul', `/${p}/attention/QK`, [q, kT]), scale]),
      maskBias,
    ]);
    const probs = g.node('Softmax', `/${p}/attention/Softmax`, [scores], [{ name: 'axis', i: -1 }]);
    const ctx = g.node('Reshape', `/${p}/attention/Merge`, [
      g.node(
        'Transpose',
        `/${p}/attention/ContextT`,
        [g.node('MatMul', `/${p}/attention/PV`, [probs, v])],
        [{ name: 'perm', ints: [0, 2, 1, 3] }],
      ),
      mergeHeads,
    ]);
    const attnOut = g.node('Add', `/${p}/attention/Residual`, [linear(ctx, `${p}.${names.attentionOutput}`), x]);
    x = layerNorm(attnOut, `${p}.${names.attentionNorm}`);
    const inter = activation(linear(x, `${p}.${names.intermediate}`), `/${p}/intermediate/act`, cfg.activation);
    const out = g.node('Add', `/${p}/output/Residual`, [linear(inter, `${p}.${names.output}`), x]);
    x = layerNorm(out, `${p}.${names.outputNorm}`);
  }

  const outputs: ProtoWriter[] = [];
  const firstToken = (): string => g.node('Gather', '/head/First', [x, g.int64s([0], [])], [{ name: 'axis', i: 1 }]);
  const pooled = (): string => g.node('Tanh', '/pooler/Tanh', [linear(firstToken(), 'pooler.dense')]);
  const output = (value: string, name: string, dims: Array<number | string>): void => {
    g.node('Identity', `/output/${name}`, [value], [], name);
    outputs.push(valueInfo(name, ONNX_FLOAT, dims));
  };
  switch (head) {
    case 'base':
      output(x, 'last_hidden_state', ['batch_size', 'sequence_length', H]);
      if (hasPooler(cfg) && params.has('pooler.dense.weight')) output(pooled(), 'pooler_output', ['batch_size', H]);
      break;
    case 'sequence-classification': {
      // BERT: classifier on the pooler; the others: their dense head on the first token (bert.ts firstTokenHead).
      const dense = firstTokenHead(cfg, 'SequenceClassification');
      const out = dense ? dense.out : 'classifier';
      const [labels] = matrixDims(get(`${out}.weight`));
      const features = dense
        ? activation(linear(firstToken(), dense.dense), `/${dense.dense}/act`, dense.activation)
        : pooled();
      output(linear(features, out), 'logits', ['batch_size', labels]);
      break;
    }
    case 'token-classification': {
      const [labels] = matrixDims(get('classifier.weight'));
      output(linear(x, 'classifier'), 'logits', ['batch_size', 'sequence_length', labels]);
      break;
    }
    case 'question-answering': {
      const both = linear(x, 'qa_outputs');
      const column = (n: string, i: number): string =>
        g.node('Squeeze', `/qa/${n}/Squeeze`, [
          g.node('Slice', `/qa/${n}/Slice`, [both, g.int64s([i]), g.int64s([i + 1]), g.int64s([-1])]),
          g.int64s([-1]),
        ]);
      const start = column('start', 0);
      const end = column('end', 1);
      output(start, 'start_logits', ['batch_size', 'sequence_length']);
      output(end, 'end_logits', ['batch_size', 'sequence_length']);
      break;
    }
    case 'masked-lm': {
      // family.ts mlmHeadLayout: dense → activation → LayerNorm → decoder (tied to the word embeddings) + bias.
      const { scope, layout } = mlmHeadLayout(cfg);
      const at = (module: string): string => (scope ? `${scope}.${module}` : module);
      const t = layerNorm(
        activation(linear(x, at(layout.dense)), '/lm_head/transform/act', layout.activation),
        at(layout.norm),
      );
      const emb = params.get(`${at(layout.decoder)}.weight`) ?? get('embeddings.word_embeddings.weight');
      const [vocab, hidden] = matrixDims(emb);
      const decoderT = g.init(`${at(layout.decoder)}.weight.T`, [hidden, vocab], transposed(emb));
      const bias = (layout.bias && params.get(at(layout.bias))) || get(`${at(layout.decoder)}.bias`);
      const logits = g.node('Add', '/lm_head/decoder/Add', [
        g.node('MatMul', '/lm_head/decoder/MatMul', [t, decoderT]),
        g.init(`${at(layout.decoder)}.bias`, bias.shape, bias.data),
      ]);
      output(logits, 'logits', ['batch_size', 'sequence_length', vocab]);
      break;
    }
  }

  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'bert-ts');
  for (const i of g.initializers) graph.message(5, i);
  const inputs = tokenTypes ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
  for (const name of inputs) graph.message(11, valueInfo(name, ONNX_INT64, ['batch_size', 'sequence_length']));
  for (const o of outputs) graph.message(12, o);
  const model = new ProtoWriter()
    .int(1, 8) // ir_version 8 (ONNX 1.10+), the one that pairs with opset 17
    .string(2, 'bert-ts')
    .string(3, options.producerVersion ?? '0.1.0')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, 17));
  return model.finish();
}
