// ModernBERT's encoder as an ONNX graph (modeling_modernbert.py, as src/model/pre-ln-block.ts computes it): rotary positions and the sliding-window mask from the sequence length, so any length up to max_position_embeddings runs.
import { rotaryInverseFrequencies } from '../model/pre-ln-block.js';
import { FLOAT32_LOWEST, ONNX_BOOL, ONNX_FLOAT, type GraphLayers } from './onnx-graph.js';

/** cos and sin [T, D / 2] of the angles t * inv_freq (ModernBertRotaryEmbedding) for one rotary base. */
interface Rotary {
  cos: string;
  sin: string;
}

/**
 * apply_rotary_pos_emb on x [B, heads, T, D]: x * cos + rotate_half(x) * sin, written on the halves x1, x2 as
 * (x1 cos - x2 sin, x2 cos + x1 sin).
 */
function rotate(layers: GraphLayers, x: string, r: Rotary, name: string): string {
  const g = layers.g;
  const [x1, x2] = g.nodeOutputs(
    'Split',
    `${name}/Split`,
    [x],
    [`${name}/x1`, `${name}/x2`],
    [{ name: 'axis', i: -1 }],
  );
  const mul = (a: string, b: string, n: string): string => g.node('Mul', `${name}/${n}`, [a, b]);
  const first = g.node('Sub', `${name}/First`, [mul(x1!, r.cos, 'X1Cos'), mul(x2!, r.sin, 'X2Sin')]);
  const second = g.node('Add', `${name}/Second`, [mul(x2!, r.cos, 'X2Cos'), mul(x1!, r.sin, 'X1Sin')]);
  return g.node('Concat', `${name}/Concat`, [first, second], [{ name: 'axis', i: -1 }]);
}

/**
 * ModernBertModel: embeddings (tok_embeddings, norm), then per layer attn_norm (none in layer 0), fused attn.Wqkv,
 * rotary queries and keys (global_rope_theta on full-attention layers, local_rope_theta on sliding ones), attention
 * over every non-padding key or, on sliding layers, only those at most local_attention / 2 positions away, attn.Wo,
 * residual; mlp_norm, GeGLU mlp.Wi (act(input) * gate), mlp.Wo, residual; final_norm. Returns the last hidden state.
 */
