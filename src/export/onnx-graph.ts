// The ONNX graph under construction and the layers every exported encoder writes into it: linear (fp32 or q8), LayerNorm, activations.
import type { BertConfig } from '../model/config.js';
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

export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

export const ONNX_FLOAT = 1;
export const ONNX_BOOL = 9;
const ONNX_INT8 = 3;
export const ONNX_INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

/** The additive mask value of a masked key: float32's lowest value, as HF's attention masks. */
export const FLOAT32_LOWEST = -3.4028234663852886e38;

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

export function valueInfo(name: string, elemType: number, dims: Array<number | string>): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims)
    shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Collects nodes and initializers; names outputs after the node so the graph reads like the module tree. */
export class Graph {
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

  /** A node with several outputs (DynamicQuantizeLinear's value, scale and zero point; Split). */
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

  /** The length of axis `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number, name: string): string {
    return this.node(
      'Gather',
      name,
      [this.node('Shape', `${name}/Shape`, [x]), this.int64s([axis], [])],
      [{ name: 'axis', i: 0 }],
    );
  }

  /** 0, 1, ..., length - 1 (int64), `length` an int64 scalar. */
  range(length: string, name: string): string {
    return this.node('Range', name, [this.int64s([0], []), length, this.int64s([1], [])]);
  }
}

/** The [rows, cols] of a parameter that must be a matrix (a linear or embedding weight). */
export function matrixDims(w: NamedTensor): [rows: number, cols: number] {
  const [rows, cols] = w.shape;
  if (w.shape.length !== 2 || rows === undefined || cols === undefined)
    throw new OnnxExportError(`parameter ${w.name} must be a matrix, but its shape is [${w.shape}]`);
  return [rows, cols];
}

/** Transposes a PyTorch [out, in] linear weight to the [in, out] that MatMul wants. */
export function transposed(w: NamedTensor): Float32Array {
  const [rows, cols] = matrixDims(w);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w.data[r * cols + c]!;
  return out;
}

/**
 * The model's parameters (prefix stripped) and the layers made of them: a linear is a MatMul by the transposed weight
 * (or, for the names in `quantized`, ONNX Runtime's dynamic quantization of it) plus the bias when the checkpoint has
 * one; a LayerNorm with or without its bias.
 */
export class GraphLayers {
  /** One DynamicQuantizeLinear per input, shared by the products that read it (query, key and value), as ORT does. */
  private readonly xQuantized = new Map<string, string[]>();
  private scoreScale: string | undefined;
  /**
   * The [rows, sequence_length] tensors the encoder reads: the graph inputs, or (multiple choice) those inputs
   * flattened from [batch_size, num_choices, sequence_length].
   */
  inputs = { ids: 'input_ids', mask: 'attention_mask', types: 'token_type_ids' };

  constructor(
    readonly g: Graph,
    readonly params: Map<string, NamedTensor>,
    readonly cfg: BertConfig,
    private readonly quantized: Set<string>,
    /** What the graph is, for the message of a missing parameter ("the masked-lm graph"). */
    private readonly graphName: string,
  ) {}

  get(name: string): NamedTensor {
    const p = this.params.get(name);
    if (!p) throw new OnnxExportError(`parameter ${name} is missing (needed by ${this.graphName})`);
    if (p.data.length !== p.shape.reduce((a, b) => a * b, 1))
      throw new OnnxExportError(`parameter ${name}: data length ${p.data.length} does not match shape [${p.shape}]`);
    return p;
  }

  weight(name: string): string {
    const p = this.get(name);
    return this.g.init(name, p.shape, p.data);
  }

  linear(x: string, prefix: string): string {
    const g = this.g;
    let y: string;
    if (this.quantized.has(`${prefix}.weight`)) y = this.quantizedMatMul(x, prefix);
    else {
      const w = this.get(`${prefix}.weight`);
      const [rows, cols] = matrixDims(w);
      y = g.node('MatMul', `${prefix}/MatMul`, [x, g.init(`${prefix}.weight.T`, [cols, rows], transposed(w))]);
    }
    return this.params.has(`${prefix}.bias`) ? g.node('Add', `${prefix}/Add`, [y, this.weight(`${prefix}.bias`)]) : y;
  }

