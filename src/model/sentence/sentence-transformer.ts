// SentenceTransformer: a sentence-transformers folder (Transformer -> Pooling -> Dense* -> Normalize?) run in
// TypeScript, with encode() as sentence-transformers' and a forward/backward for training.
import { join } from 'node:path';
import { batchOrder } from '../../data/batching.js';
import type { Kernels } from '../../tensor/kernels.js';
import { BATCH_TOKENS, type ModelDtype } from '../linear-dtype.js';
import { BertTokenizer } from '../../tokenizer/index.js';
import { BertModel } from '../bert.js';
import { InputError } from '../errors.js';
import { readSafetensorsOrBin } from './weights.js';
import { DenseLayer } from './dense.js';
import {
  isSentenceTransformersFolder,
  readModules,
  readSettings,
  resolveSentenceModelPath,
  SentenceFolderError,
  type DenseModuleSpec,
  type PoolingModuleSpec,
  type SentenceModuleSpec,
  type SimilarityFnName,
  type TransformerModuleSpec,
} from './folder.js';
import { l2NormalizeBackward, l2NormalizeForward } from './normalize.js';
import { ParameterStore, type Parameter } from '../params.js';
import { poolingBackward, poolingForward, poolingMask } from './pooling.js';
import { similarityMatrix } from './similarity.js';
import { readConfig } from '../checkpoint.js';
import { writeSentenceTransformerFolder } from './folder-write.js';

export interface SentenceTransformerOptions {
  kernels?: Kernels;
  /** What the encoder's linear layers compute in: 'fp32' (default), 'q8' or 'bf16' (see ModelOptions.dtype). */
  dtype?: ModelDtype;
  /** Where loading warnings go (default console.warn). */
  warn?: (message: string) => void;
  /** Hub revision when the model is a hub id. */
  revision?: string;
}

export interface EncodeOptions {
  /** A prompt of config_sentence_transformers.json, prepended to every text. */
  promptName?: string;
  /** A prompt text prepended to every text (wins over promptName). */
  prompt?: string;
  /** Texts per forward pass (default 32); texts are sorted by length first so a batch pads little. */
  batchSize?: number;
  /** L2-normalise each embedding (after truncateDim), default false. */
  normalize?: boolean;
  /** Keep only the first truncateDim dimensions (Matryoshka models). */
  truncateDim?: number;
}

/** A forward pass kept for backward: embeddings [rows, dim] and the function that back-propagates into them. */
export interface EmbeddingPass {
  embeddings: Float32Array;
  rows: number;
  dim: number;
  /** Back-propagates d(embeddings) [rows, dim] through every module into the parameters' gradients (+=). */
  backward(dEmbeddings: Float32Array): void;
}

interface DenseModule {
  spec: DenseModuleSpec;
  layer: DenseLayer;
  weightName: string;
  biasName: string | null;
}

const ALL_SPECIAL = (tok: BertTokenizer, id: number): boolean =>
  [tok.clsTokenId, tok.sepTokenId, tok.padTokenId, tok.maskTokenId, tok.unkTokenId].includes(id);

export class SentenceTransformer {
  /** Prompts by name (config_sentence_transformers.json). */
  readonly prompts: Record<string, string>;
  readonly defaultPromptName: string | null;
  /** The similarity function of similarity(); cosine when the folder names none. */
  readonly similarityFnName: SimilarityFnName;
  private maxLength: number;
  /** Parameters of the Dense modules, named `<module path>.linear.weight` / `.linear.bias`. */
  readonly moduleStore: ParameterStore;
  private readonly pooling: PoolingModuleSpec;
  private readonly dense: DenseModule[];
  private readonly normalizeOutput: boolean;
  private readonly lowercase: boolean;
  private generation = 0;

