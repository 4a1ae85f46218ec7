// CrossEncoder: a reranker (BertForSequenceClassification over text pairs) as sentence-transformers loads and runs
// it — predict(pairs) with the folder's activation, rank(query, documents).
import type { Kernels } from '../../tensor/kernels.js';
import { batchOrder } from '../../data/batching.js';
import { BATCH_TOKENS, type ModelDtype } from '../linear-dtype.js';
import { BertTokenizer } from '../../tokenizer/index.js';
import { BertForSequenceClassification } from '../bert.js';
import { InputError } from '../errors.js';
import { readSettings, resolveSentenceModelPath, SentenceFolderError } from './folder.js';
import { writeCrossEncoderFolder } from './folder-write.js';
import { readConfig } from '../checkpoint.js';

export type CrossEncoderActivation = 'sigmoid' | 'identity' | 'tanh' | 'softmax';

// Activations by the torch class path sentence-transformers records.
const ACTIVATIONS: Record<string, CrossEncoderActivation> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.activation.Softmax': 'softmax',
};

export interface CrossEncoderOptions {
  kernels?: Kernels;
  /** What the encoder's linear layers compute in: 'fp32' (default), 'q8' or 'bf16' (see ModelOptions.dtype). */
  dtype?: ModelDtype;
  warn?: (message: string) => void;
  revision?: string;
  /** Overrides the folder's activation. */
  activation?: CrossEncoderActivation;
  /**
   * Labels of the classifier (a new head when the folder's differs). Default: the folder's when it holds a trained
   * sequence classifier, else 1 (sentence-transformers' CrossEncoder on a plain transformer folder).
   */
  numLabels?: number;
  /** Seed of a new classifier's initialisation and of dropout in training (default 0). */
  seed?: number;
}

export interface PredictOptions {
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
  /** Overrides the model's activation for this call ('identity' gives the raw logits). */
  activation?: CrossEncoderActivation;
}

export interface RankedDocument {
  corpusId: number;
  score: number;
  /** The document text (returnDocuments). */
  text?: string;
}

export class CrossEncoder {
  private maxTokens: number;

  private constructor(
    readonly folder: string,
    readonly model: BertForSequenceClassification,
    readonly tokenizer: BertTokenizer,
    readonly activation: CrossEncoderActivation,
  ) {
    const positions = model.config.maxPositionEmbeddings;
    this.maxTokens = Math.min(tokenizer.modelMaxLength ?? positions, positions);
  }

  /** Longest pair in tokens; longer pairs are truncated, the longer text first (longest_first). */
  get maxLength(): number {
    return this.maxTokens;
  }

  set maxLength(value: number) {
    const positions = this.model.config.maxPositionEmbeddings;
    if (!Number.isInteger(value) || value < 3 || value > positions)
      throw new RangeError(`maxLength must be an integer in [3, ${positions}] (max_position_embeddings), got ${value}`);
    this.maxTokens = value;
  }

  /** The encoded pairs the model reads (truncated to maxLength, padded to the longest). */
  encodePairs(pairs: readonly (readonly [string, string])[]): ReturnType<BertTokenizer['encodeBatchFlat']> {
    return this.tokenizer.encodeBatchFlat(
      pairs.map((p) => p[0]),
      pairs.map((p) => p[1]),
      { maxLength: this.maxTokens, truncation: 'longest_first', padding: 'longest' },
    );
  }

  /** Writes a folder sentence-transformers' CrossEncoder loads (config, weights, tokenizer, activation). */
  async save(dir: string): Promise<void> {
    const activationFn = Object.entries(ACTIVATIONS).find(([, a]) => a === this.activation)?.[0];
    await writeCrossEncoderFolder(dir, {
      model: this.model,
      tokenizerDir: this.folder,
      maxLength: this.maxTokens,
      activationFn: activationFn ?? 'torch.nn.modules.activation.Sigmoid',
    });
  }

  get numLabels(): number {
    return this.model.config.numLabels;
  }

  /**
   * Loads a cross-encoder folder: written by sentence-transformers >= 5.4 (activation_fn in
   * config_sentence_transformers.json) or 4.x - 5.3 (config.json "sentence_transformers".activation_fn, or the
   * older sbert_ce_default_activation_function). Without one: sigmoid for one label, identity otherwise.
   */
  static async fromPretrained(model: string, options: CrossEncoderOptions = {}): Promise<CrossEncoder> {
    const dir = await resolveSentenceModelPath(model, { revision: options.revision });
    const settings = readSettings(dir);
    const config = readConfig(dir);
    const trained = (config.architectures ?? []).some((a) => a.endsWith('ForSequenceClassification'));
    const numLabels = options.numLabels ?? (trained ? config.numLabels : 1);
    const bert = await BertForSequenceClassification.fromPretrained(dir, {
      kernels: options.kernels,
      dtype: options.dtype,
      warn: options.warn,
      seed: options.seed,
      ...(numLabels !== config.numLabels ? { config: newLabels(numLabels), ignoreMismatchedSizes: true } : {}),
    });
    const tokenizer = BertTokenizer.fromPretrained(dir);
    const legacy = bert.config.extra['sentence_transformers'];
    const legacyPath =
      typeof legacy === 'object' && legacy !== null && !Array.isArray(legacy)
        ? (legacy as Record<string, unknown>)['activation_fn']
        : undefined;
    const older = bert.config.extra['sbert_ce_default_activation_function'];
    const path =
      settings.activationFn ??
      (typeof legacyPath === 'string' ? legacyPath : null) ??
      (typeof older === 'string' ? older : null);
    let activation: CrossEncoderActivation = bert.config.numLabels === 1 ? 'sigmoid' : 'identity';
    if (path !== null) {
      const known = ACTIVATIONS[path];
      if (known === undefined) {
        throw new SentenceFolderError(
          `${dir}: activation_fn "${path}" is not supported; supported: ${Object.keys(ACTIVATIONS).join(', ')}`,
        );
      }
      activation = known;
    }
    return new CrossEncoder(dir, bert, tokenizer, options.activation ?? activation);
  }

