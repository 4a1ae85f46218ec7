// Checks that HuggingFace transformers (PyTorch) loads a folder bert-ts wrote and computes what bert-ts computes:
// runs bert-ts's forward on a few IMDb sentences, then transformers' `from_pretrained` of the same folder (the
// architecture named in config.json, fp32, eval mode) on the same ids, and prints the largest difference per output.
// Needs a Python with torch and transformers (not part of the test suite: CI has neither).
//   npx tsx scripts/check-hf-load.ts MODEL_DIR [--python /path/to/python]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_CLASSES, type BertArchitecture, type PretrainedModelClass } from '../src/model/bert.js';
import { BertTokenizer } from '../src/tokenizer/index.js';

const PYTHON_SIDE = `
import json, sys, torch, transformers
model_dir, io_file = sys.argv[1], sys.argv[2]
data = json.load(open(io_file))
cls = getattr(transformers, data["architecture"])
model, info = cls.from_pretrained(model_dir, dtype=torch.float32, output_loading_info=True)
model.eval()
ids = torch.tensor(data["input_ids"]); mask = torch.tensor(data["attention_mask"]); types = torch.tensor(data["token_type_ids"])
with torch.no_grad():
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
result = {"loading_info": {k: sorted(v) if isinstance(v, (list, set)) else str(v) for k, v in info.items()}, "outputs": {}}
for name in data["outputs"]:
    result["outputs"][name] = getattr(out, name).flatten().tolist()
json.dump(result, open(io_file + ".out", "w"))
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { python: { type: 'string', default: 'python3' } },
  });
  const dir = positionals[0];
  if (dir === undefined) throw new Error('usage: npx tsx scripts/check-hf-load.ts MODEL_DIR [--python PYTHON]');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { architectures: string[] };
  const architecture = config.architectures[0] as BertArchitecture;
  const cls: PretrainedModelClass | undefined = MODEL_CLASSES[architecture];
  if (!cls) throw new Error(`${dir}: architecture ${architecture} is not one bert-ts has`);
  const model = await cls.fromPretrained(dir, {
    warn: (m) => {
      throw new Error(`bert-ts: ${m}`);
    },
  });
  const tok = BertTokenizer.fromPretrained(dir);
  const texts = [
    'This movie was absolutely fantastic!',
    'The plot made no sense and the acting was worse. I left early.',
  ];
  const enc = tok.encodeBatch(texts, undefined, { padding: 'longest' });
  const B = texts.length;
  const T = enc[0]!.inputIds.length;
  const flat = (k: 'inputIds' | 'attentionMask' | 'tokenTypeIds'): Int32Array =>
    Int32Array.from(enc.flatMap((e) => [...e[k]]));
  const inputs = {
    inputIds: { data: flat('inputIds'), shape: [B, T] },
    attentionMask: { data: flat('attentionMask'), shape: [B, T] },
    tokenTypeIds: { data: flat('tokenTypeIds'), shape: [B, T] },
  };
  const forward = (model as unknown as { forward(i: typeof inputs, o: { grad: false }): unknown }).forward;
  const ours = forward.call(model, inputs, { grad: false }) as Record<string, { data: Float32Array } | undefined>;
  // bert-ts output names -> transformers' ModelOutput fields.
  const names: Record<string, string> = {
    lastHiddenState: 'last_hidden_state',
    predictionLogits: 'prediction_logits',
    seqRelationshipLogits: 'seq_relationship_logits',
    logits: 'logits',
  };
  const outputs = Object.keys(names).filter((k) => ours[k]?.data instanceof Float32Array);
  const tmp = mkdtempSync(join(tmpdir(), 'bert-ts-hfcheck-'));
  try {
    const io = join(tmp, 'io.json');
    writeFileSync(
      io,
      JSON.stringify({
        architecture,
        outputs: outputs.map((k) => names[k]),
        input_ids: enc.map((e) => [...e.inputIds]),
        attention_mask: enc.map((e) => [...e.attentionMask]),
        token_type_ids: enc.map((e) => [...e.tokenTypeIds]),
      }),
    );
    const py = spawnSync(values.python!, ['-c', PYTHON_SIDE, dir, io], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`python failed (${py.status}):\n${py.stderr}`);
    const theirs = JSON.parse(readFileSync(`${io}.out`, 'utf8')) as {
      loading_info: Record<string, unknown>;
      outputs: Record<string, number[]>;
    };
    console.log(`transformers loaded ${dir} as ${architecture}: ${JSON.stringify(theirs.loading_info)}`);
    let worst = 0;
    for (const k of outputs) {
      const a = ours[k]!.data;
      const b = theirs.outputs[names[k]!]!;
      if (a.length !== b.length) throw new Error(`${k}: bert-ts has ${a.length} values, transformers ${b.length}`);
      let maxAbs = 0;
      let maxRef = 0;
      for (let i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
        maxRef = Math.max(maxRef, Math.abs(b[i]!));
      }
      worst = Math.max(worst, maxAbs / Math.max(maxRef, 1e-6));
      console.log(
        `${names[k]!.padEnd(24)} ${a.length} values  max |bert-ts - transformers| ${maxAbs.toExponential(2)}  (max |value| ${maxRef.toFixed(3)})`,
      );
    }
    const missing = (theirs.loading_info.missing_keys as string[] | undefined) ?? [];
    if (missing.length > 0) throw new Error(`transformers reports missing keys: ${missing.join(', ')}`);
    if (worst > 1e-4) throw new Error(`outputs differ by up to ${worst.toExponential(2)} of their magnitude`);
    console.log('ok: same outputs to float32 round-off');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
