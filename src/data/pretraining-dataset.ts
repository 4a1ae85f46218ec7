// create-pretraining-data as a library call: stream a corpus, tokenize, make instances chunk by chunk, write shards.
//
// Memory: google-research/bert holds the whole tokenized corpus and all instances. Here documents are taken
// `documentsPerShard` at a time (the last shard gets the remainder, between 0.5x and 1.5x that); a chunk's tokens
// and its instances are all that is held (about documents x tokens x (1 + dupeFactor) x 4 bytes plus object
// overhead: ~150 MB for 10,000 IMDb reviews at dupe factor 5). The price: a "random next" B comes from a document
// of the same chunk, not of the whole corpus, and instances are shuffled within a shard (the trainer shuffles shards).
import { writeFileSync, renameSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { Rng } from './rng.js';
import {
  createTrainingInstances,
  pretrainingVocab,
  type MaskingOptions,
  type TokenizedDocument,
} from './pretraining.js';
import { readCorpusDocuments, type CorpusReadOptions } from './pretraining-input.js';
import { MANIFEST_FILE, ShardWriter, type PretrainingDatasetManifest } from './shards.js';

/** The tokenizer calls this needs (BertTokenizer has them). */
export interface SentenceTokenizer {
  tokenize(text: string): string[];
  convertTokensToIds(tokens: string[]): number[];
}

export interface CreatePretrainingDataOptions extends CorpusReadOptions {
  inputs: readonly string[];
  outputDir: string;
  tokenizer: SentenceTokenizer;
  /** The vocabulary's tokens in id order (for special ids, random replacements, "##" pieces). */
  vocabTokens: readonly string[];
  /** Where the vocabulary came from, for messages. */
  vocabSource?: string;
  maxSeqLength?: number;
  maxPredictionsPerSeq?: number;
  maskedLmProb?: number;
  shortSeqProb?: number;
  dupeFactor?: number;
  wholeWordMask?: boolean;
  /** Store unmasked instances; the trainer masks them anew every epoch. */
  dynamicMasking?: boolean;
  seed?: number;
  documentsPerShard?: number;
  onProgress?: (p: { documents: number; instances: number; shards: number }) => void;
}

/** Writes shard-NNNNN.bin files and dataset.json into `outputDir`; returns the manifest. */
export async function createPretrainingData(o: CreatePretrainingDataOptions): Promise<PretrainingDatasetManifest> {
  const maxSeqLength = o.maxSeqLength ?? 128;
  const maxPredictions = o.maxPredictionsPerSeq ?? 20;
  const maskedLmProb = o.maskedLmProb ?? 0.15;
  const shortSeqProb = o.shortSeqProb ?? 0.1;
  const dupeFactor = o.dupeFactor ?? 10;
  const wholeWordMask = o.wholeWordMask ?? false;
  const dynamic = o.dynamicMasking ?? false;
  const seed = o.seed ?? 12345;
  const perShard = o.documentsPerShard ?? 10000;
  if (!Number.isInteger(perShard) || perShard < 4)
    throw new RangeError(`documentsPerShard must be an integer >= 4, got ${perShard}`);
  if (o.inputs.length === 0) throw new Error('create-pretraining-data: no input files given');
  const vocab = pretrainingVocab(o.vocabTokens, o.vocabSource);
  const masking: MaskingOptions | null = dynamic ? null : { maskedLmProb, maxPredictions, wholeWordMask };
  mkdirSync(o.outputDir, { recursive: true });
  // An earlier dataset.json would describe shards about to be overwritten: drop it first, write the new one last.
  rmSync(join(o.outputDir, MANIFEST_FILE), { force: true });

  const shards: PretrainingDatasetManifest['shards'] = [];
  const counts = { documents: 0, sentences: 0, tokens: 0, instances: 0, randomNext: 0, predictions: 0 };

  const writeChunk = (docs: TokenizedDocument[]): void => {
    const index = shards.length;
    // One generator per shard, seeded from (seed, shard): a shard's content depends only on its documents.
    const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0);
    const made = createTrainingInstances(docs, vocab, { maxSeqLength, shortSeqProb, dupeFactor, masking }, rng);
    const file = `shard-${String(index).padStart(5, '0')}.bin`;
    const w = new ShardWriter(join(o.outputDir, file), {
      masked: !dynamic,
      wholeWordMask,
      maxSeqLength,
      maxPredictions,
      vocabSize: vocab.size,
    });
    try {
      for (const inst of made) {
        w.write(inst);
        if (inst.isRandomNext) counts.randomNext++;
        counts.predictions += inst.maskedPositions.length;
      }
    } catch (e) {
      w.abort();
      throw e;
    }
    const h = w.close();
    counts.instances += made.length;
    shards.push({ file, instances: made.length, documents: docs.length, bytes: h.dataBytes + 64 });
    o.onProgress?.({ documents: counts.documents, instances: counts.instances, shards: shards.length });
  };

  let buffer: TokenizedDocument[] = [];
  for await (const doc of readCorpusDocuments(o.inputs, o)) {
    const sents: Int32Array[] = [];
    for (const s of doc.sentences) {
      const ids = o.tokenizer.convertTokensToIds(o.tokenizer.tokenize(s));
      if (ids.length === 0) continue;
      sents.push(Int32Array.from(ids));
      counts.tokens += ids.length;
    }
    if (sents.length === 0) continue;
    counts.sentences += sents.length;
    counts.documents++;
    buffer.push(sents);
    // Wait for 1.5 chunks before writing one, so that the last chunk is never a lonely handful of documents.
    if (buffer.length >= perShard + (perShard >> 1)) {
      writeChunk(buffer.slice(0, perShard));
      buffer = buffer.slice(perShard);
    }
  }
  if (counts.documents < 2) {
    throw new DataError(
      o.inputs.join(', '),
      `${counts.documents} document(s) with text; next sentence prediction ` +
        'needs at least 2 (plain text: separate documents with a blank line)',
    );
  }
  writeChunk(buffer);

  const manifest: PretrainingDatasetManifest = {
    format: 'bert-ts-pretraining-shards',
    version: 1,
    masking: dynamic ? 'dynamic' : 'static',
    maxSeqLength,
    maxPredictionsPerSeq: maxPredictions,
    maskedLmProb,
    shortSeqProb,
    dupeFactor,
    wholeWordMask,
    seed,
    documentsPerShard: perShard,
    vocabSize: vocab.size,
    specialIds: {
      pad: vocab.padId,
      unk: o.vocabTokens.indexOf('[UNK]'),
      cls: vocab.clsId,
      sep: vocab.sepId,
      mask: vocab.maskId,
    },
    inputs: [...o.inputs],
    ...counts,
    shards,
  };
  const path = join(o.outputDir, MANIFEST_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
  renameSync(tmp, path);
  // Shards of an earlier, larger run in the same folder are no longer listed: remove them.
  const keep = new Set(shards.map((s) => s.file));
  for (const f of readdirSync(o.outputDir)) {
    if (/^shard-\d{5}\.bin$/.test(f) && !keep.has(f)) rmSync(join(o.outputDir, f), { force: true });
  }
  return manifest;
}
