// Parameter initialisation as HF BertPreTrainedModel._init_weights: N(0, initializer_range), LayerNorm 1/0, biases 0.
import type { BertConfig } from './config.js';
import type { ParameterStore } from './params.js';

/** A small seeded generator (mulberry32) with Box-Muller normals: same seed, same weights. */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Initialises one parameter by its name, as HF does for the module that owns it. */
export function initParameter(store: ParameterStore, name: string, config: BertConfig, rng: SeededRandom): void {
  const v = store.view(name);
  // LayerNorm, layer_norm, and ModernBERT's norm, attn_norm, mlp_norm, final_norm.
  if (/(LayerNorm|layer_norm|(^|[._])norm)\.weight$/.test(name)) v.fill(1);
  else if (name.endsWith('bias')) v.fill(0);
  else {
    const std = config.initializerRange;
    for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    // nn.Embedding(padding_idx=pad_token_id): the padding row starts at zero.
    // RoBERTa's position table has padding_idx = pad_token_id as well.
    const paddedPositions = config.modelType === 'roberta' || config.modelType === 'xlm-roberta';
    const padded =
      name.endsWith('embeddings.word_embeddings.weight') ||
      name.endsWith('embeddings.tok_embeddings.weight') ||
      (paddedPositions && name.endsWith('embeddings.position_embeddings.weight'));
    if (padded && config.padTokenId !== null) {
      const E = config.embeddingSize;
      v.fill(0, config.padTokenId * E, (config.padTokenId + 1) * E);
    }
  }
}

export function initAll(store: ParameterStore, config: BertConfig, seed: number): void {
  const rng = new SeededRandom(seed);
  for (const name of store.order) initParameter(store, name, config, rng);
}
