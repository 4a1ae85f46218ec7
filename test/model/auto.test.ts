// AutoConfig / AutoModel*: the class each Auto class loads and what it reports (missing, unused, refused), compared
// with what transformers' Auto classes do on the same folders (test/model/fixtures/auto-classes.json, written by
// scripts/gen-auto-fixtures.py).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AutoConfig,
  AutoModel,
  AutoModelForMaskedLM,
  AutoModelForMultipleChoice,
  AutoModelForQuestionAnswering,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
} from '../../src/model/auto.js';
import { BertConfig, ConfigError } from '../../src/model/config.js';
import { readSafetensors } from '../../src/io/index.js';

const TINY = '../shared/fixtures/hf-tiny';

interface Load {
  auto: string;
  folder: string;
  class?: string;
  missing?: string[];
  unexpected?: string[];
  logits?: number[];
  error?: string;
}
const hf = JSON.parse(readFileSync('test/model/fixtures/auto-classes.json', 'utf8')) as { loads: Load[] };

const AUTO = {
  AutoModel,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  AutoModelForQuestionAnswering,
  AutoModelForMaskedLM,
  AutoModelForMultipleChoice,
};

/** The names listed in a load warning ("... newly initialized: [a, b]" / "... were not used ...: [a, b]"). */
function listed(warnings: string[], pattern: RegExp): string[] {
  const w = warnings.find((m) => pattern.test(m));
  const names = w ? /\[([^\]]*)\]/.exec(w)?.[1] : undefined;
  return names ? names.split(', ').sort() : [];
}

for (const load of hf.loads) {
  test(`${load.auto} on ${load.folder}: as transformers (${load.error ?? load.class})`, async () => {
    const auto = AUTO[load.auto as keyof typeof AUTO];
    assert.ok(auto, `no ${load.auto}`);
    const warnings: string[] = [];
    const loading = auto.fromPretrained(`${TINY}/${load.folder}`, { warn: (m) => warnings.push(m) });
    if (load.error) {
      // transformers: a size mismatch of classifier.* (3 labels in the checkpoint, 1 for multiple choice) is an error.
      await assert.rejects(loading, /classifier\.bias.*shape \[3\].*expects \[1\]/);
      return;
    }
    const model = await loading;
    assert.equal(model.architecture, load.class);
    assert.deepEqual(listed(warnings, /newly initialized/), load.missing);
    assert.deepEqual(listed(warnings, /were not used/), load.unexpected);
    if (load.logits) {
      // The sequence classifier's weights serve as the token classifier (same names and shape), as in HF.
      const ref = readSafetensors(`${TINY}/reference.safetensors`).tensors;
      const rows = (key: string) => {
        const data = ref.get(key)?.data as BigInt64Array;
        return Array.from({ length: 3 }, (_, b) => Array.from(data.subarray(b * 24, b * 24 + 24), Number));
      };
      const out = model.forward({
        inputIds: rows('input.input_ids'),
        attentionMask: rows('input.attention_mask'),
        tokenTypeIds: rows('input.token_type_ids'),
      }) as { logits: { data: Float32Array } };
      const got = out.logits.data;
      assert.equal(got.length, load.logits.length);
      let max = 0;
      for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - load.logits[i]!));
      assert.ok(max <= 1e-4, `logits differ from transformers' by ${max}`);
    }
  });
}

test('from_pretrained is the same loader; AutoConfig reads the config', async () => {
  const model = await AutoModelForSequenceClassification.from_pretrained(`${TINY}/seq_cls3`, { warn: () => {} });
  assert.equal(model.architecture, 'BertForSequenceClassification');
  const config = await AutoConfig.from_pretrained(`${TINY}/seq_cls3`);
  assert.ok(config instanceof BertConfig);
  assert.equal(config.numLabels, 3);
  assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
  assert.equal((await AutoConfig.fromPretrained(`${TINY}/seq_cls3`)).hiddenSize, 32);
});

test('a config without model_type or with an unsupported one is refused, as transformers does', async () => {
  const work = mkdtempSync(join(tmpdir(), 'bert-auto-'));
  try {
    const source = JSON.parse(readFileSync(`${TINY}/seq_cls3/config.json`, 'utf8')) as Record<string, unknown>;
    const folder = (name: string, config: Record<string, unknown>): string => {
      const dir = join(work, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      copyFileSync(`${TINY}/seq_cls3/model.safetensors`, join(dir, 'model.safetensors'));
      return dir;
    };
    const { model_type: _ignored, ...withoutType } = source;
    const untyped = folder('untyped', withoutType);
    const deberta = folder('deberta-v2', { ...source, model_type: 'deberta-v2' });
    for (const load of [() => AutoConfig.fromPretrained(untyped), () => AutoModel.fromPretrained(untyped)]) {
      await assert.rejects(load, (e: unknown) => e instanceof ConfigError && /no "model_type"/.test(e.message));
    }
    await assert.rejects(
      AutoModelForSequenceClassification.fromPretrained(deberta),
      /model_type "deberta-v2" is not supported by bert-ts \(supported: bert, roberta, xlm-roberta, distilbert, electra, modernbert\)/,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('unknown options are refused naming the known ones', async () => {
  await assert.rejects(
    AutoModel.fromPretrained(`${TINY}/bert_model`, { device: 'cpu' } as never),
    /AutoModel.fromPretrained: unknown option "device"; known: config, kernels, seed, warn, revision, dtype/,
  );
  await assert.rejects(AutoConfig.fromPretrained(`${TINY}/bert_model`, { seed: 1 } as never), /known: revision/);
  await assert.rejects(AutoModel.fromPretrained(`${TINY}/no-such-folder`), /no-such-folder does not exist/);
});
