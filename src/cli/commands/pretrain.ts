// `bert pretrain`: MLM + NSP (BERT), MLM (RoBERTa) or ELECTRA pre-training on create-pretraining-data shards; writes a HF folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../../native/index.js';
import { backendFlag } from '../inputs.js';
import { PRETRAIN_OBJECTIVES, PRETRAIN_PRESETS, isPretrainPreset, pretrain } from '../../train/pretrain.js';
import type { PretrainObjective } from '../../train/pretrain.js';
import { rankProgress } from '../../train/distributed.js';
import { UsageError, exitCodeOf, integerAtLeast as int, numberFlag as num, parseFlags } from '../command.js';

export const usage = `Usage: bert pretrain --config tiny|mini|small|base|CONFIG.json --data DIR --vocab DIR --steps N --output DIR [options]

Pre-trains on the shards of bert create-pretraining-data (the MLM head runs only at the masked positions). AdamW
(eps 1e-6, weight decay 0.01 except biases/LayerNorm), linear warmup and decay to 0 at --steps, clipping at 1.0.

  --objective O        mlm-nsp (default): BertForPreTraining, masked LM + next sentence prediction;
                       mlm: masked LM only (RoBERTa: no NSP, make the data with --dynamic-masking);
                       electra: a generator (ElectraForMaskedLM) trained by MLM and a discriminator
                       (ElectraForPreTraining) on replaced-token detection, embeddings shared, loss MLM + 50 x RTD;
                       the generator is saved in OUTPUT/generator
  --architecture A     for mlm: roberta (default) or bert      --generator-size X  electra: 0.25 of the width

  --config C           tiny (2 layers, 128 hidden), mini (4, 256), small (4, 512), base (12, 768) or a
                       config.json; vocab_size is taken from --vocab
  --init-from DIR      start from the weights of a model folder instead of random initialisation
  --data DIR           training shards (dataset.json)      --eval-data DIR   held-out shards
  --vocab DIR          tokenizer folder used to make the data (copied into the output)
  --batch-size N       sequences per step (32)             --grad-accum N    micro-batches per step (1)
  --lr X               peak learning rate (1e-4)           --warmup-steps N  (10% of --steps)
  --steps N            optimizer steps (required)          --time-budget T   stop after T (e.g. 90m, 2h, 600s)
  --weight-decay X     (0.01)   --max-grad-norm X (1.0)   --seed N (42)
  --eval-every N       evaluate every N steps (default: at the end)   --eval-instances N (2000)
  --checkpoint-every N (500)    --resume   continue from OUTPUT/checkpoints (same flags)
  --no-gather          mlm-nsp: MLM head on every token (as HF; slower, for comparison)
  --backend auto|js|native|wasm
  --output DIR         HF folder: config.json, model.safetensors, tokenizer files, checkpoints/, log.jsonl,
                       training_curve.svg, pretrain_results.json
Ctrl-C stops after the current step with a checkpoint; --resume continues exactly.`;

const OPTIONS = {
  config: { type: 'string' },
  objective: { type: 'string' },
  architecture: { type: 'string' },
  'generator-size': { type: 'string' },
  'init-from': { type: 'string' },
  data: { type: 'string' },
  'eval-data': { type: 'string' },
  vocab: { type: 'string' },
  'batch-size': { type: 'string' },
  'grad-accum': { type: 'string' },
  lr: { type: 'string' },
  'warmup-steps': { type: 'string' },
  steps: { type: 'string' },
  'time-budget': { type: 'string' },
  'weight-decay': { type: 'string' },
  'max-grad-norm': { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-instances': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'boolean' },
  'no-gather': { type: 'boolean' },
  backend: { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** "90m", "2h", "600s", "3600" (seconds) -> seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--time-budget ${JSON.stringify(s)}: use a number with s, m or h (e.g. 90m)`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

/** Runs the command; returns the process exit code (2 for usage errors, 1 for failures). */
export function pretrainCommand(argv: string[]): Promise<number> {
  return exitCodeOf('pretrain', () => run(argv));
}

async function run(argv: string[]): Promise<number> {
  const values = parseFlags(argv, OPTIONS, usage, usage);
  if (!values) return 0;
  if (!values.data || !values.vocab || !values.output || !values.steps || (!values.config && !values['init-from'])) {
    throw new UsageError(`--config (or --init-from), --data, --vocab, --steps and --output are required\n${usage}`);
  }
  const config = values['init-from'] ? undefined : values.config;
  if (config !== undefined && !isPretrainPreset(config) && !existsSync(config))
    throw new UsageError(
      `--config ${config}: not one of ${Object.keys(PRETRAIN_PRESETS).join(', ')} nor a config.json file`,
    );
  const objective = (values.objective ?? 'mlm-nsp') as PretrainObjective;
  if (!PRETRAIN_OBJECTIVES.includes(objective))
    throw new UsageError(`--objective ${objective}: use ${PRETRAIN_OBJECTIVES.join(', ')}`);
  const architecture = values.architecture;
  if (architecture !== undefined && (objective !== 'mlm' || (architecture !== 'roberta' && architecture !== 'bert')))
    throw new UsageError(`--architecture ${architecture}: roberta or bert, with --objective mlm`);
  const steps = num(values.steps, 'steps', undefined, int(1), 'a positive integer')!;
  const backend = backendFlag(values.backend) ?? 'auto';

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nbert pretrain: stopping after this step (checkpoint follows); Ctrl-C again to quit now\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await pretrain({
      config,
      initFrom: values['init-from'],
      objective,
      architecture,
      generatorSize: num(values['generator-size'], 'generator-size', 0.25, (n) => n > 0 && n <= 1, 'in (0, 1]'),
      dataDir: values.data,
      vocab: values.vocab,
      outputDir: values.output,
      evalDataDir: values['eval-data'],
      evalInstances: num(values['eval-instances'], 'eval-instances', 2000, int(1), 'a positive integer'),
      evalEvery: num(values['eval-every'], 'eval-every', 0, int(0), 'an integer >= 0'),
      batchSize: num(values['batch-size'], 'batch-size', 32, int(1), 'a positive integer'),
      gradAccumSteps: num(values['grad-accum'], 'grad-accum', 1, int(1), 'a positive integer'),
      lr: num(values.lr, 'lr', 1e-4, (n) => n > 0, 'a positive number'),
      warmupSteps: num(values['warmup-steps'], 'warmup-steps', Math.round(steps * 0.1), int(0), 'an integer >= 0'),
      steps,
      weightDecay: num(values['weight-decay'], 'weight-decay', 0.01, (n) => n >= 0, 'a number >= 0'),
      maxGradNorm: num(values['max-grad-norm'], 'max-grad-norm', 1, (n) => n >= 0, 'a number >= 0'),
      seed: num(values.seed, 'seed', 42, int(0), 'a non-negative integer'),
      timeBudgetSeconds: values['time-budget'] ? parseDuration(values['time-budget']) : undefined,
      checkpointEvery: num(values['checkpoint-every'], 'checkpoint-every', 500, int(1), 'a positive integer'),
      resume: values.resume ?? false,
      gather: !(values['no-gather'] ?? false),
      kernels: getKernels({ backend }),
      progress: rankProgress({ logFile: join(values.output, 'log.jsonl') }),
      shouldStop: () => interrupted,
    });
    process.stdout.write(JSON.stringify({ output: values.output, ...result }) + '\n');
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export default pretrainCommand;
