// ONNX export by task: the head follows the task (a pre-training checkpoint exports its encoder unless fill-mask is
// asked for) and the exported config.json names the graph's class and float32; onnxruntime checks the graphs.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/io/index.js';
import { exportOnnxFolder } from '../../src/export/folder.js';
import { OnnxExportError, resolveOnnxHead } from '../../src/export/onnx.js';
import { BertModel } from '../../src/model/bert.js';
import { maxAbsDiff } from './helpers.js';

const fixtures = resolve('../shared/fixtures/hf-tiny');
const ref = readSafetensors(join(fixtures, 'reference.safetensors')).tensors;
const tokenizerDir = join(fixtures, 'tokenizer');

function refData(key: string): { data: Float32Array | BigInt64Array; shape: number[] } {
  const e = ref.get(key);
  assert.ok(e, `reference tensor ${key} missing`);
  return { data: e.data as Float32Array | BigInt64Array, shape: e.shape };
}

function feeds(): Record<string, ort.Tensor> {
  const t = (key: string) => {
    const e = refData(key);
    return new ort.Tensor('int64', e.data as BigInt64Array, e.shape);
  };
  return {
    input_ids: t('input.input_ids'),
    attention_mask: t('input.attention_mask'),
    token_type_ids: t('input.token_type_ids'),
  };
}

function readConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** The pre-training fixture with a float16 dtype in its config, as a checkpoint saved in half precision has. */
function halfPrecisionPretraining(work: string): string {
  const dir = join(work, 'pretraining-f16-config');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(fixtures, 'pretraining', 'model.safetensors'), join(dir, 'model.safetensors'));
  const config = { ...readConfig(join(fixtures, 'pretraining')), dtype: 'float16', torch_dtype: 'float16' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

test('a BertForPreTraining checkpoint without a task exports the base model, described as BertModel fp32', async () => {
  const work = mkdtempSync(join(tmpdir(), 'bert-onnx-task-'));
  try {
    const out = join(work, 'out');
    const result = exportOnnxFolder(halfPrecisionPretraining(work), out, { tokenizerDir });
    assert.equal(result.head, 'base');
    const config = readConfig(out);
    assert.deepEqual(config.architectures, ['BertModel']);
    assert.equal(config.dtype, 'float32');
    assert.equal(config.torch_dtype, 'float32');
    assert.equal(config.hidden_size, 32, 'the rest of the config is kept');

    const session = await ort.InferenceSession.create(result.onnxPath);
    assert.deepEqual(session.outputNames, ['last_hidden_state', 'pooler_output']);
    const hidden = (await session.run(feeds())).last_hidden_state!;
    assert.deepEqual(hidden.dims, [3, 24, 32]);
    const got = hidden.data as Float32Array;
    // PyTorch's BertForPreTraining: its last hidden state.
    const torch = refData('pretraining.out.hidden_states.2').data as Float32Array;
    assert.ok(maxAbsDiff(got, torch) <= 1e-4, `vs PyTorch: ${maxAbsDiff(got, torch)}`);
    // bert-ts's BertModel on the same checkpoint.
    const model = await BertModel.fromPretrained(join(fixtures, 'pretraining'), { warn: () => {} });
    const ids = refData('input.input_ids').data as BigInt64Array;
    const mask = refData('input.attention_mask').data as BigInt64Array;
    const types = refData('input.token_type_ids').data as BigInt64Array;
    const rows = (a: BigInt64Array) =>
      Array.from({ length: 3 }, (_, b) => Array.from(a.subarray(b * 24, b * 24 + 24), Number));
    const ours = model.forward({ inputIds: rows(ids), attentionMask: rows(mask), tokenTypeIds: rows(types) });
    assert.ok(
      maxAbsDiff(got, ours.lastHiddenState.data) <= 1e-4,
      `vs bert-ts: ${maxAbsDiff(got, ours.lastHiddenState.data)}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('task fill-mask exports the MLM graph of a pre-training checkpoint as BertForMaskedLM', async () => {
  const work = mkdtempSync(join(tmpdir(), 'bert-onnx-task-'));
  try {
    const result = exportOnnxFolder(join(fixtures, 'pretraining'), work, { tokenizerDir, task: 'fill-mask' });
    assert.equal(result.head, 'masked-lm');
    assert.deepEqual(readConfig(work).architectures, ['BertForMaskedLM']);
    const session = await ort.InferenceSession.create(result.onnxPath);
    const logits = (await session.run(feeds())).logits!;
    assert.deepEqual(logits.dims, [3, 24, 1881]);
    const torch = refData('pretraining.out.prediction_logits').data as Float32Array;
    assert.ok(maxAbsDiff(logits.data as Float32Array, torch) <= 1e-4);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('task feature-extraction gives the base model of a fine-tuned checkpoint', async () => {
  const work = mkdtempSync(join(tmpdir(), 'bert-onnx-task-'));
  try {
    const result = exportOnnxFolder(join(fixtures, 'seq_cls3'), work, { tokenizerDir, task: 'feature-extraction' });
    assert.equal(result.head, 'base');
    assert.deepEqual(readConfig(work).architectures, ['BertModel']);
    const session = await ort.InferenceSession.create(result.onnxPath);
    assert.deepEqual(session.outputNames, ['last_hidden_state', 'pooler_output']);
    const hidden = (await session.run(feeds())).last_hidden_state!;
    assert.deepEqual(hidden.dims, [3, 24, 32]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('head resolution: task over architectures, unknown task and head/task mismatch refused', () => {
  const config = readConfig(join(fixtures, 'seq_cls3'));
  assert.equal(resolveOnnxHead(config), 'sequence-classification');
  assert.equal(resolveOnnxHead(config, { task: 'text-classification' }), 'sequence-classification');
  assert.equal(
    resolveOnnxHead(config, { task: 'question-answering', head: 'question-answering' }),
    'question-answering',
  );
  assert.equal(resolveOnnxHead(readConfig(join(fixtures, 'masked_lm'))), 'masked-lm');
  assert.throws(
    () => resolveOnnxHead(config, { task: 'summarization' }),
    (e: unknown) => {
      assert.ok(e instanceof OnnxExportError);
      assert.match(e.message, /unknown task "summarization"; supported: feature-extraction, text-classification/);
      return true;
    },
  );
  assert.throws(
    () => resolveOnnxHead(config, { task: 'feature-extraction', head: 'masked-lm' }),
    /head masked-lm does not fit task feature-extraction, which needs the base head/,
  );
});

test('bert export-onnx --task: the head it wrote, and a usage error for an unknown task', async () => {
  const { exportOnnxCommand } = await import('../../src/cli/commands/export-onnx.js');
  const work = mkdtempSync(join(tmpdir(), 'bert-onnx-task-'));
  const printed: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = ((s: string) => (printed.push(String(s)), true)) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    const model = join(fixtures, 'pretraining');
    const args = ['--model', model, '--tokenizer', tokenizerDir, '--output', work];
    assert.equal(await exportOnnxCommand([...args, '--task', 'feature-extraction']), 0);
    assert.match(printed.join(''), /"head":"base"/);
    assert.equal(await exportOnnxCommand([...args, '--task', 'summarization']), 2);
    assert.match(printed.join(''), /--task summarization is not one of feature-extraction, text-classification/);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    rmSync(work, { recursive: true, force: true });
  }
});