export function modernBertEncoder(layers: GraphLayers): string {
  const { g, cfg } = layers;
  let x = layers.layerNorm(
    g.node('Gather', '/embeddings/tok_embeddings/Gather', [
      layers.weight('embeddings.tok_embeddings.weight'),
      layers.inputs.ids,
    ]),
    'embeddings.norm',
  );

  const positions = g.range(g.dim(layers.inputs.ids, 1, '/rotary/SeqLen'), '/rotary/Range');
  const column = g.node('Unsqueeze', '/rotary/Column', [
    g.node('Cast', '/rotary/Cast', [positions], [{ name: 'to', i: ONNX_FLOAT }]),
    g.int64s([1]),
  ]);
  const rotary = (kind: string, theta: number): Rotary => {
    const invFreq = g.init(`rotary.${kind}.inv_freq`, [cfg.headDim / 2], rotaryInverseFrequencies(cfg.headDim, theta));
    const angles = g.node('Mul', `/rotary/${kind}/Angles`, [column, invFreq]);
    return {
      cos: g.node('Cos', `/rotary/${kind}/Cos`, [angles]),
      sin: g.node('Sin', `/rotary/${kind}/Sin`, [angles]),
    };
  };
  const kinds = new Set(cfg.layerTypes);
  const globalRotary = kinds.has('full_attention') ? rotary('full_attention', cfg.globalRopeTheta) : null;
  const localRotary = kinds.has('sliding_attention') ? rotary('sliding_attention', cfg.localRopeTheta) : null;

  const paddingMask = layers.paddingMask();
  // create_bidirectional_sliding_window_mask: key s is seen from query t when |t - s| <= local_attention / 2 and s is
  // not padding; a masked key gets float32 lowest once (HF's boolean mask as an additive one), [B, 1, T, T].
  let windowMask: string | null = null;
  if (localRotary) {
    const window = g.int64s([Math.floor(cfg.localAttention / 2)], []);
    const distance = g.node('Abs', '/window/Abs', [
      g.node('Sub', '/window/Sub', [
        g.node('Unsqueeze', '/window/Queries', [positions, g.int64s([1])]),
        g.node('Unsqueeze', '/window/Keys', [positions, g.int64s([0])]),
      ]),
    ]);
    const attended = g.node('Unsqueeze', '/window/Attended', [
      g.node('Cast', '/window/CastMask', [layers.inputs.mask], [{ name: 'to', i: ONNX_BOOL }]),
      g.int64s([1, 2]),
    ]);
    const seen = g.node('And', '/window/And', [g.node('LessOrEqual', '/window/InBand', [distance, window]), attended]);
    windowMask = g.node('Where', '/window/Where', [seen, g.scalar(0), g.scalar(FLOAT32_LOWEST)]);
  }

  for (let l = 0; l < cfg.numHiddenLayers; l++) {
    const p = `layers.${l}`;
    const sliding = cfg.layerTypes[l] === 'sliding_attention';
    const r = (sliding ? localRotary : globalRotary)!;
    const a = l === 0 ? x : layers.layerNorm(x, `${p}.attn_norm`);
    const parts = g.nodeOutputs(
      'Split',
      `/${p}/attn/Wqkv/Split`,
      [layers.linear(a, `${p}.attn.Wqkv`)],
      ['query', 'key', 'value'].map((n) => `/${p}/attn/${n}`),
      [{ name: 'axis', i: -1 }],
    );
    const heads = (i: number): string => layers.splitHeads(parts[i]!, `/${p}/attn/heads${i}`, [0, 2, 1, 3]);
    const q = rotate(layers, heads(0), r, `/${p}/attn/rotary_q`);
    const k = rotate(layers, heads(1), r, `/${p}/attn/rotary_k`);
    const kT = g.node('Transpose', `/${p}/attn/KeysT`, [k], [{ name: 'perm', ints: [0, 1, 3, 2] }]);
    const ctx = layers.attention(q, kT, heads(2), sliding ? windowMask! : paddingMask, `/${p}/attn`);
    const h1 = g.node('Add', `/${p}/attn/Residual`, [layers.linear(ctx, `${p}.attn.Wo`), x]);
    const [input, gate] = g.nodeOutputs(
      'Split',
      `/${p}/mlp/Wi/Split`,
      [layers.linear(layers.layerNorm(h1, `${p}.mlp_norm`), `${p}.mlp.Wi`)],
      [`/${p}/mlp/input`, `/${p}/mlp/gate`],
      [{ name: 'axis', i: -1 }],
    );
    const glu = g.node('Mul', `/${p}/mlp/Glu`, [layers.activation(input!, `/${p}/mlp/act`, cfg.activation), gate!]);
    x = g.node('Add', `/${p}/mlp/Residual`, [layers.linear(glu, `${p}.mlp.Wo`), h1]);
  }
  return layers.layerNorm(x, 'final_norm');
}

/**
 * ModernBertForSequenceClassification's classifier_pooling "mean" of the last hidden state x [B, T, H]: the sum of
 * the attended tokens' states over their count, [B, H].
 */
export function meanPooling(layers: GraphLayers, x: string): string {
  const g = layers.g;
  const mask = g.node('Cast', '/pooling/Cast', [layers.inputs.mask], [{ name: 'to', i: ONNX_FLOAT }]);
  const sum = g.node(
    'ReduceSum',
    '/pooling/Sum',
    [
      g.node('Mul', '/pooling/Mul', [x, g.node('Unsqueeze', '/pooling/Unsqueeze', [mask, g.int64s([-1])])]),
      g.int64s([1]),
    ],
    [{ name: 'keepdims', i: 0 }],
  );
  const count = g.node('ReduceSum', '/pooling/Count', [mask, g.int64s([1])], [{ name: 'keepdims', i: 1 }]);
  return g.node('Div', '/pooling/Div', [sum, count]);
}

/**
 * ModernBertForMultipleChoice's classifier_pooling "cls": the state of each row's first attended token (the argmax of
 * its attention mask, so token 0 for an all-padding row), [rows, H], x [rows, T, H].
 */
export function firstAttendedToken(layers: GraphLayers, x: string): string {
  const g = layers.g;
  const mask = g.node('Cast', '/pooling/CastFirst', [layers.inputs.mask], [{ name: 'to', i: ONNX_FLOAT }]);
  const first = g.node('ArgMax', '/pooling/ArgMax', [mask], [{ name: 'axis', i: 1 }]); // [rows, 1]
  const positions = g.range(g.dim(layers.inputs.ids, 1, '/pooling/SeqLen'), '/pooling/Range');
  const oneHot = g.node(
    'Cast',
    '/pooling/OneHot',
    [g.node('Equal', '/pooling/IsFirst', [positions, first])],
    [{ name: 'to', i: ONNX_FLOAT }],
  );
  const picked = g.node('MatMul', '/pooling/Pick', [g.node('Unsqueeze', '/pooling/Row', [oneHot, g.int64s([1])]), x]);
  return g.node('Squeeze', '/pooling/Squeeze', [picked, g.int64s([1])]);
}
