// The one loader's report: resized heads (ignoreMismatchedSizes), the backbone never resized, and the keys a head class
// declares ignorable (HF's _keys_to_ignore_on_load_*) left out of the warnings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, CheckpointFormatError, writeSafetensors } from '../../src/io/index.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../../src/model/bert.js';
import { loadWarnings, readFloat32Tensors } from '../../src/model/checkpoint.js';

const FIXTURES = '../shared/fixtures/hf-tiny';
const SEQ3 = `${FIXTURES}/seq_cls3`;
const PRETRAINING = `${FIXTURES}/pretraining`;

describe('fromPretrained load report', () => {
  it('ignoreMismatchedSizes re-initialises a resized head, keeps the backbone, and says so once', async () => {
    const warnings: string[] = [];
    const model = await BertForSequenceClassification.fromPretrained(SEQ3, {
      config: { num_labels: 2, id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 } },
      ignoreMismatchedSizes: true,
      warn: (m) => warnings.push(m),
    });
    const stored = readSafetensors(`${SEQ3}/model.safetensors`).tensors;
    const word = 'bert.embeddings.word_embeddings.weight';
    assert.deepEqual(model.param(word), stored.get(word)!.data);
    assert.deepEqual(model.loadReport?.mismatched.map((m) => [m.name, m.checkpoint, m.model]).sort(), [
      ['classifier.bias', [3], [2]],
      ['classifier.weight', [3, 32], [2, 32]],
    ]);
    assert.equal(warnings.length, 1, warnings.join(' | '));
    assert.match(
      warnings[0]!,
      /re-initialized because their shapes did not match.*classifier\.weight: checkpoint \[3, 32\] -> model \[2, 32\]/,
    );
  });

  it('without ignoreMismatchedSizes a resized head is refused, naming the tensor', async () => {
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(SEQ3, { config: { num_labels: 2 }, warn: () => {} }),
      (e: unknown) =>
        e instanceof CheckpointFormatError &&
        /classifier\.(weight|bias).*does not belong|do not belong/.test(e.message),
    );
  });

  it('never resizes the backbone: a backbone shape mismatch is an error even with ignoreMismatchedSizes', async () => {
    await assert.rejects(
      BertForSequenceClassification.fromPretrained(SEQ3, {
        config: { type_vocab_size: 3 },
        ignoreMismatchedSizes: true,
        warn: () => {},
      }),
      (e: unknown) => e instanceof CheckpointFormatError && /token_type_embeddings/.test(e.message),
    );
  });

  it('reports unused and new weights as transformers 5 does; declared ignorable keys are left out', async () => {
    const warnings: string[] = [];
    const model = await BertForTokenClassification.fromPretrained(PRETRAINING, { warn: (m) => warnings.push(m) });
    const report = model.loadReport ?? { missing: [], unexpected: [], mismatched: [] };
    assert.ok(
      report.unexpected.some((n) => n.startsWith('cls.')),
      'the pre-training heads are unused',
    );
    const unused = warnings.find((w) => /were not used when initializing BertForTokenClassification/.test(w));
    assert.ok(unused, warnings.join(' | '));
    // transformers 5 declares no _keys_to_ignore_on_load_unexpected on BERT's heads: the pooler is reported too.
    assert.match(unused, /bert\.pooler\.dense\.weight/);
    assert.match(unused, /cls\.seq_relationship\.weight/);
    assert.ok(warnings.some((w) => /newly initialized: \[classifier\.weight, classifier\.bias\]/.test(w)));
    // A class that declares the pooler ignorable (as transformers 4 did) gets it left out of the same report.
    const quiet = loadWarnings(report, 'BertForTokenClassification', PRETRAINING, {
      keysToIgnoreOnLoadMissing: [],
      keysToIgnoreOnLoadUnexpected: [/pooler/],
    });
    const quietUnused = quiet.find((w) => /were not used/.test(w)) ?? '';
    assert.ok(!quietUnused.includes('pooler') && quietUnused.includes('cls.seq_relationship.weight'), quietUnused);
  });

  it('loadWarnings: a clean load gives no warning; every list is worded once', () => {
    assert.deepEqual(loadWarnings({ missing: [], unexpected: [], mismatched: [] }, 'BertModel', 'dir'), []);
    const w = loadWarnings({ missing: ['a'], unexpected: ['b'], mismatched: [] }, 'BertModel', 'dir');
    assert.equal(w.length, 2);
    assert.match(
      w[0]!,
      /^Some weights of the model checkpoint at dir were not used when initializing BertModel: \[b\]/,
    );
    assert.match(w[1]!, /^Some weights of BertModel were not initialized from the model checkpoint at dir .*\[a\]/);
  });
});

describe('readFloat32Tensors (training-state weights)', () => {
  it('reads F32 tensors by name and refuses an integer tensor with the file and the name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bert-ts-f32-'));
    try {
      const ok = join(dir, 'ok.safetensors');
      writeSafetensors(ok, new Map([['w', { dtype: 'F32', shape: [2], data: Float32Array.from([1.5, -2]) }]]));
      assert.deepEqual([...readFloat32Tensors(ok)], [['w', Float32Array.from([1.5, -2])]]);
      const bad = join(dir, 'bad.safetensors');
      writeSafetensors(bad, new Map([['step', { dtype: 'I32', shape: [1], data: Int32Array.from([3]) }]]));
      assert.throws(
        () => readFloat32Tensors(bad),
        (e: unknown) => e instanceof CheckpointFormatError && e.file === bad && /"step" is I32/.test(e.problem),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
