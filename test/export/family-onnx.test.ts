// ONNX export of the BERT family (RoBERTa, XLM-R, DistilBERT, ELECTRA, ModernBERT): every head of
// test/model/fixtures/family/* exported, run in onnxruntime and through transformers.js (offline, from the exported
// folder), equal to PyTorch's outputs (the fixtures' reference.safetensors) and to bert-ts's forward within 1e-4.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { exportOnnxFolder } from '../../src/export/folder.js';
import { readSafetensors } from '../../src/io/index.js';
import {
  AutoModel,
  AutoModelForMaskedLM,
  AutoModelForMultipleChoice,
  AutoModelForQuestionAnswering,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
} from '../../src/model/auto.js';
import { ModernBertForMaskedLM } from '../../src/model/bert.js';
import type { BertInputs } from '../../src/model/inputs.js';
import { maxAbsDiff } from '../native/helpers.js';

const FIXTURES = 'test/model/fixtures/family';
const TOLERANCE = 1e-4;
/** The exported graph computes every position, as transformers' eager path: so does ModernBERT with unpad false. */
const EAGER = { unpad: false };

/** One exported head: its fixture folder, the graph's outputs (ONNX name → bert-ts field), its HF class suffix. */
interface HeadCase {
  dir: string;
  suffix: string;
  outputs: Record<string, string>;
  /** Runs bert-ts's model of this head on the inputs; returns its outputs by ONNX name. */
  bertTs: (dir: string, inputs: BertInputs) => Promise<Record<string, Float32Array>>;
  /** Multiple choice: the inputs are [batch, choices, seq] (the fixtures' input.mc.*). */
  choices?: true;
  /** transformers.js's Auto class name for this head (null: it has none). */
  tjs:
    | null
    | 'AutoModel'
    | 'AutoModelForSequenceClassification'
    | 'AutoModelForTokenClassification'
    | 'AutoModelForQuestionAnswering'
    | 'AutoModelForMaskedLM';
}

const HEADS: HeadCase[] = [
  {
    dir: 'model',
    suffix: 'Model',
    outputs: { last_hidden_state: 'lastHiddenState', pooler_output: 'poolerOutput' },
    tjs: 'AutoModel',
    bertTs: async (dir, inputs) => {
      const out = (await AutoModel.fromPretrained(dir, EAGER)).forward(inputs);
      return {
        last_hidden_state: out.lastHiddenState.data,
        ...(out.poolerOutput ? { pooler_output: out.poolerOutput.data } : {}),
      };
    },
  },
  {
    dir: 'seq_cls3',
    suffix: 'ForSequenceClassification',
    outputs: { logits: 'logits' },
    tjs: 'AutoModelForSequenceClassification',
    bertTs: async (dir, inputs) => ({
      logits: (await AutoModelForSequenceClassification.fromPretrained(dir, EAGER)).forward(inputs).logits.data,
    }),
  },
  {
    dir: 'token_cls5',
    suffix: 'ForTokenClassification',
    outputs: { logits: 'logits' },
    tjs: 'AutoModelForTokenClassification',
    bertTs: async (dir, inputs) => ({
      logits: (await AutoModelForTokenClassification.fromPretrained(dir, EAGER)).forward(inputs).logits.data,
    }),
  },
  {
    dir: 'qa',
    suffix: 'ForQuestionAnswering',
    outputs: { start_logits: 'startLogits', end_logits: 'endLogits' },
    tjs: 'AutoModelForQuestionAnswering',
    bertTs: async (dir, inputs) => {
      const out = (await AutoModelForQuestionAnswering.fromPretrained(dir, EAGER)).forward(inputs);
      return { start_logits: out.startLogits.data, end_logits: out.endLogits.data };
    },
  },
  {
    dir: 'multiple_choice',
    suffix: 'ForMultipleChoice',
    outputs: { logits: 'logits' },
    choices: true,
    tjs: null,
    bertTs: async (dir, inputs) => ({
      logits: (await AutoModelForMultipleChoice.fromPretrained(dir, EAGER)).forward(inputs).logits.data,
    }),
  },
  {
    dir: 'masked_lm',
    suffix: 'ForMaskedLM',
    outputs: { logits: 'logits' },
    tjs: 'AutoModelForMaskedLM',
    bertTs: async (dir, inputs) => ({
      logits: (await AutoModelForMaskedLM.fromPretrained(dir, EAGER)).forward(inputs).logits.data,
    }),
  },
];

