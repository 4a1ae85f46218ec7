// Shard format round trip, corruption detection, and the create-pretraining-data driver on generated corpora.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../src/data/rng.js';
import {
  createTrainingInstances,
  pretrainingVocab,
  type PretrainingInstance,
  type TokenizedDocument,
} from '../../src/data/pretraining.js';
import { ShardWriter, readShard, readShardHeader, readDatasetManifest, readDataset } from '../../src/data/shards.js';
import { createPretrainingData, type SentenceTokenizer } from '../../src/data/pretraining-dataset.js';
import { DataError } from '../../src/data/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-shards-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
function vocabOf(size: number): string[] {
  return [...SPECIAL, ...Array.from({ length: size - SPECIAL.length }, (_, i) => (i % 4 === 3 ? `##w${i}` : `w${i}`))];
}
function randomDocs(n: number, vocabSize: number, seed: number): TokenizedDocument[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: 2 + rng.int(12) }, () =>
      Int32Array.from({ length: 1 + rng.int(30) }, () => 5 + rng.int(vocabSize - 5)),
    ),
  );
}
function writeAll(path: string, insts: PretrainingInstance[], masked: boolean, vocabSize: number): void {
  const w = new ShardWriter(path, { masked, maxSeqLength: 128, maxPredictions: 20, vocabSize });
  for (const i of insts) w.write(i);
  w.close();
}

for (const vocabSize of [1000, 70000]) {
  for (const masked of [true, false]) {
    test(`round trip: vocab ${vocabSize} (${vocabSize > 65536 ? 'uint32' : 'uint16'} ids), ${masked ? 'masked' : 'unmasked'}`, () => {
      const vocab = pretrainingVocab(vocabOf(vocabSize));
      const insts = createTrainingInstances(
        randomDocs(60, vocabSize, 1),
        vocab,
        { dupeFactor: 2, masking: masked ? {} : null },
        new Rng(2),
      );
      const path = join(dir, `rt-${vocabSize}-${masked}.bin`);
      writeAll(path, insts, masked, vocabSize);
      const h = readShardHeader(path);
      assert.equal(h.instances, insts.length);
      assert.equal(h.tokenBytes, vocabSize > 65536 ? 4 : 2);
      assert.equal(h.masked, masked);
      assert.deepEqual([...readShard(path)], insts);
    });
  }
}

test('the reader streams: a shard much larger than its 1 MiB buffer reads back in order', () => {
  const vocab = pretrainingVocab(vocabOf(30000));
  const insts = createTrainingInstances(randomDocs(3000, 30000, 3), vocab, { dupeFactor: 2 }, new Rng(4));
  const path = join(dir, 'big.bin');
  writeAll(path, insts, true, 30000);
  assert.ok(readShardHeader(path).dataBytes > 1 << 20, 'shard is bigger than the read buffer');
  let k = 0;
  for (const inst of readShard(path)) {
    assert.deepEqual(inst, insts[k]);
    k++;
  }
  assert.equal(k, insts.length);
});

test('atomic: nothing under the final name until close(); abort() leaves nothing', () => {
  const vocab = pretrainingVocab(vocabOf(100));
  const insts = createTrainingInstances(randomDocs(10, 100, 5), vocab, { dupeFactor: 1 }, new Rng(6));
  const path = join(dir, 'atomic.bin');
  const w = new ShardWriter(path, { masked: true, maxSeqLength: 128, maxPredictions: 20, vocabSize: 100 });
  w.write(insts[0]!);
  assert.equal(existsSync(path), false);
  w.abort();
  assert.equal(existsSync(path), false);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('atomic')),
    [],
  );
});