  private constructor(
    readonly folder: string,
    readonly bert: BertModel,
    readonly tokenizer: BertTokenizer,
    readonly modules: readonly SentenceModuleSpec[],
    settings: ReturnType<typeof readSettings>,
    kernels: Kernels,
  ) {
    const [first, second, ...rest] = modules;
    if (first?.kind !== 'transformer' || second?.kind !== 'pooling') {
      throw new SentenceFolderError(
        `${folder}/modules.json: expected a Transformer then a Pooling module first, found ${modules.map((m) => m.kind).join(', ')}`,
      );
    }
    const transformer: TransformerModuleSpec = first;
    this.pooling = second;
    const hidden = bert.config.hiddenSize;
    if (this.pooling.embeddingDimension !== hidden) {
      throw new SentenceFolderError(
        `${join(folder, second.path)}/config.json: embedding dimension ${this.pooling.embeddingDimension} differs from the transformer's hidden_size ${hidden}`,
      );
    }
    const denseSpecs: DenseModuleSpec[] = [];
    let normalize = false;
    rest.forEach((m, i) => {
      if (m.kind === 'dense' && !normalize) denseSpecs.push(m);
      else if (m.kind === 'normalize' && i === rest.length - 1) normalize = true;
      else
        throw new SentenceFolderError(
          `${folder}/modules.json: module "${m.path}" (${m.kind}) at position ${i + 2} is not supported there; expected Dense modules then an optional final Normalize`,
        );
    });
    this.normalizeOutput = normalize;
    const specs = denseSpecs.flatMap((d) => [
      { name: `${d.path}.linear.weight`, shape: [d.outFeatures, d.inFeatures] },
      ...(d.bias ? [{ name: `${d.path}.linear.bias`, shape: [d.outFeatures] }] : []),
    ]);
    this.moduleStore = new ParameterStore(specs);
    let width = hidden * this.pooling.modes.length;
    this.dense = denseSpecs.map((spec) => {
      if (spec.inFeatures !== width) {
        throw new SentenceFolderError(
          `${join(folder, spec.path)}/config.json: in_features ${spec.inFeatures} differs from the ${width} dimensions the previous module gives`,
        );
      }
      width = spec.outFeatures;
      const weightName = `${spec.path}.linear.weight`;
      const biasName = spec.bias ? `${spec.path}.linear.bias` : null;
      const layer = new DenseLayer(
        spec.inFeatures,
        spec.outFeatures,
        spec.activation,
        this.moduleStore.view(weightName),
        biasName ? this.moduleStore.view(biasName) : null,
        kernels,
      );
      return { spec, layer, weightName, biasName };
    });
    this.prompts = { ...settings.prompts };
    this.defaultPromptName = settings.defaultPromptName;
    this.similarityFnName = settings.similarityFnName ?? 'cosine';
    const limit = Math.min(
      transformer.maxSeqLength ?? tokenizer.modelMaxLength ?? bert.config.maxPositionEmbeddings,
      bert.config.maxPositionEmbeddings,
    );
    this.maxLength = limit;
    this.lowercase = transformer.doLowerCase;
  }

  /** Longest input in tokens ([CLS] and [SEP] included); longer texts are truncated. */
  get maxSeqLength(): number {
    return this.maxLength;
  }

  /** Sets the truncation length (sentence-transformers' `model.max_seq_length = n`), at most max_position_embeddings. */
  set maxSeqLength(value: number) {
    const positions = this.bert.config.maxPositionEmbeddings;
    if (!Number.isInteger(value) || value < 2 || value > positions)
      throw new RangeError(
        `maxSeqLength must be an integer in [2, ${positions}] (max_position_embeddings), got ${value}`,
      );
    this.maxLength = value;
  }

  /** The modules as they run now (the transformer's max length and lower-casing included), for saving. */
  private currentModules(): SentenceModuleSpec[] {
    return this.modules.map((m) =>
      m.kind === 'transformer' ? { ...m, maxSeqLength: this.maxLength, doLowerCase: this.lowercase } : m,
    );
  }

