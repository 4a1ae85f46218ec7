// Worker-side entry of a sentence pool: createPredictor loads a SentenceTransformer (embeddings, for POST /embed) or a
// CrossEncoder (pair scores, for POST /rerank) and answers batches.
import type { ModelDtype } from '../model/linear-dtype.js';
import { CrossEncoder, SentenceTransformer, type SentenceEncodeOptions } from '../model/sentence/index.js';

/** Structured-cloneable description of the sentence model a worker loads (kernels are chosen inside the worker). */
export interface SentencePredictorArgs {
  /** 'embed': texts -> embeddings (number[] each); 'rerank': [query, document] pairs -> one score each. */
  kind: 'embed' | 'rerank';
  /** A sentence-transformers folder (embed) or a cross-encoder folder (rerank), or a hub id. */
  model: string;
  revision?: string;
  /** What the model's linear layers compute in (default fp32). */
  dtype?: ModelDtype;
}

export interface SentencePredictorInfo {
  task: 'sentence-embedding' | 'text-ranking';
  model: string;
  labels: string[];
  dtype: string;
  /** embed: dimensions of an embedding and the prompt names of the folder. */
  dimension?: number;
  prompts?: string[];
}

const ENCODE_OPTIONS = ['normalize', 'promptName', 'prompt', 'truncateDim'] as const;

export async function createPredictor(args: SentencePredictorArgs): Promise<{
  predict: (inputs: unknown[], options?: Record<string, unknown>) => unknown[];
  info: SentencePredictorInfo;
}> {
  if (args.kind === 'embed') {
    const model = await SentenceTransformer.fromPretrained(args.model, {
      warn: () => {},
      revision: args.revision,
      dtype: args.dtype,
    });
    return {
      predict: (texts, options = {}) => {
        const encode: SentenceEncodeOptions = { batchSize: Math.max(1, texts.length) };
        for (const key of ENCODE_OPTIONS)
          if (options[key] !== undefined) Object.assign(encode, { [key]: options[key] });
        // number[] (not Float32Array) so that the answer is JSON as it is; float32 values are exact as doubles.
        return model.encode(texts as string[], encode).map((v) => Array.from(v));
      },
      info: {
        task: 'sentence-embedding',
        model: args.model,
        labels: [],
        dtype: model.bert.dtype,
        dimension: model.embeddingDimension,
        prompts: Object.keys(model.prompts),
      },
    };
  }
  const warnings: string[] = [];
  const model = await CrossEncoder.fromPretrained(args.model, {
    warn: (m) => warnings.push(m),
    revision: args.revision,
    dtype: args.dtype,
  });
  // A folder without a trained classifier would rank with random weights: refuse it rather than serve noise.
  const fresh = warnings.find((w) => /newly initialized/.test(w));
  if (fresh !== undefined) throw new Error(`${args.model} is not a cross-encoder (no trained classifier): ${fresh}`);
  if (model.numLabels !== 1) {
    throw new Error(
      `${args.model} has ${model.numLabels} labels; ranking needs a cross-encoder with one (serve it as text-classification)`,
    );
  }
  return {
    predict: (pairs) =>
      model.predict(pairs as [string, string][], { batchSize: Math.max(1, pairs.length) }) as number[],
    info: { task: 'text-ranking', model: args.model, labels: [], dtype: model.model.dtype },
  };
}
