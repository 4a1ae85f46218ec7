// ONNX export of a BERT model (opset 17, dynamic batch and sequence) from HF-named parameters and config.json.
import { ProtoWriter } from './protobuf.js';

/** A parameter as HF names it (with or without the `bert.` prefix), shape as PyTorch stores it. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
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
}

const ONNX_FLOAT = 1;
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

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
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

  scalar(value: number): string {
    return this.init(`const_${this.constCount++}`, [], Float32Array.of(value));
  }

  int64s(values: number[], dims: number[] = [values.length]): string {
    const name = `const_${this.constCount++}`;
    this.initializers.push(tensorProto(name, dims, ONNX_INT64, bytesOf(BigInt64Array.from(values.map(BigInt)))));
    return name;
  }

  node(op: string, name: string, inputs: string[], attrs: Attr[] = [], output = `${name}_output`): string {
    const n = new ProtoWriter();
    for (const i of inputs) n.string(1, i);
    n.string(2, output);
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
    return output;
  }
}

/** config.json fields the graph depends on, with HF defaults. */
interface GraphConfig {
  hidden: number;
  heads: number;
  layers: number;
  eps: number;
  act: string;
  numLabels: number;
}

function readConfig(config: Record<string, unknown>): GraphConfig {
  const num = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new OnnxExportError(`config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const act = config.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !ACTIVATIONS.has(act)) {
    throw new OnnxExportError(
      `config.json: hidden_act ${JSON.stringify(act)} is not supported by the ONNX exporter (supported: ${[...ACTIVATIONS].join(', ')})`,
    );
  }
  const id2label = config.id2label;
  const numLabels =
    typeof config.num_labels === 'number'
      ? config.num_labels
      : id2label && typeof id2label === 'object'
        ? Object.keys(id2label).length
        : 2;
  const hidden = num('hidden_size'),
    heads = num('num_attention_heads');
  if (hidden % heads !== 0)
    throw new OnnxExportError(`config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  return { hidden, heads, layers: num('num_hidden_layers'), eps: num('layer_norm_eps', 1e-12), act, numLabels };
}

const ACTIVATIONS = new Set([
  'gelu',
  'gelu_new',
  'gelu_fast',
  'gelu_pytorch_tanh',
  'quick_gelu',
  'relu',
  'silu',
  'swish',
  'tanh',
]);

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

/** The HF class whose graph each head is: what the exported config.json's `architectures` names. */
export const ONNX_HEAD_ARCHITECTURES: Record<OnnxHead, string> = {
  base: 'BertModel',
  'sequence-classification': 'BertForSequenceClassification',
  'token-classification': 'BertForTokenClassification',
  'question-answering': 'BertForQuestionAnswering',
  'masked-lm': 'BertForMaskedLM',
};

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
  return { ...config, architectures: [ONNX_HEAD_ARCHITECTURES[head]], dtype: 'float32', torch_dtype: 'float32' };
}