  // ONNX Runtime's dynamic quantization of x @ W: x to uint8 per tensor (DynamicQuantizeLinear), W int8 per output
  // channel with zero point 0, the int32 product scaled by x_scale * W_scale (quantize_dynamic's own node pattern).
  private quantizedMatMul(x: string, prefix: string): string {
    const g = this.g;
    const w = this.get(`${prefix}.weight`);
    const [rows, cols] = matrixDims(w);
    const q = w.q8 ?? quantizeForStorage(w.data, rows, cols);
    const qT = new Int8Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) qT[c * rows + r] = q.data[r * cols + c]!;
    let xQuant = this.xQuantized.get(x);
    if (!xQuant) {
      const at = `${prefix}/MatMul_quant`;
      xQuant = g.nodeOutputs(
        'DynamicQuantizeLinear',
        at,
        [x],
        [`${at}/x_quantized`, `${at}/x_scale`, `${at}/x_zero_point`],
      );
      this.xQuantized.set(x, xQuant);
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
  }

  /** LayerNormalization over the last axis; without its bias input when the checkpoint has none (norm_bias false). */
  layerNorm(x: string, prefix: string): string {
    const bias = this.params.has(`${prefix}.bias`) ? [this.weight(`${prefix}.bias`)] : [];
    return this.g.node(
      'LayerNormalization',
      `${prefix}/LayerNorm`,
      [x, this.weight(`${prefix}.weight`), ...bias],
      [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: this.cfg.layerNormEps },
      ],
    );
  }

  activation(x: string, prefix: string, act: Activation): string {
    const g = this.g;
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
  }

  /** [B, T, heads * D] → [B, heads, T, D] (perm [0, 2, 1, 3]) or the keys' [B, heads, D, T] (perm [0, 2, 3, 1]). */
  splitHeads(x: string, name: string, perm: number[]): string {
    const c = this.cfg;
    const shape = this.g.int64s([0, 0, c.numAttentionHeads, c.headDim]);
    return this.g.node(
      'Transpose',
      `${name}/Transpose`,
      [this.g.node('Reshape', `${name}/Reshape`, [x, shape])],
      [{ name: 'perm', ints: perm }],
    );
  }

  /**
   * Scaled dot-product attention of q [B, heads, T, D] and kT [B, heads, D, T] over v [B, heads, T, D], the additive
   * `mask` broadcast onto the scores [B, heads, T, T]; the heads merged back to [B, T, H].
   */
  attention(q: string, kT: string, v: string, mask: string, p: string): string {
    const g = this.g;
    const scale = (this.scoreScale ??= g.scalar(1 / Math.sqrt(this.cfg.headDim)));
    const scores = g.node('Add', `${p}/AddMask`, [
      g.node('Mul', `${p}/Scale`, [g.node('MatMul', `${p}/QK`, [q, kT]), scale]),
      mask,
    ]);
    const probs = g.node('Softmax', `${p}/Softmax`, [scores], [{ name: 'axis', i: -1 }]);
    return g.node('Reshape', `${p}/Merge`, [
      g.node(
        'Transpose',
        `${p}/ContextT`,
        [g.node('MatMul', `${p}/PV`, [probs, v])],
        [{ name: 'perm', ints: [0, 2, 1, 3] }],
      ),
      g.int64s([0, 0, this.cfg.hiddenSize]),
    ]);
  }

  /** The additive padding mask [B, 1, 1, T]: 0 for tokens, float32 lowest for padding (HF's extended attention mask). */
  paddingMask(): string {
    const g = this.g;
    const maskF = g.node('Cast', '/mask/Cast', [this.inputs.mask], [{ name: 'to', i: ONNX_FLOAT }]);
    const inverted = g.node('Sub', '/mask/Sub', [g.scalar(1), maskF]);
    return g.node('Unsqueeze', '/mask/Unsqueeze', [
      g.node('Mul', '/mask/Mul', [inverted, g.scalar(FLOAT32_LOWEST)]),
      g.int64s([1, 2]),
    ]);
  }
}