test('corruption is detected: flipped byte, truncation, bad magic, bad id', () => {
  const vocab = pretrainingVocab(vocabOf(500));
  const insts = createTrainingInstances(randomDocs(30, 500, 7), vocab, { dupeFactor: 1 }, new Rng(8));
  const path = join(dir, 'c.bin');
  writeAll(path, insts, true, 500);
  const good = readFileSync(path);
  const flipped = Buffer.from(good);
  const at = good.length - 3; // inside the last record's label ids
  flipped.writeUInt8(flipped.readUInt8(at) ^ 0x01, at);
  writeFileSync(path, flipped);
  assert.throws(
    () => [...readShard(path)],
    (e: unknown) => e instanceof DataError && /checksum|token id|position/.test(e.message),
  );
  writeFileSync(path, good);
  truncateSync(path, good.length - 10);
  assert.throws(() => [...readShard(path)], /c\.bin: header says \d+ bytes, the file has \d+ \(truncated/);
  const bad = Buffer.from(good);
  bad.write('NOTASHRD', 0, 'latin1');
  writeFileSync(path, bad);
  assert.throws(() => readShardHeader(path), /bad magic/);
  const w = new ShardWriter(join(dir, 'd.bin'), { masked: true, maxSeqLength: 128, maxPredictions: 20, vocabSize: 10 });
  assert.throws(() => w.write(insts[0]!), /outside the vocabulary/);
  w.abort();
});

// A whitespace tokenizer over a known vocabulary: enough to drive the pipeline without the WordPiece tokenizer.
function wordTokenizer(tokens: string[]): SentenceTokenizer {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  return {
    tokenize: (text) => text.toLowerCase().split(/\s+/).filter(Boolean),
    convertTokensToIds: (ts) => ts.map((t) => ids.get(t) ?? 1),
  };
}
function sentenceText(rng: Rng, words: number): string {
  return Array.from({ length: 3 + rng.int(words) }, () => `w${rng.int(400)}`).join(' ');
}

test('driver: plain-text corpus (blank line between documents) in several shards; counts add up; streaming', async () => {
  const rng = new Rng(9);
  const docs: string[] = [];
  for (let d = 0; d < 230; d++)
    docs.push(Array.from({ length: 1 + rng.int(10) }, () => sentenceText(rng, 15)).join('\n'));
  const input = join(dir, 'corpus.txt');
  writeFileSync(input, docs.join('\n\n') + '\n');
  const out = join(dir, 'out-text');
  const vocabTokens = vocabOf(405);
  const progress: number[] = [];
  const m = await createPretrainingData({
    inputs: [input],
    outputDir: out,
    tokenizer: wordTokenizer(vocabTokens),
    vocabTokens,
    dupeFactor: 2,
    documentsPerShard: 50,
    maxSeqLength: 64,
    maxPredictionsPerSeq: 10,
    onProgress: (p) => progress.push(p.documents),
  });
  assert.equal(m.documents, 230);
  // A shard is written once 75 are waiting; the remainder (between 25 and 75) is the last shard.
  assert.deepEqual(
    m.shards.map((s) => s.documents),
    [50, 50, 50, 50, 30],
  );
  // Shards are written while reading: the first one before the input is read to the end.
  assert.ok(progress[0]! < 230, `first shard written after ${progress[0]} documents`);
  const again = readDatasetManifest(out);
  assert.deepEqual(again, m);
  const all = [...readDataset(out, again)];
  assert.equal(all.length, m.instances);
  assert.equal(all.filter((i) => i.isRandomNext).length, m.randomNext);
  assert.equal(
    all.reduce((s, i) => s + i.maskedPositions.length, 0),
    m.predictions,
  );
  assert.ok(
    all.every((i) => i.inputIds.length <= 64 && i.maskedPositions.length <= 10 && i.maskedPositions.length >= 1),
  );
  const frac = m.randomNext / m.instances;
  assert.ok(frac > 0.45 && frac < 0.7, `NSP random fraction ${frac}`);
  // A second, smaller run in the same folder removes the shards it no longer lists.
  const m2 = await createPretrainingData({
    inputs: [input],
    outputDir: out,
    tokenizer: wordTokenizer(vocabTokens),
    vocabTokens,
    dupeFactor: 1,
    documentsPerShard: 200,
  });
  assert.equal(m2.shards.length, 1);
  assert.deepEqual(readdirSync(out).sort(), ['dataset.json', 'shard-00000.bin']);
});

test('driver: IMDb-style JSONL.gz with <br /> and dynamic masking stores unmasked instances', async () => {
  const rng = new Rng(10);
  const rows = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({
      id: i,
      text:
        Array.from({ length: 2 + rng.int(6) }, () => sentenceText(rng, 10) + '.').join(' ') + '<br /><br />The end.',
    }),
  );
  const input = join(dir, 'reviews.jsonl.gz');
  writeFileSync(input, gzipSync(rows.join('\n') + '\n'));
  const vocabTokens = [...vocabOf(405), 'the', 'end', '.'];
  const m = await createPretrainingData({
    inputs: [input],
    outputDir: join(dir, 'out-jsonl'),
    tokenizer: wordTokenizer(vocabTokens),
    vocabTokens,
    dupeFactor: 1,
    dynamicMasking: true,
  });
  assert.equal(m.masking, 'dynamic');
  assert.equal(m.documents, 40);
  assert.equal(m.predictions, 0);
  const insts = [...readDataset(join(dir, 'out-jsonl'), m)];
  assert.ok(insts.every((i) => i.maskedPositions.length === 0 && !i.inputIds.includes(4)));
});

test('driver bad input: empty corpus, one document, vocabulary without [MASK], bad JSONL, no manifest', async () => {
  const vocabTokens = vocabOf(405);
  const tokenizer = wordTokenizer(vocabTokens);
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n\n  \n');
  await assert.rejects(
    createPretrainingData({ inputs: [empty], outputDir: join(dir, 'o1'), tokenizer, vocabTokens }),
    /0 document\(s\) with text/,
  );
  const one = join(dir, 'one.txt');
  writeFileSync(one, 'w1 w2 w3\nw4 w5\n');
  await assert.rejects(
    createPretrainingData({ inputs: [one], outputDir: join(dir, 'o2'), tokenizer, vocabTokens }),
    /1 document\(s\).*at least 2/,
  );
  const noMask = vocabTokens.filter((t) => t !== '[MASK]');
  await assert.rejects(
    createPretrainingData({
      inputs: [one],
      outputDir: join(dir, 'o3'),
      tokenizer,
      vocabTokens: noMask,
      vocabSource: 'v/vocab.txt',
    }),
    /v\/vocab.txt: has no \[MASK\] token/,
  );
  const badJson = join(dir, 'bad.jsonl');
  writeFileSync(badJson, '{"text": "ok. fine."}\n{"txt": "x"}\n');
  await assert.rejects(
    createPretrainingData({ inputs: [badJson], outputDir: join(dir, 'o4'), tokenizer, vocabTokens }),
    /bad\.jsonl:2: no string field "text"/,
  );
  assert.equal(existsSync(join(dir, 'o4', 'dataset.json')), false);
  assert.throws(() => readDatasetManifest(join(dir, 'o4')), /dataset.json: not found/);
  // Documents of one sentence each: allowed; every pair is a random next.
  const singles = join(dir, 'singles.txt');
  writeFileSync(singles, Array.from({ length: 20 }, (_, i) => `w${i} w${i + 1} w${i + 2}`).join('\n\n') + '\n');
  const m = await createPretrainingData({
    inputs: [singles],
    outputDir: join(dir, 'o5'),
    tokenizer,
    vocabTokens,
    dupeFactor: 1,
  });
  assert.equal(m.randomNext, m.instances);
  assert.equal(m.instances, 20);
});