  /** Loads a folder sentence-transformers saved (either layout), or a hub id through the HF cache. */
  static async fromPretrained(model: string, options: SentenceTransformerOptions = {}): Promise<SentenceTransformer> {
    const dir = await resolveSentenceModelPath(model, { revision: options.revision });
    const warn = options.warn ?? ((m: string) => console.warn(m));
    const modules = isSentenceTransformersFolder(dir) ? readModules(dir) : plainTransformerModules(dir, warn);
    const settings = readSettings(dir);
    const transformer = modules[0];
    if (transformer?.kind !== 'transformer')
      throw new SentenceFolderError(`${dir}/modules.json: the first module must be a Transformer`);
    const bertDir = join(dir, transformer.path);
    // The sentence embedding never reads BERT's pooler: leave it out, and do not warn about its weights.
    const bert = await BertModel.fromPretrained(bertDir, {
      kernels: options.kernels,
      dtype: options.dtype,
      addPoolingLayer: false,
      warn: (m) => {
        if (!/were not used/.test(m) || !/\[(pooler\.[^,\]]+(, )?)+\]/.test(m)) warn(m);
      },
    });
    const tokenizer = BertTokenizer.fromPretrained(bertDir);
    const st = new SentenceTransformer(dir, bert, tokenizer, modules, settings, bert.kernels);
    for (const d of st.dense) {
      const { tensors, file } = readSafetensorsOrBin(join(dir, d.spec.path));
      for (const [name, key] of [
        [d.weightName, 'linear.weight'],
        [d.biasName, 'linear.bias'],
      ] as const) {
        if (name === null) continue;
        const t = tensors.get(key);
        const view = st.moduleStore.view(name);
        if (!t || !(t.data instanceof Float32Array) || t.data.length !== view.length) {
          throw new SentenceFolderError(
            `${file}: needs "${key}" with ${view.length} float values (shape [${st.moduleStore.shape(name).join(', ')}])`,
          );
        }
        view.set(t.data);
      }
    }
    return st;
  }

  /**
   * Writes a folder sentence-transformers (>= 5.4) loads: the transformer (config.json, model.safetensors, tokenizer
   * files) at the top, modules.json, each module's config (and Dense weights), config_sentence_transformers.json.
   */
  async save(dir: string): Promise<void> {
    await writeSentenceTransformerFolder(dir, {
      bert: this.bert,
      tokenizerDir: join(this.folder, this.modules[0]?.path ?? ''),
      modules: this.currentModules(),
      dense: this.dense.map((d) => ({
        path: d.spec.path,
        weight: { shape: [d.spec.outFeatures, d.spec.inFeatures], data: this.moduleStore.view(d.weightName) },
        bias: d.biasName ? { shape: [d.spec.outFeatures], data: this.moduleStore.view(d.biasName) } : null,
      })),
      settings: {
        prompts: this.prompts,
        defaultPromptName: this.defaultPromptName,
        similarityFnName: this.similarityFnName,
      },
    });
  }

  /** Dimensions of an embedding (before truncateDim). */
  get embeddingDimension(): number {
    const last = this.dense[this.dense.length - 1];
    return last ? last.spec.outFeatures : this.bert.config.hiddenSize * this.pooling.modes.length;
  }

  /** Every trainable parameter: the transformer's (HF names) and the Dense modules'. */
  parameters(): Parameter[] {
    return [...this.bert.parameters(), ...this.moduleStore.parameters()];
  }

  /** The prompt text an encode call uses: `prompt`, else prompts[promptName], else the default prompt, else ''. */
  resolvePrompt(options: { prompt?: string; promptName?: string }): string {
    if (options.prompt !== undefined) return options.prompt;
    if (options.promptName !== undefined) {
      const p = this.prompts[options.promptName];
      if (p === undefined) {
        throw new InputError(
          'encode',
          (name) =>
            `${name('promptName')} "${options.promptName}" is not one of this model's prompts (${Object.keys(this.prompts).join(', ') || 'none'})`,
        );
      }
      return p;
    }
    return this.defaultPromptName !== null ? (this.prompts[this.defaultPromptName] ?? '') : '';
  }

  /**
   * Tokens of the prompt that pooling leaves out when include_prompt is false: [CLS] and the prompt's pieces
   * (sentence-transformers' _get_prompt_length: the encoded prompt less its trailing special token).
   */
  private promptLength(prompt: string): number {
    if (prompt === '' || this.pooling.includePrompt) return 0;
    const ids = this.tokenizer.encode(this.prepare(prompt), null, {
      maxLength: this.maxSeqLength,
      truncation: 'longest_first',
    }).inputIds;
    const last = ids[ids.length - 1];
    return last !== undefined && ALL_SPECIAL(this.tokenizer, last) ? ids.length - 1 : ids.length;
  }

  /** The tokens forward gives `text` (special tokens included, truncated as forward truncates). */
  private tokenCount(text: string): number {
    return this.tokenizer.encode(this.prepare(text), null, {
      maxLength: this.maxSeqLength,
      truncation: 'longest_first',
    }).inputIds.length;
  }

  private prepare(text: string): string {
    return this.lowercase ? text.toLowerCase() : text;
  }

  /**
   * Runs every module on one batch of texts (the prompt, if any, prepended). With `grad` the pass keeps what
   * backward needs and `train` turns dropout on.
   */
  forward(
    texts: readonly string[],
    options: { prompt?: string; grad?: boolean; train?: boolean; seed?: number } = {},
  ): EmbeddingPass {
    if (texts.length === 0) throw new RangeError('SentenceTransformer.forward: no texts');
    const prompt = options.prompt ?? '';
    const enc = this.tokenizer.encodeBatchFlat(
      texts.map((t) => this.prepare(prompt + t)),
      null,
      { maxLength: this.maxSeqLength, truncation: 'longest_first', padding: 'longest' },
    );
    const B = enc.batch,
      T = enc.seqLen,
      H = this.bert.config.hiddenSize;
    const shape = [B, T];
    const grad = options.grad ?? false;
    const out = this.bert.forward(
      {
        inputIds: { data: enc.inputIds, shape },
        attentionMask: { data: enc.attentionMask, shape },
        tokenTypeIds: { data: enc.tokenTypeIds, shape },
      },
      { grad, train: options.train ?? false, seed: options.seed },
    );
    // Layers keep the activations of the last forward only: a pass may back-propagate until the next forward.
    const generation = ++this.generation;
    const mask = poolingMask(enc.attentionMask, B, T, this.promptLength(prompt));
    const modes = this.pooling.modes;
    const pooled = poolingForward(out.lastHiddenState.data, mask, modes, B, T, H);
    let x = pooled.out;
    for (const d of this.dense) x = d.layer.forward(x, B);
    const dim = this.embeddingDimension;
    const norm = this.normalizeOutput ? l2NormalizeForward(x, B, dim) : null;
    const embeddings = norm ? norm.y : x;
    let used = false;
    return {
      embeddings,
      rows: B,
      dim,
      backward: (dEmbeddings: Float32Array) => {
        if (!grad) throw new Error('SentenceTransformer: backward needs a forward with grad: true');
        if (used) throw new Error('SentenceTransformer: backward already ran for this forward');
        if (generation !== this.generation)
          throw new Error('SentenceTransformer: backward of an older forward (another forward ran since)');
        if (dEmbeddings.length !== B * dim)
          throw new RangeError(`backward: d(embeddings) has ${dEmbeddings.length} values, expected ${B * dim}`);
        used = true;
        let d = norm ? l2NormalizeBackward(dEmbeddings, norm.y, norm.norms, B, dim) : dEmbeddings;
        for (let i = this.dense.length - 1; i >= 0; i--) {
          const m = this.dense[i]!;
          d = m.layer.backward(
            d,
            this.moduleStore.gradView(m.weightName),
            m.biasName ? this.moduleStore.gradView(m.biasName) : null,
          );
        }
        this.bert.backward(poolingBackward(d, modes, pooled.cache), null);
      },
    };
  }

  /** One embedding per text, in input order (sentence-transformers' encode). */
  encode(texts: readonly string[], options: EncodeOptions = {}): Float32Array[] {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InputError('encode', (name) => `${name('batchSize')} must be a positive integer, got ${batchSize}`);
    const dim = this.embeddingDimension;
    const keep = options.truncateDim ?? dim;
    if (!Number.isInteger(keep) || keep < 1)
      throw new InputError(
        'encode',
        (name) => `${name('truncateDim')} must be a positive integer, got ${options.truncateDim}`,
      );
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new InputError('encode', `text ${i} is not a string`);
    });
    const prompt = this.resolvePrompt(options);
    // Longest first (in tokens; sentence-transformers sorts by characters), so each batch pads to a similar length,
    // and at most BATCH_TOKENS padded tokens a call, as the pipelines batch (docs/performance.md).
    const tokens = texts.map((t) => this.tokenCount(prompt + t));
    const result = new Array<Float32Array>(texts.length);
    for (const idx of batchOrder(texts.length, batchSize, (i) => tokens[i]!, BATCH_TOKENS)) {
      const pass = this.forward(
        idx.map((i) => texts[i]!),
        { prompt },
      );
      idx.forEach((i, r) => {
        let v: Float32Array = pass.embeddings.slice(r * dim, r * dim + Math.min(keep, dim));
        if (options.normalize) v = l2NormalizeForward(v, 1, v.length).y;
        result[i] = v;
      });
    }
    return result;
  }

  /** Scores between every embedding of `a` and every one of `b`, with the model's similarity function. */
  similarity(a: readonly Float32Array[], b: readonly Float32Array[]): Float32Array[] {
    return similarityMatrix(this.similarityFnName, a, b);
  }
}

/**
 * The modules sentence-transformers gives a plain transformer folder (no modules.json): the transformer, then mean
 * pooling over its hidden size ("No sentence-transformers model found ... Creating a new one with mean pooling").
 */
function plainTransformerModules(dir: string, warn: (m: string) => void): SentenceModuleSpec[] {
  const hidden = readConfig(dir).hiddenSize;
  warn(
    `${dir} has no modules.json (not a sentence-transformers folder): using mean pooling over the last hidden state`,
  );
  return [
    { kind: 'transformer', path: '', maxSeqLength: undefined, doLowerCase: false },
    { kind: 'pooling', path: '1_Pooling', embeddingDimension: hidden, modes: ['mean'], includePrompt: true },
  ];
}
