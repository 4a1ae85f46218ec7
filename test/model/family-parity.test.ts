// Parity with transformers for the BERT family (RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA, ModernBERT): every head of
// test/model/fixtures/family/* (made by scripts/fixtures/family_fixtures.py), with the js kernels and the default
// backend — outputs, hidden states, attentions, losses, every gradient and three AdamW steps; ModernBERT padded and
// unpadded (scripts/parity.ts --unpad).
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { runParity } from '../../scripts/parity.js';
import { readSafetensors } from '../../src/io/index.js';
import { DistilBertModel } from '../../src/model/bert.js';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

const FIXTURES = 'test/model/fixtures/family';

describe('parity with HF fixtures (BERT family)', () => {
  const families = [
    'roberta',
    'xlm-roberta',
    'distilbert',
    'distilbert-sinusoidal',
    'electra',
    'modernbert',
    'modernbert-biases',
  ];
  for (const family of families) {
    // ModernBERT runs right-padded batches unpadded by default: both paths against the (eager) fixtures.
    for (const unpad of family.startsWith('modernbert') ? [false, true] : [false]) {
      for (const kernels of [jsKernels, getKernels()]) {
        const what = `${family}${unpad ? ' unpadded' : ''}`;
        it(`${what}: every check is within tolerance with the ${kernels.name} kernels`, async () => {
          const r = await runParity(`${FIXTURES}/${family}`, { kernels, unpad });
          assert.ok(r.total > 150, `expected the full set of checks, got ${r.total}`);
          assert.deepEqual(r.failures, []);
          assert.equal(r.passed, r.total, r.lines.join('\n'));
        });
      }
    }
  }
});

test('sinusoidal_pos_embds starts the DistilBERT position table as transformers does', () => {
  const dir = `${FIXTURES}/distilbert-sinusoidal`;
  const ref = readSafetensors(`${dir}/reference.safetensors`).tensors.get('init.position_embeddings')!;
  const config = JSON.parse(readFileSync(`${dir}/model/config.json`, 'utf8')) as Record<string, unknown>;
  const model = new DistilBertModel(config, { kernels: jsKernels });
  const ours = model.param('embeddings.position_embeddings.weight');
  assert.equal(ours.length, ref.data.length);
  let err = 0;
  for (let i = 0; i < ours.length; i++) err = Math.max(err, Math.abs(ours[i]! - (ref.data[i] as number)));
  assert.ok(err < 1e-6, `max error ${err}`);
});