  /** Scores of each [query, passage] pair: one number per pair for one label, else one list per pair. */
  predict(pairs: readonly (readonly [string, string])[], options: PredictOptions = {}): number[] | number[][] {
    const logits = this.logits(pairs, options.batchSize ?? 32);
    const L = this.numLabels;
    const act = options.activation ?? this.activation;
    const scores = logits.map((row) => applyActivation(act, row));
    return L === 1 ? scores.map((r) => r[0]!) : scores;
  }

  /** The documents sorted by their score against the query, best first (the topK best when given). */
  rank(
    query: string,
    documents: readonly string[],
    options: { topK?: number; returnDocuments?: boolean; batchSize?: number } = {},
  ): RankedDocument[] {
    if (this.numLabels !== 1)
      throw new InputError(
        'CrossEncoder.rank',
        `needs a model with one label; this one has ${this.numLabels} (use predict)`,
      );
    const scores = this.predict(
      documents.map((d) => [query, d] as const),
      { batchSize: options.batchSize },
    ) as number[];
    return rankScores(scores, documents, options);
  }

  /** Raw logits, one row of numLabels per pair. */
  logits(pairs: readonly (readonly [string, string])[], batchSize = 32): number[][] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InputError(
        'CrossEncoder',
        (name) => `${name('batchSize')} must be a positive integer, got ${batchSize}`,
      );
    pairs.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string')
        throw new InputError('CrossEncoder', `pair ${i} must be [text, text]`);
    });
    const L = this.numLabels;
    const out = new Array<number[]>(pairs.length);
    // Longest first (in tokens; sentence-transformers' CrossEncoder.predict sorts by characters), so each batch pads
    // to a similar length, and at most BATCH_TOKENS padded tokens a call, as the pipelines batch.
    const tokens = pairs.map(
      (p) =>
        this.tokenizer.encode(p[0], p[1], { maxLength: this.maxTokens, truncation: 'longest_first' }).inputIds.length,
    );
    for (const idx of batchOrder(pairs.length, batchSize, (i) => tokens[i]!, BATCH_TOKENS)) {
      const enc = this.encodePairs(idx.map((i) => pairs[i]!));
      const shape = [enc.batch, enc.seqLen];
      const { logits } = this.model.forward(
        {
          inputIds: { data: enc.inputIds, shape },
          attentionMask: { data: enc.attentionMask, shape },
          tokenTypeIds: { data: enc.tokenTypeIds, shape },
        },
        { grad: false },
      );
      idx.forEach((i, b) => (out[i] = Array.from(logits.data.subarray(b * L, (b + 1) * L))));
    }
    return out;
  }
}

/**
 * The documents' scores as a ranking, best first (ties by position), the topK best when given, each with its text
 * when returnDocuments is set: CrossEncoder.rank's answer (also the server's POST /rerank).
 */
export function rankScores(
  scores: readonly number[],
  documents: readonly string[],
  options: { topK?: number; returnDocuments?: boolean } = {},
): RankedDocument[] {
  const ranked = scores
    .map((score, corpusId) => ({
      corpusId,
      score,
      ...(options.returnDocuments ? { text: documents[corpusId] } : {}),
    }))
    .sort((a, b) => b.score - a.score || a.corpusId - b.corpusId);
  return options.topK !== undefined ? ranked.slice(0, Math.max(0, options.topK)) : ranked;
}

/** Config overrides for a classifier of n placeholder labels (id2label wins over num_labels in a config). */
function newLabels(n: number): {
  num_labels: number;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
} {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`CrossEncoder: numLabels must be a positive integer, got ${n}`);
  const names = Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  return {
    num_labels: n,
    id2label: Object.fromEntries(names.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(names.map((l, i) => [l, i])),
  };
}

function applyActivation(act: CrossEncoderActivation, row: number[]): number[] {
  if (act === 'sigmoid') return row.map((x) => 1 / (1 + Math.exp(-x)));
  if (act === 'tanh') return row.map(Math.tanh);
  if (act === 'softmax') {
    const m = Math.max(...row);
    const e = row.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  }
  return row;
}
