// Bad input to a model or a pipeline is one class, InputError (what, where), which callers and the server branch on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { InputError, isInputError } from '../../src/model/errors.js';
import { pipeline } from '../../src/pipelines/pipeline.js';

const FIX = '../shared/fixtures/hf-tiny';

test('model input checks throw InputError naming the input; vocab 1881 and 64 positions from config.json', async () => {
  const model = await BertForSequenceClassification.fromPretrained(`${FIX}/seq_cls3`, { warn: () => {} });
  const refused = (fn: () => unknown, where: string, problem: RegExp): void =>
    assert.throws(fn, (e: unknown) => e instanceof InputError && e.where === where && problem.test(e.problem));
  refused(
    () => model.forward({ inputIds: [[2, 1881]] }),
    'inputIds',
    /id 1881 at flat index 1 is outside the vocabulary \[0, 1881\)/,
  );
  refused(
    () => model.forward({ inputIds: [new Array<number>(65).fill(5)] }),
    'BertForSequenceClassification.forward',
    /sequence length 65 exceeds max_position_embeddings 64/,
  );
  refused(
    () => model.forward({ inputIds: [[2, 5]], attentionMask: [[1, 2]] }),
    'attentionMask',
    /value 2 at flat index 1/,
  );
  refused(() => model.forward({ inputIds: [[2, 5], [3]] }), 'inputIds[1]', /ragged input/);
  assert.throws(
    () => model.forward({ inputIds: [[2, 5]], labels: [3] }),
    (e: unknown) => e instanceof InputError && /label 3 at position 0 is outside \[0, 3\)/.test(e.message),
  );
  await assert.rejects(model.save('/tmp/never', { dtype: 'int8' as 'float16' }), (e: unknown) => {
    return e instanceof InputError && e.options.includes('dtype');
  });
});

test('a pipeline refuses its input with the same class (fill-mask without [MASK])', async () => {
  const fill = await pipeline('fill-mask', `${FIX}/masked_lm`, { tokenizer: `${FIX}/tokenizer` });
  await assert.rejects(fill('no mask here'), (e: unknown) => e instanceof InputError && isInputError(e));
  assert.equal(isInputError(new Error('boom')), false);
});
