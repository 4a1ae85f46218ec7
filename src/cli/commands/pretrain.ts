// `bert pretrain`: MLM + NSP pre-training of BertForPreTraining on create-pretraining-data shards; writes a HF folder.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getKernels, type BackendChoice } from '../../native/index.js';
import { readDatasetManifest } from '../../data/shards.js';
import { readPretrainingVocab } from '../../data/pretraining.js';
import { PretrainingBert } from '../../data/pretraining-model.js';
import { pretrain } from '../../data/pretraining-trainer.js';
import { ProgressReporter } from '../../train/progress.js';
import { UsageError, exitCodeOf, integerAtLeast as int, numberFlag as num, parseFlags } from '../command.js';

export const usage = `Usage: bert pretrain --config tiny|mini|small|base|CONFIG.json --data DIR --vocab DIR --steps N --output DIR [options]

Pre-trains BertForPreTraining with masked language modelling + next sentence prediction on the shards of
bert create-pretraining-data. The MLM head runs only at the masked positions. AdamW (eps 1e-6, weight decay
0.01 except biases/LayerNorm) with linear warmup and linear decay to 0 at --steps, gradient clipping at 1.0.

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
  --no-gather          MLM head on every token (as HF; slower, for comparison)
  --backend js|native|auto
  --output DIR         HF folder: config.json, model.safetensors, tokenizer files, checkpoints/, log.jsonl,
                       training_curve.svg, pretrain_results.json
Ctrl-C stops after the current step with a checkpoint; --resume continues exactly.`;

const OPTIONS = {
  config: { type: 'string' },
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

/** Google's BERT miniature sizes (Turc et al. 2019); intermediate = 4 x hidden, heads = hidden / 64. */
export const PRETRAIN_PRESETS: Record<string, { layers: number; hidden: number }> = {
  tiny: { layers: 2, hidden: 128 },
  mini: { layers: 4, hidden: 256 },
  small: { layers: 4, hidden: 512 },
  medium: { layers: 8, hidden: 512 },
  base: { layers: 12, hidden: 768 },
};

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
  const steps = num(values.steps, 'steps', undefined, int(1), 'a positive integer')!;
  const batchSize = num(values['batch-size'], 'batch-size', 32, int(1), 'a positive integer')!;
  const gradAccum = num(values['grad-accum'], 'grad-accum', 1, int(1), 'a positive integer')!;
  const lr = num(values.lr, 'lr', 1e-4, (n) => n > 0, 'a positive number')!;
  const warmupSteps = num(values['warmup-steps'], 'warmup-steps', Math.round(steps * 0.1), int(0), 'an integer >= 0')!;
  const weightDecay = num(values['weight-decay'], 'weight-decay', 0.01, (n) => n >= 0, 'a number >= 0')!;
  const maxGradNorm = num(values['max-grad-norm'], 'max-grad-norm', 1, (n) => n >= 0, 'a number >= 0')!;
  const seed = num(values.seed, 'seed', 42, int(0), 'a non-negative integer')!;
  const evalEvery = num(values['eval-every'], 'eval-every', 0, int(0), 'an integer >= 0')!;
  const evalInstances = num(values['eval-instances'], 'eval-instances', 2000, int(1), 'a positive integer')!;
  const checkpointEvery = num(values['checkpoint-every'], 'checkpoint-every', 500, int(1), 'a positive integer')!;
  const timeBudgetSeconds = values['time-budget'] ? parseDuration(values['time-budget']) : undefined;
  const backend = (values.backend ?? 'auto') as BackendChoice;
  if (!['auto', 'js', 'native'].includes(backend))
    throw new UsageError(`--backend must be js, native or auto, got ${backend}`);
  const kernels = getKernels({ backend });

  // The vocabulary: tokens in id order from vocab.txt (what the data was made with).
  const vocabDir = existsSync(values.vocab) && statSync(values.vocab).isFile() ? dirname(values.vocab) : values.vocab;
  const vocab = readPretrainingVocab(vocabDir);
  const manifest = readDatasetManifest(values.data);
  if (manifest.vocabSize !== vocab.size) {
    throw new Error(
      `${values.data} was made with a vocabulary of ${manifest.vocabSize} tokens, --vocab ${values.vocab} has ${vocab.size}; use the same --vocab`,
    );
  }

  let model: PretrainingBert;
  if (values['init-from']) {
    const loaded = PretrainingBert.load(values['init-from'], { kernels, seed });
    model = loaded.model;
    if (loaded.missing.length > 0)
      process.stderr.write(
        `bert pretrain: newly initialised (not in ${values['init-from']}): ${loaded.missing.join(', ')}\n`,
      );
  } else {
    const c = values.config!;
    let config: Record<string, unknown>;
    const preset = PRETRAIN_PRESETS[c];
    if (preset) {
      config = {
        hidden_size: preset.hidden,
        num_hidden_layers: preset.layers,
        num_attention_heads: preset.hidden / 64,
        intermediate_size: preset.hidden * 4,
        max_position_embeddings: 512,
        type_vocab_size: 2,
        hidden_act: 'gelu',
        hidden_dropout_prob: 0.1,
        attention_probs_dropout_prob: 0.1,
        initializer_range: 0.02,
        layer_norm_eps: 1e-12,
        pad_token_id: vocab.padId,
      };
    } else if (existsSync(c)) {
      config = JSON.parse(readFileSync(c, 'utf8')) as Record<string, unknown>;
    } else {
      throw new UsageError(
        `--config ${c}: not one of ${Object.keys(PRETRAIN_PRESETS).join(', ')} nor a config.json file`,
      );
    }
    if (config.vocab_size !== undefined && config.vocab_size !== vocab.size) {
      throw new Error(
        `--config ${c}: vocab_size ${String(config.vocab_size)} differs from --vocab ${values.vocab} (${vocab.size} tokens)`,
      );
    }
    model = new PretrainingBert(
      { ...config, vocab_size: vocab.size, architectures: ['BertForPreTraining'] },
      { kernels, seed },
    );
  }

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nbert pretrain: stopping after this step (checkpoint follows); Ctrl-C again to quit now\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const progress = new ProgressReporter({ logFile: join(values.output, 'log.jsonl') });
    const c = model.config;
    progress.message(
      `pre-training ${c.numHiddenLayers} layers x ${c.hiddenSize} hidden (${(model.store.data.length / 1e6).toFixed(1)}M parameters) ` +
        `on ${manifest.instances} instances (${values.data}), ${steps} steps of ${batchSize}`,
    );
    const result = await pretrain({
      model,
      vocab,
      dataDir: values.data,
      evalDataDir: values['eval-data'],
      evalInstances,
      evalEvery,
      outputDir: values.output,
      batchSize,
      gradAccumSteps: gradAccum,
      lr,
      warmupSteps,
      steps,
      weightDecay,
      maxGradNorm,
      seed,
      timeBudgetSeconds,
      checkpointEvery,
      resume: values.resume ?? false,
      vocabDir,
      noGather: values['no-gather'] ?? false,
      progress,
      shouldStop: () => interrupted,
    });
    process.stdout.write(JSON.stringify({ output: values.output, ...result }) + '\n');
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export default pretrainCommand;