/** A family's fixture folder, HF class stem, graph inputs and the heads transformers.js has no class for. */
const FAMILIES: Array<{ name: string; stem: string; inputs: string[]; noTjs?: string[] }> = [
  { name: 'roberta', stem: 'Roberta', inputs: ['input_ids', 'attention_mask'] },
  { name: 'xlm-roberta', stem: 'XLMRoberta', inputs: ['input_ids', 'attention_mask'] },
  { name: 'distilbert', stem: 'DistilBert', inputs: ['input_ids', 'attention_mask'] },
  { name: 'distilbert-sinusoidal', stem: 'DistilBert', inputs: ['input_ids', 'attention_mask'] },
  { name: 'electra', stem: 'Electra', inputs: ['input_ids', 'attention_mask', 'token_type_ids'] },
  // Layers global / sliding / global, window 6 < T = 13, no biases but the decoder's, CLS pooling; and every bias,
  // mean pooling, window 4, global / sliding / sliding / global. transformers.js 4.3 has no ModernBertForQuestionAnswering.
  { name: 'modernbert', stem: 'ModernBert', inputs: ['input_ids', 'attention_mask'], noTjs: ['qa'] },
  { name: 'modernbert-biases', stem: 'ModernBert', inputs: ['input_ids', 'attention_mask'], noTjs: ['qa'] },
];

function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const d = maxAbsDiff(got, want);
  assert.ok(d <= TOLERANCE, `${what}: max |diff| ${d}`);
}

/** transformers.js's Auto class `cls` run on the exported folder `out` (local files only). */
async function runTjs(
  cls: NonNullable<HeadCase['tjs']>,
  out: string,
  inputs: Record<string, { data: BigInt64Array; shape: number[] }>,
): Promise<Record<string, { data: Float32Array }>> {
  const { env, Tensor, ...tjs } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = dirname(out);
  const model = await tjs[cls].from_pretrained(basename(out), { dtype: 'fp32', device: 'cpu' });
  return (await model(
    Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, new Tensor('int64', t.data, t.shape)])),
  )) as Record<string, { data: Float32Array }>;
}

const work = mkdtempSync(join(tmpdir(), 'bert-family-onnx-'));
after(() => rmSync(work, { recursive: true, force: true }));

for (const family of FAMILIES) {
  describe(`ONNX export of ${family.name}`, () => {
    const root = join(FIXTURES, family.name);
    const ref = readSafetensors(join(root, 'reference.safetensors')).tensors;
    const int64 = (key: string): { data: BigInt64Array; shape: number[] } => {
      const e = ref.get(key);
      assert.ok(e, `${key} missing from the reference`);
      return { data: e.data as BigInt64Array, shape: e.shape };
    };
    const feedsOf = (prefix: string) =>
      Object.fromEntries(family.inputs.map((name) => [name, int64(`${prefix}${name}`)]));
    const bertInputsOf = (inputs: ReturnType<typeof feedsOf>): BertInputs => ({
      inputIds: inputs.input_ids!,
      attentionMask: inputs.attention_mask!,
      ...(inputs.token_type_ids ? { tokenTypeIds: inputs.token_type_ids } : {}),
    });

    for (const head of HEADS) {
      const inputs = feedsOf(head.choices ? 'input.mc.' : 'input.');
      const bertInputs = bertInputsOf(inputs);
      const modelDir = join(root, head.dir);
      if (!existsSync(modelDir)) continue;
      const runtimes =
        !head.tjs || family.noTjs?.includes(head.dir) ? 'onnxruntime' : 'onnxruntime and transformers.js';
      it(`${head.dir}: ${runtimes} equal PyTorch and bert-ts`, async () => {
        const out = join(work, family.name, head.dir);
        const result = exportOnnxFolder(modelDir, out);
        const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        assert.deepEqual(config.architectures, [family.stem + head.suffix]);

        const session = await ort.InferenceSession.create(result.onnxPath);
        assert.deepEqual(session.inputNames, family.inputs, 'the graph takes the inputs transformers.js feeds');
        const feeds = Object.fromEntries(
          Object.entries(inputs).map(([name, t]) => [name, new ort.Tensor('int64', t.data, t.shape)]),
        );
        const ortOut = await session.run(feeds);
        const ours = await head.bertTs(modelDir, bertInputs);

        const tjsOut = head.tjs && runtimes !== 'onnxruntime' ? await runTjs(head.tjs, out, inputs) : null;

        const names = Object.keys(head.outputs).filter((n) => session.outputNames.includes(n));
        assert.deepEqual(session.outputNames, names, 'the graph outputs what its head outputs');
        for (const name of names) {
          const torch = ref.get(`${head.dir}.out.${name}`);
          assert.ok(torch, `${head.dir}.out.${name} missing from the reference`);
          const got = ortOut[name]!.data as Float32Array;
          close(`onnxruntime ${name} vs PyTorch`, got, torch.data as Float32Array);
          assert.ok(ours[name], `bert-ts gives no ${name}`);
          close(`onnxruntime ${name} vs bert-ts`, got, ours[name]);
          if (!tjsOut) continue;
          const viaTjs = tjsOut[name];
          assert.ok(viaTjs, `transformers.js gives no ${name}`);
          close(`transformers.js ${name} vs PyTorch`, viaTjs.data, torch.data as Float32Array);
        }
      });
    }
  });
}

