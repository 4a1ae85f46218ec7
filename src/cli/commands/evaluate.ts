// `bert evaluate`: parses the flags, calls the library's evaluate() and prints the metrics (text, or JSON with --json).
import { getKernels } from '../../native/index.js';
import { evaluate, type EvaluateResult } from '../../train/evaluate.js';
import { compareDtypes, formatDtypeComparison } from '../../train/compare-dtypes.js';
import type { FinetuneTask } from '../../train/finetune.js';
import type { ClassificationReport } from '../../train/metrics.js';
import { backendFlag, dtypeFlag, progressPrinter } from '../inputs.js';
import { UsageError, parseFlags, runCommand } from '../command.js';
import { EVAL_DATA_FLAGS, evalDataOptions, num } from '../training-run.js';
import { getDistributed } from '../../train/distributed.js';

export const usage = `Usage: bert evaluate --model DIR --data FILE [--max-length 128] [--json]

  --model DIR         a fine-tuned model folder (BertForSequenceClassification or BertForTokenClassification),
                      or a pre-trained one (BertForPreTraining) with --data a folder of pre-training shards
  --data FILE         labelled data: .jsonl/.jsonl.gz, .csv/.tsv(.gz), an aclImdb split folder, or CoNLL JSONL;
                      or pre-training shards (a folder with dataset.json from bert create-pretraining-data):
                      held-out MLM loss / accuracy and NSP loss / accuracy, on the first --samples instances
  --task T            text-classification | token-classification | question-answering (SQuAD JSON/JSONL: exact
                      match and F1) | multiple-choice (SWAG CSV/JSONL: accuracy); default: config.json architectures
  --max-length N      tokens per example (default 128; question answering 384, capped by the model)
  --doc-stride N --max-answer-length N   question answering: windows' shared tokens (128), longest answer (30)
  --batch-size N      (default 32)
  --samples N         score a seeded random subset of N examples  --seed N (42)
  --text-column C --text-pair-column C --label-column C
  --backend auto|js|native|wasm  --tokenizer DIR (when the model folder has no tokenizer files)
  --dtype fp32|q8|bf16  what the model's linear layers compute in (default fp32)
  --compare DTYPE     the quantization report (text / token classification): runs the data in --dtype (default q8)
                      and in DTYPE (e.g. fp32) and prints the top-1 agreement, the metric of each and its change,
                      and the largest logit difference. Before shipping a q8 model: --dtype q8 --compare fp32
  --json              print one JSON object as the last line of stdout (accuracy, f1, precision, recall, examples, ...)`;

const OPTIONS = {
  model: { type: 'string' },
  ...EVAL_DATA_FLAGS,
  'doc-stride': { type: 'string' },
  'max-answer-length': { type: 'string' },
  dtype: { type: 'string' },
  compare: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const f4 = (x: number): string => x.toFixed(4);
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The human-readable lines of a result. */
export function formatEvaluation(result: EvaluateResult): string {
  if (result.task === 'pretraining') {
    const e = result.report;
    return (
      `MLM accuracy ${pct(e.mlm_accuracy)} (loss ${f4(e.mlm_loss)})  NSP accuracy ${pct(e.nsp_accuracy)} ` +
      `(loss ${f4(e.nsp_loss)}; always "random" would score ${pct(e.nsp_random_fraction)})  ${e.instances} instances`
    );
  }
  if (result.task === 'question-answering') {
    const r = result.report;
    return `exact match ${r.exact_match.toFixed(2)}  F1 ${r.f1.toFixed(2)}  (${r.examples} questions, official SQuAD normalisation)`;
  }
  if (result.task === 'multiple-choice')
    return `accuracy ${pct(result.report.accuracy)}  (${result.report.examples} examples)`;
  if (result.task === 'token-classification') {
    const r = result.report;
    return (
      `entities: precision ${pct(r.precision)}  recall ${pct(r.recall)}  F1 ${(r.f1 * 100).toFixed(2)}  ` +
      `(${r.trueEntities} true, ${r.predictedEntities} predicted, ${r.examples} sentences; token accuracy ${pct(r.tokenAccuracy)})\n` +
      Object.entries(r.perType)
        .map(([t, c]) => `  ${t.padEnd(6)} P ${f4(c.precision)} R ${f4(c.recall)} F1 ${f4(c.f1)} n ${c.support}`)
        .join('\n')
    );
  }
  if (result.problemType !== 'single_label_classification') {
    return Object.entries(result.metrics)
      .filter(([k]) => k !== 'seconds' && k !== 'examples_per_second')
      .map(([k, v]) => `${k} ${String(v)}`)
      .join('  ');
  }
  const r = result.report as ClassificationReport;
  const name = (i: number): string => result.id2label[i] ?? String(i);
  return (
    `accuracy ${pct(r.accuracy)}  macro F1 ${f4(r.macro.f1)}  (${r.examples} examples)\n` +
    r.perClass
      .map((c, i) => `  ${name(i).padEnd(12)} P ${f4(c.precision)} R ${f4(c.recall)} F1 ${f4(c.f1)} n ${c.support}`)
      .join('\n') +
    `\n  confusion [true][pred]: ${JSON.stringify(r.confusion)}`
  );
}

export function evaluateCommand(argv: string[]): Promise<number> {
  return runCommand('evaluate', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    if (!v.model || !v.data) throw new UsageError('--model and --data are required');
    // Under mpirun every rank scores interleaved batches; rank 0 reports.
    const speaker = getDistributed().rank === 0;
    const options = {
      model: v.model,
      data: v.data,
      ...evalDataOptions(v),
      docStride: num(v['doc-stride'], '--doc-stride', 'int'),
      maxAnswerLength: num(v['max-answer-length'], '--max-answer-length', 'int'),
      kernels: getKernels({ backend: backendFlag(v.backend) }),
      onProgress: speaker ? progressPrinter() : undefined,
      warn: (m: string) => process.stderr.write(`${m}\n`),
    };
    const dtype = dtypeFlag(v.dtype);
    if (v.compare !== undefined) {
      const report = await compareDtypes({
        ...options,
        dtype: dtype ?? 'q8',
        baseline: dtypeFlag(v.compare, '--compare'),
      });
      if (speaker) process.stdout.write(`${v.json ? JSON.stringify(report) : formatDtypeComparison(report)}\n`);
      return;
    }
    const result = await evaluate({ ...options, dtype });
    if (speaker) process.stdout.write(`${v.json ? JSON.stringify(result.metrics) : formatEvaluation(result)}\n`);
  });
}

export default evaluateCommand;
