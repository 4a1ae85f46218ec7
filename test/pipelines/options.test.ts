// Pipeline options in both spellings (transformers.js's top_k and topK), unknown options refused, the task checked
// against the model's head, and pipeline(task) without a model.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipeline } from '../../src/pipelines/pipeline.js';
import { taskOfModel } from '../../src/pipelines/defaults.js';
import { readConfig } from '../../src/model/checkpoint.js';
import { InputError } from '../../src/model/errors.js';

const TINY = '../shared/fixtures/hf-tiny';
const options = { tokenizer: `${TINY}/tokenizer`, quiet: true };

test('text-classification: top_k and topK, function_to_apply and functionToApply agree', async () => {
  const classify = await pipeline('sentiment-analysis', `${TINY}/seq_cls3`, options);
  const snake = await classify('a fine film', { top_k: 2, function_to_apply: 'sigmoid' });
  const camel = await classify('a fine film', { topK: 2, functionToApply: 'sigmoid' });
  assert.equal(snake.length, 2);
  assert.deepEqual(snake, camel);
  // A list with top_k 2 gives a list per text (the rule reads the snake_case spelling too).
  const list = (await classify(['a', 'b'], { top_k: 2 })) as unknown[][];
  assert.ok(list.every((r) => Array.isArray(r) && r.length === 2));
  assert.deepEqual((await classify(['a'], { top_k: null })) as unknown[][], [await classify('a', { topK: null })]);
});

test('unknown options are refused with the known ones named, not ignored', async () => {
  const classify = await pipeline('text-classification', `${TINY}/seq_cls3`, options);
  await assert.rejects(
    classify('x', { topk: 2 } as never),
    (e: unknown) => e instanceof InputError && /unknown option "topk"; known: top_k \/ topK/.test(e.message),
  );
  await assert.rejects(classify('x', { top_k: 2, topK: 2 } as never), /given twice/);
  await assert.rejects(classify.predictEach(['x'], { pooling: 'mean' } as never), /unknown option "pooling"/);
  await assert.rejects(
    pipeline('text-classification', `${TINY}/seq_cls3`, { ...options, device: 'webgpu' } as never),
    /pipeline: unknown option "device"; known: kernels, tokenizer, batch_size \/ batchSize/,
  );
  // pipeline()'s own options in snake_case too.
  const p = await pipeline('text-classification', `${TINY}/seq_cls3`, { ...options, batch_size: 2, max_length: 16 });
  assert.equal((await p(['a', 'b', 'c'])).length, 3);
  const ner = await pipeline('ner', `${TINY}/token_cls5`, options);
  const grouped = await ner('John lives in Paris', { aggregation_strategy: 'simple', ignore_labels: [] });
  assert.deepEqual(grouped, await ner('John lives in Paris', { aggregationStrategy: 'simple', ignoreLabels: [] }));
  const qa = await pipeline('question-answering', `${TINY}/qa`, options);
  assert.equal(((await qa('who?', 'John lives in Paris.', { top_k: 3, max_answer_len: 2 })) as unknown[]).length, 3);
});

test('a fine-tuned head refuses another task in one line; pre-trained checkpoints and feature-extraction do not', async () => {
  await assert.rejects(
    pipeline('text-classification', `${TINY}/token_cls5`, options),
    /is a BertForTokenClassification model \(token-classification\), so it cannot do text-classification; use the task token-classification/,
  );
  await assert.rejects(pipeline('question-answering', `${TINY}/seq_cls3`, options), /cannot do question-answering/);
  await pipeline('feature-extraction', `${TINY}/token_cls5`, options);
  await pipeline('fill-mask', `${TINY}/masked_lm`, options);
  assert.equal(taskOfModel(readConfig(`${TINY}/token_cls5`)), 'token-classification');
  assert.equal(taskOfModel(readConfig(`${TINY}/qa`)), 'question-answering');
  assert.equal(taskOfModel(readConfig(`${TINY}/multiple_choice`)), null);
  // The family's heads by their class names; ELECTRA's discriminator is no fill-mask model.
  const family = 'test/model/fixtures/family';
  assert.equal(taskOfModel(readConfig(`${family}/roberta/seq_cls3`)), 'text-classification');
  assert.equal(taskOfModel(readConfig(`${family}/electra/discriminator`)), null);
});

test('pipeline(task) without a model: the embedded BERT-mini for fill-mask and feature-extraction', async () => {
  const fill = await pipeline('fill-mask', undefined, { quiet: true });
  const preds = await fill('the movie was [MASK].', { top_k: 3 });
  assert.equal(preds.length, 3);
  const extract = await pipeline('feature-extraction', null, { quiet: true });
  assert.deepEqual((await extract('a film', { pooling: 'mean' })).dims, [1, 256]);
});