it('an ElectraForPreTraining checkpoint (the discriminator) exports its encoder as ElectraModel', async () => {
  const root = join(FIXTURES, 'electra');
  const ref = readSafetensors(join(root, 'reference.safetensors')).tensors;
  const result = exportOnnxFolder(join(root, 'discriminator'), join(work, 'electra-discriminator'));
  assert.equal(result.head, 'base');
  const config = JSON.parse(readFileSync(join(work, 'electra-discriminator', 'config.json'), 'utf8')) as {
    architectures: string[];
  };
  assert.deepEqual(config.architectures, ['ElectraModel']);
  const session = await ort.InferenceSession.create(result.onnxPath);
  const feeds = Object.fromEntries(
    ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => {
      const e = ref.get(`input.${name}`)!;
      return [name, new ort.Tensor('int64', e.data as BigInt64Array, e.shape)];
    }),
  );
  const hidden = (await session.run(feeds)).last_hidden_state!.data as Float32Array;
  close('last_hidden_state vs PyTorch', hidden, ref.get('discriminator.out.hidden_states.2')!.data as Float32Array);
});

it('ModernBERT: the graph takes any length up to max_position_embeddings; decoder_bias false leaves the bias out', async () => {
  // The rotary angles and the window come from the input's length, not from a table made at export: 32 tokens (the
  // fixture's max_position_embeddings, 5 windows of 6) and 9, one row padded, against bert-ts's forward.
  const fixture = join(FIXTURES, 'modernbert', 'masked_lm');
  const config = JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8')) as Record<string, unknown>;
  const model = new ModernBertForMaskedLM({ ...config, decoder_bias: false }, { seed: 7, ...EAGER });
  const dir = join(work, 'modernbert-no-decoder-bias');
  await model.save(join(dir, 'model'));
  const result = exportOnnxFolder(join(dir, 'model'), join(dir, 'onnx'));
  const session = await ort.InferenceSession.create(result.onnxPath);
  for (const T of [32, 9]) {
    const ids = [0, 1].map((b) =>
      Array.from({ length: T }, (_, t) => (t < T - 7 * b ? 4 + ((t * 7 + b * 13) % 90) : 0)),
    );
    const mask = ids.map((row) => row.map((id) => (id === 0 ? 0 : 1)));
    const tensor = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [2, T]);
    const got = (await session.run({ input_ids: tensor(ids), attention_mask: tensor(mask) })).logits!;
    assert.deepEqual(got.dims, [2, T, 97]);
    close(
      `logits at T = ${T} vs bert-ts`,
      got.data as Float32Array,
      model.forward({ inputIds: ids, attentionMask: mask }).logits.data,
    );
  }
});
