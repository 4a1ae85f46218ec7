// Parity with transformers for the BERT family (RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA): every head of
// test/model/fixtures/family/* (made by scripts/fixtures/family_fixtures.py), with the js kernels and the default
// backend — outputs, hidden states, attentions, losses, every gradient and three AdamW steps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runParity } from '../../scripts/parity.js';
import { getKernels } from '../../src/native/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';

const FIXTURES = 'test/model/fixtures/family';

describe('parity with HF fixtures (BERT family)', () => {
  for (const family of ['roberta', 'xlm-roberta', 'distilbert', 'electra']) {
    for (const kernels of [jsKernels, getKernels()]) {
      it(`${family}: every check is within tolerance with the ${kernels.name} kernels`, async () => {
        const r = await runParity(`${FIXTURES}/${family}`, { kernels });
        assert.ok(r.total > 500, `expected the full set of checks, got ${r.total}`);
        assert.deepEqual(r.failures, []);
        assert.equal(r.passed, r.total, r.lines.join('\n'));
      });
    }
  }
});