function headFromConfig(config: Record<string, unknown>): OnnxHead {
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : 'BertModel';
  switch (arch) {
    // A pre-training checkpoint is exported as its encoder: such a folder is used for features far more often
    // than for fill-mask, and transformers.js's feature-extraction on an MLM graph would silently return
    // vocabulary-wide "embeddings". The MLM graph is one task away (fill-mask).
    case 'BertForPreTraining':
    case 'BertModel':
      return 'base';
    case 'BertForSequenceClassification':
      return 'sequence-classification';
    case 'BertForTokenClassification':
      return 'token-classification';
    case 'BertForQuestionAnswering':
      return 'question-answering';
      return 'base';
    case 'BertForMaskedLM':
    case 'BertLMHeadModel':
      return 'masked-lm';
    default:
      throw new OnnxExportError(
        `config.json: architecture ${arch} cannot be exported to ONNX (supported: BertModel, BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering, BertForMaskedLM, BertForPreTraining)`,
      );
  }
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
 * Encodes the model as an ONNX ModelProto (ir_version 8, opset 17): inputs input_ids / attention_mask /
 * token_type_ids (int64 [batch_size, sequence_length]); outputs by head: last_hidden_state (+ pooler_output),
 * logits, or start_logits + end_logits — the names transformers.js and optimum use.
 */
export function exportBertOnnx(
  configJson: Record<string, unknown>,
  parameters: Iterable<NamedTensor>,
  options: OnnxExportOptions = {},
): Uint8Array {
  const cfg = readConfig(configJson);
  const head = resolveOnnxHead(configJson, options);
  const params = new Map<string, NamedTensor>();
  for (const p of parameters) params.set(p.name.startsWith('bert.') ? p.name.slice(5) : p.name, p);
  const get = (name: string): NamedTensor => {
    const p = params.get(name);
    if (!p) throw new OnnxExportError(`parameter ${name} is missing (needed by the ${head} graph)`);
    if (p.data.length !== p.shape.reduce((a, b) => a * b, 1))
      throw new OnnxExportError(`parameter ${name}: data length ${p.data.length} does not match shape [${p.shape}]`);
    return p;
  };
  const g = new Graph();
  const H = cfg.hidden,
    D = H / cfg.heads;
  const weight = (name: string): string => g.init(name, get(name).shape, get(name).data);
  const linearWeightT = (name: string): string => {
    const w = get(name);
    const [rows, cols] = matrixDims(w);
    return g.init(`${name}.T`, [cols, rows], transposed(w));
  };
  const linear = (x: string, prefix: string): string => {
    const y = g.node('MatMul', `${prefix}/MatMul`, [x, linearWeightT(`${prefix}.weight`)]);
    return params.has(`${prefix}.bias`) ? g.node('Add', `${prefix}/Add`, [y, weight(`${prefix}.bias`)]) : y;
  };
  const layerNorm = (x: string, prefix: string): string =>
    g.node(
      'LayerNormalization',
      `${prefix}/LayerNorm`,
      [x, weight(`${prefix}.weight`), weight(`${prefix}.bias`)],
      [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: cfg.eps },
      ],
    );
  const activation = (x: string, prefix: string): string => {
    switch (cfg.act) {
      case 'gelu': {
        const erf = g.node('Erf', `${prefix}/Erf`, [
          g.node('Mul', `${prefix}/MulSqrtHalf`, [x, g.scalar(Math.SQRT1_2)]),
        ]);
        const onePlus = g.node('Add', `${prefix}/AddOne`, [erf, g.scalar(1)]);
        return g.node('Mul', `${prefix}/MulHalf`, [g.node('Mul', `${prefix}/MulX`, [x, onePlus]), g.scalar(0.5)]);
      }
      case 'gelu_new':
      case 'gelu_fast':
      case 'gelu_pytorch_tanh': {
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
      case 'swish':
        return g.node('Mul', `${prefix}/Mul`, [x, g.node('Sigmoid', `${prefix}/Sigmoid`, [x])]);
      case 'relu':
        return g.node('Relu', `${prefix}/Relu`, [x]);
      default:
        return g.node('Tanh', `${prefix}/Tanh`, [x]);
    }
  };

  // Embeddings: word + position (0..T-1) + token type, then LayerNorm.
  const seqLen = g.node(
    'Gather',
    '/embeddings/SeqLen',
    [g.node('Shape', '/embeddings/Shape', ['input_ids']), g.int64s([1], [])],
    [{ name: 'axis', i: 0 }],
  );
  const positions = g.node('Range', '/embeddings/Range', [g.int64s([0], []), seqLen, g.int64s([1], [])]);
  const words = g.node('Gather', '/embeddings/word_embeddings/Gather', [
    weight('embeddings.word_embeddings.weight'),
    'input_ids',
  ]);
  const pos = g.node('Gather', '/embeddings/position_embeddings/Gather', [
    weight('embeddings.position_embeddings.weight'),
    positions,
  ]);
  const types = g.node('Gather', '/embeddings/token_type_embeddings/Gather', [
    weight('embeddings.token_type_embeddings.weight'),
    'token_type_ids',
  ]);
  const sum = g.node('Add', '/embeddings/Add1', [g.node('Add', '/embeddings/Add0', [words, pos]), types]);
  let x = layerNorm(sum, 'embeddings.LayerNorm');

  // Additive mask [B,1,1,T]: 0 for tokens, float32 min for padding (HF's extended attention mask).
  const maskF = g.node('Cast', '/mask/Cast', ['attention_mask'], [{ name: 'to', i: ONNX_FLOAT }]);
  const inverted = g.node('Sub', '/mask/Sub', [g.scalar(1), maskF]);
  const maskBias = g.node('Unsqueeze', '/mask/Unsqueeze', [
    g.node('Mul', '/mask/Mul', [inverted, g.scalar(-3.4028234663852886e38)]),
    g.int64s([1, 2]),
  ]);

  const splitHeads = g.int64s([0, 0, cfg.heads, D]);
  const mergeHeads = g.int64s([0, 0, H]);
  const scale = g.scalar(1 / Math.sqrt(D));
  for (let l = 0; l < cfg.layers; l++) {
    const p = `encoder.layer.${l}`;
    const heads = (name: string, perm: number[]): string =>
      g.node(
        'Transpose',
        `/${p}/${name}/Transpose`,
        [g.node('Reshape', `/${p}/${name}/Reshape`, [linear(x, `${p}.attention.self.${name}`), splitHeads])],
        [{ name: 'perm', ints: perm }],
      );
    const q = heads('query', [0, 2, 1, 3]);
    const kT = heads('key', [0, 2, 3, 1]);
    const v = heads('value', [0, 2, 1, 3]);
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
    const attnOut = g.node('Add', `/${p}/attention/output/Residual`, [linear(ctx, `${p}.attention.output.dense`), x]);
    x = layerNorm(attnOut, `${p}.attention.output.LayerNorm`);
    const inter = activation(linear(x, `${p}.intermediate.dense`), `/${p}/intermediate/act`);
    const out = g.node('Add', `/${p}/output/Residual`, [linear(inter, `${p}.output.dense`), x]);
    x = layerNorm(out, `${p}.output.LayerNorm`);
  }

  const outputs: ProtoWriter[] = [];
  const pooled = (): string => {
    const first = g.node('Gather', '/pooler/First', [x, g.int64s([0], [])], [{ name: 'axis', i: 1 }]);
    return g.node('Tanh', '/pooler/Tanh', [linear(first, 'pooler.dense')]);
  };
  const output = (value: string, name: string, dims: Array<number | string>): void => {
    g.node('Identity', `/output/${name}`, [value], [], name);
    outputs.push(valueInfo(name, ONNX_FLOAT, dims));
  };
  switch (head) {
    case 'base':
      output(x, 'last_hidden_state', ['batch_size', 'sequence_length', H]);
      if (params.has('pooler.dense.weight')) output(pooled(), 'pooler_output', ['batch_size', H]);
      break;
    case 'sequence-classification': {
      const [labels] = matrixDims(get('classifier.weight'));
      output(linear(pooled(), 'classifier'), 'logits', ['batch_size', labels]);
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
      const t = layerNorm(
        activation(linear(x, 'cls.predictions.transform.dense'), '/cls/transform/act'),
        'cls.predictions.transform.LayerNorm',
      );
      const emb = params.get('cls.predictions.decoder.weight') ?? get('embeddings.word_embeddings.weight');
      const [vocab, hidden] = matrixDims(emb);
      const decoderT = g.init('cls.predictions.decoder.weight.T', [hidden, vocab], transposed(emb));
      const bias = params.get('cls.predictions.bias') ?? get('cls.predictions.decoder.bias');
      const logits = g.node('Add', '/cls/decoder/Add', [
        g.node('MatMul', '/cls/decoder/MatMul', [t, decoderT]),
        g.init('cls.predictions.bias', bias.shape, bias.data),
      ]);
      output(logits, 'logits', ['batch_size', 'sequence_length', vocab]);
      break;
    }
  }

  const graph = new ProtoWriter();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'bert-ts');
  for (const i of g.initializers) graph.message(5, i);
  for (const name of ['input_ids', 'attention_mask', 'token_type_ids'])
    graph.message(11, valueInfo(name, ONNX_INT64, ['batch_size', 'sequence_length']));
  for (const o of outputs) graph.message(12, o);
  const model = new ProtoWriter()
    .int(1, 8) // ir_version 8 (ONNX 1.10+), the one that pairs with opset 17
    .string(2, 'bert-ts')
    .string(3, options.producerVersion ?? '0.1.0')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, 17));
  return model.finish();
}
