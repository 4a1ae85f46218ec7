// Makes assets/default-model, the pre-trained model `bert demo` starts from, out of a `bert pretrain` output folder:
// the pre-training model (AutoModelForPreTraining: RobertaForMaskedLM for --objective mlm, BertForPreTraining for
// MLM + NSP) stored as F16 (the tied decoder omitted, as save_pretrained does), config.json, the tokenizer files
// (tokenizerForModel: a one-token-type model's without token_type_ids) and a model card. F16 keeps a
// BERT-mini-sized model with bert-base-uncased's 30,522 WordPieces (11.2M parameters) under the 25 MB the
// repository allows for it.
//
//   npx tsx scripts/make-default-model.ts PRETRAIN_DIR [--output assets/default-model] [--card FILE.md]
//
// --card: the model card (README.md) to write beside the weights; it should say how the model was made.
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AutoModelForPreTraining } from '../src/model/auto.js';
import { tokenizerForModel } from '../src/train/pretrain.js';
import { BertTokenizer } from '../src/tokenizer/index.js';

const LIMIT_BYTES = 25 * 1000 * 1000;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { output: { type: 'string', default: 'assets/default-model' }, card: { type: 'string' } },
  });
  const source = positionals[0];
  if (source === undefined || positionals.length > 1) {
    throw new Error('usage: npx tsx scripts/make-default-model.ts PRETRAIN_DIR [--output DIR] [--card FILE.md]');
  }
  const output = values.output!;
  const model = await AutoModelForPreTraining.fromPretrained(source, {
    warn: (m) => {
      throw new Error(`${source}: ${m}`);
    },
  });
  await model.save(output, { dtype: 'float16' });
  // tokenizer.json and tokenizer_config.json beside vocab.txt, as the model takes its inputs.
  tokenizerForModel(model.config, BertTokenizer.fromPretrained(source)).save(output);
  // A vocab.txt alone has no model_max_length: the pipelines' default truncation is the model's own limit.
  const configPath = join(output, 'tokenizer_config.json');
  const tokenizerConfig = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  tokenizerConfig['model_max_length'] ??= model.config.maxSequenceLength;
  writeFileSync(configPath, JSON.stringify(tokenizerConfig, null, 2) + '\n');
  if (values.card !== undefined) copyFileSync(values.card, join(output, 'README.md'));
  else if (!existsSync(join(output, 'README.md'))) throw new Error(`${output}: no README.md; pass --card FILE.md`);

  let total = 0;
  for (const name of readdirSync(output)) {
    const size = statSync(join(output, name)).size;
    total += size;
    console.log(`${name.padEnd(24)} ${(size / 1e6).toFixed(2)} MB`);
  }
  console.log(`total ${(total / 1e6).toFixed(2)} MB (limit ${LIMIT_BYTES / 1e6} MB)`);
  if (total > LIMIT_BYTES) throw new Error(`${output} is ${total} bytes, over the ${LIMIT_BYTES}-byte limit`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
