// Flags shared by the training commands (`bert finetune`, `train-embeddings`, `train-reranker`): the library's
// TrainingRunOptions, parsed once, and the summary line they print.
import { getKernels } from '../native/index.js';
import type { RunResult, TrainingRunOptions } from '../train/run-options.js';
import { getDistributed } from '../train/distributed.js';
import type { ScheduleName } from '../train/schedule.js';
import type { EvaluateOptions } from '../train/evaluate.js';
import type { FinetuneTask } from '../train/finetune.js';
import { UsageError, numberFlag, stringFlags } from './command.js';
import { backendFlag } from './inputs.js';

/** A number (or integer) flag `flag` ("--lr"), or undefined when absent: numberFlag's check and message. */
export function num(v: string | undefined, flag: string, kind: 'int' | 'float' = 'float'): number | undefined {
  const name = flag.replace(/^--/, '');
  return kind === 'int'
    ? numberFlag(v, name, undefined, Number.isInteger, 'an integer')
    : numberFlag(v, name, undefined, Number.isFinite, 'a number');
}

/** The run options' part of the sentence commands' usage (their defaults; `bert finetune` states its own). */
export const RUN_USAGE = `Training
  --epochs N (1)  --batch-size N  --lr X (5e-5)  --weight-decay X (0)  --schedule constant|linear|cosine (linear)
  --warmup-ratio X (0)  --warmup-steps N  --max-grad-norm X (1.0, 0 = off)  --seed N (42)  --max-length N
  --train-samples N (seeded subset)  --eval-steps N (default: each epoch)  --save-steps N  --metric NAME
  --eval-batch-size N (32)  --backend auto|js|native|wasm
Output
  --output DIR              the trained model folder (sentence-transformers layout), checkpoints/,
                            training_curve.svg, train_log.jsonl, eval_results.json; with --eval the saved
                            weights are the best evaluated ones
  --resume                  continue from DIR/checkpoints (same flags)
  --log FILE                JSON lines log (default DIR/train_log.jsonl)
  --no-summary              do not print the summary JSON line on stdout`;

export const RUN_FLAGS = {
  ...stringFlags(
    'model train eval output log train-samples max-length epochs batch-size lr weight-decay schedule warmup-ratio',
    'warmup-steps max-grad-norm seed eval-steps save-steps metric eval-batch-size backend stop-after-steps',
  ),
  resume: { type: 'boolean' },
  'no-summary': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type RunFlagValues = {
  [K in keyof typeof RUN_FLAGS]?: (typeof RUN_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** The run options from the flags; --model, --train and --output are required. */
export function runOptionsFromFlags(v: RunFlagValues): TrainingRunOptions {
  for (const f of ['model', 'train', 'output'] as const) if (!v[f]) throw new UsageError(`--${f} is required`);
  return {
    model: v.model ?? '',
    train: v.train ?? '',
    output: v.output ?? '',
    eval: v.eval,
    log: v.log,
    trainSamples: num(v['train-samples'], '--train-samples', 'int'),
    maxLength: num(v['max-length'], '--max-length', 'int'),
    epochs: num(v.epochs, '--epochs', 'int'),
    batchSize: num(v['batch-size'], '--batch-size', 'int'),
    lr: num(v.lr, '--lr'),
    weightDecay: num(v['weight-decay'], '--weight-decay'),
    schedule: v.schedule as ScheduleName | undefined,
    warmupRatio: num(v['warmup-ratio'], '--warmup-ratio'),
    warmupSteps: num(v['warmup-steps'], '--warmup-steps', 'int'),
    maxGradNorm: num(v['max-grad-norm'], '--max-grad-norm'),
    seed: num(v.seed, '--seed', 'int'),
    evalSteps: num(v['eval-steps'], '--eval-steps', 'int'),
    saveSteps: num(v['save-steps'], '--save-steps', 'int'),
    metric: v.metric,
    evalBatchSize: num(v['eval-batch-size'], '--eval-batch-size', 'int'),
    resume: v.resume,
    stopAfterSteps: num(v['stop-after-steps'], '--stop-after-steps', 'int'),
    kernels: getKernels({ backend: backendFlag(v.backend) }),
  };
}

/** The summary JSON line on stdout, or where to resume from on stderr (rank 0 only under mpirun). */
export function printRunResult(command: string, result: RunResult<object>, summary: boolean): void {
  if (getDistributed().rank !== 0) return;
  if (result.interrupted) {
    process.stderr.write(
      `bert ${command}: stopped after step ${result.steps} of ${result.totalSteps}; continue with --resume\n`,
    );
    return;
  }
  if (summary) process.stdout.write(JSON.stringify(result.summary) + '\n');
}

/** The flags that say how labelled data is read and scored (`bert evaluate`, `bert quantize --data`). */
export const EVAL_DATA_FLAGS = {
  data: { type: 'string' },
  task: { type: 'string' },
  'max-length': { type: 'string' },
  'batch-size': { type: 'string' },
  samples: { type: 'string' },
  seed: { type: 'string' },
  'text-column': { type: 'string' },
  'text-pair-column': { type: 'string' },
  'label-column': { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
} as const;

type EvalDataFlagValues = { [K in keyof typeof EVAL_DATA_FLAGS]?: string };

/** EVAL_DATA_FLAGS as evaluate()'s options (the model and data are the command's own). */
export function evalDataOptions(
  v: EvalDataFlagValues,
): Omit<EvaluateOptions, 'model' | 'data' | 'kernels' | 'dtype' | 'onProgress' | 'warn'> {
  return {
    task: v.task as FinetuneTask | undefined,
    maxLength: num(v['max-length'], '--max-length', 'int'),
    batchSize: num(v['batch-size'], '--batch-size', 'int'),
    samples: num(v.samples, '--samples', 'int'),
    seed: num(v.seed, '--seed', 'int'),
    textColumn: v['text-column'],
    textPairColumn: v['text-pair-column'],
    labelColumn: v['label-column'],
    tokenizer: v.tokenizer,
  };
}
