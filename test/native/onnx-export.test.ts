// ONNX export: onnxruntime on our export of hf-tiny/seq_cls3 gives HF's ONNX export's logits (and PyTorch's).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/io/index.js';
import { exportOnnxFolder, floatTensors } from '../../src/export/folder.js';
import { exportBertOnnx } from '../../src/export/onnx.js';
import { maxAbsDiff } from './helpers.js';

const fixtures = resolve('../shared/fixtures/hf-tiny');
const ref = readSafetensors(join(fixtures, 'reference.safetensors')).tensors;

/** The fixture's inputs; `prefix` 'input.mc.' for multiple choice ([batch, choices, seq]). */
function feeds(prefix = 'input.'): Record<string, ort.Tensor> {
  const t = (key: string) => {
    const e = ref.get(prefix + key)!;
    return new ort.Tensor('int64', e.data as BigInt64Array, e.shape);
  };
  return { input_ids: t('input_ids'), attention_mask: t('attention_mask'), token_type_ids: t('token_type_ids') };
}

test("export seq_cls3: onnxruntime on our graph matches HF's ONNX export within 1e-5", async () => {
  const out = mkdtempSync(join(tmpdir(), 'bert-onnx-'));
  try {
    const result = exportOnnxFolder(join(fixtures, 'seq_cls3'), out, { tokenizerDir: join(fixtures, 'tokenizer') });
    for (const f of ['onnx/model.onnx', 'config.json', 'vocab.txt', 'tokenizer.json', 'tokenizer_config.json'])
      assert.ok(existsSync(join(out, f)), f);
    const ours = await ort.InferenceSession.create(result.onnxPath);
    assert.deepEqual(ours.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.deepEqual(ours.outputNames, ['logits']);
    const hf = await ort.InferenceSession.create(join(fixtures, 'seq_cls3_onnx', 'onnx', 'model.onnx'));
    const a = (await ours.run(feeds())).logits!;
    const b = (await hf.run(feeds())).logits!;
    assert.deepEqual(a.dims, [3, 3]);
    assert.ok(
      maxAbsDiff(a.data as Float32Array, b.data as Float32Array) <= 1e-5,
      `vs HF ONNX: ${maxAbsDiff(a.data as Float32Array, b.data as Float32Array)}`,
    );
    const torch = ref.get('seq_cls3.out.logits')!.data as Float32Array;
    assert.ok(maxAbsDiff(a.data as Float32Array, torch) <= 1e-5, 'vs PyTorch logits');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('export of every head runs in onnxruntime and matches PyTorch (dynamic batch and sequence)', async () => {
  const cases: Array<[string, string, string]> = [
    ['bert_model', 'last_hidden_state', 'bert_model.out.last_hidden_state'],
    ['token_cls5', 'logits', 'token_cls5.out.logits'],
    ['qa', 'start_logits', 'qa.out.start_logits'],
    ['masked_lm', 'logits', 'masked_lm.out.logits'],
    ['multiple_choice', 'logits', 'multiple_choice.out.logits'],
  ];
  for (const [dir, output, key] of cases) {
    const config = JSON.parse(readFileSync(join(fixtures, dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const bytes = exportBertOnnx(
      config,
      floatTensors(readSafetensors(join(fixtures, dir, 'model.safetensors')).tensors),
    );
    const session = await ort.InferenceSession.create(bytes);
    const got = (await session.run(feeds(dir === 'multiple_choice' ? 'input.mc.' : 'input.')))[output]!
      .data as Float32Array;
    const want = ref.get(key)!.data as Float32Array;
    assert.ok(maxAbsDiff(got, want) <= 1e-4, `${dir} ${output}: max diff ${maxAbsDiff(got, want)}`);
  }
});

test('bert export-onnx command: usage errors are exit code 2 with a message', async () => {
  const { exportOnnxCommand } = await import('../../src/cli/commands/export-onnx.js');
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => {
    errors.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.equal(await exportOnnxCommand(['--model', 'x']), 2);
    assert.equal(await exportOnnxCommand(['--model', 'x', '--output', 'y', '--head', 'nope']), 2);
    assert.equal(
      await exportOnnxCommand([
        '--model',
        join(fixtures, 'next_sentence'),
        '--output',
        join(tmpdir(), 'bert-onnx-never'),
      ]),
      1,
    );
  } finally {
    process.stderr.write = write;
  }
  assert.match(errors.join(''), /--model and --output are required/);
  assert.match(errors.join(''), /--head nope is not one of/);
  assert.match(errors.join(''), /architecture BertForNextSentencePrediction cannot be exported/);
  assert.ok(!existsSync(join(tmpdir(), 'bert-onnx-never')), 'nothing written for a model that cannot be exported');
});
