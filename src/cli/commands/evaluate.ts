// `bert evaluate`: scores a fine-tuned model folder on a labelled dataset; with --json the last stdout line is the metrics.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels, type BackendChoice } from '../../native/index.js';
import { readPretrainingVocab } from '../../data/pretraining.js';
import { loadPretrainingModel } from '../../train/pretrain-model.js';
import { evaluatePretraining, readEvalInstances } from '../../train/pretrain-eval.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../../model/bert.js';
import { readConfig } from '../../model/checkpoint.js';
import type { ProblemType } from '../../model/config.js';
import { readTextClassification } from '../../data/classification.js';
import { readConllJsonl, alignFirstWordPiece } from '../../data/conll.js';
import { sampleSubset } from '../../data/sampling.js';
import { encodedDataset, type EncodedExample } from '../../data/batching.js';
import { evaluateSequenceClassification, evaluateTokenClassification } from '../../train/evaluation.js';
import type { ClassificationReport, EntityReport } from '../../train/metrics.js';
import { loadFinetuneTokenizer } from '../../train/text-encoding.js';
import { formatDuration } from '../../train/progress.js';
import { num } from './finetune.js';
import { UsageError, exitCodeOf, parseFlags, type FlagValues } from '../command.js';

export const usage = `Usage: bert evaluate --model DIR --data FILE [--max-length 128] [--json]

  --model DIR         a fine-tuned model folder (BertForSequenceClassification or BertForTokenClassification),
                      or a pre-trained one (BertForPreTraining) with --data a folder of pre-training shards
  --data FILE         labelled data: .jsonl/.jsonl.gz, .csv/.tsv(.gz), an aclImdb split folder, or CoNLL JSONL;
                      or pre-training shards (a folder with dataset.json from bert create-pretraining-data):
                      held-out MLM loss / accuracy and NSP loss / accuracy, on the first --samples instances
  --task T            text-classification | token-classification (default: from config.json architectures)
  --max-length N      tokens per example (default 128)
  --batch-size N      (default 32)
  --samples N         score a seeded random subset of N examples  --seed N (42)
  --text-column C --text-pair-column C --label-column C
  --backend js|native|auto  --tokenizer DIR (when the model folder has no tokenizer files)
  --json              print one JSON object as the last line of stdout (accuracy, f1, precision, recall, examples, ...)`;

const OPTIONS = {
  model: { type: 'string' },
  data: { type: 'string' },
  task: { type: 'string' },
  'max-length': { type: 'string' },
  'batch-size': { type: 'string' },
  samples: { type: 'string' },
  seed: { type: 'string' },
  'text-column': { type: 'string' },
  'text-pair-column': { type: 'string' },
  'label-column': { type: 'string' },
  backend: { type: 'string' },
  tokenizer: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function evaluateCommand(argv: string[]): Promise<number> {
  return exitCodeOf('evaluate', () => run(argv), '(see bert evaluate --help)\n');
}

async function run(argv: string[]): Promise<number> {
  const values = parseFlags(argv, OPTIONS, usage);
  if (!values) return 0;
  if (!values.model || !values.data) throw new UsageError('--model and --data are required');
  const backend = values.backend ?? 'auto';
  if (!['js', 'native', 'auto'].includes(backend))
    throw new UsageError(`--backend must be js, native or auto, got "${backend}"`);
  if (existsSync(join(values.data, 'dataset.json'))) return evaluatePretrainingData(values, backend as BackendChoice);
  const modelDir = values.model;
  const config = readConfig(modelDir);
  const arch = config.architectures?.[0];
  const task = values.task ?? (arch === 'BertForTokenClassification' ? 'token-classification' : 'text-classification');
  if (task !== 'text-classification' && task !== 'token-classification')
    throw new UsageError(`--task must be text-classification or token-classification, got "${task}"`);
  const maxLength = num(values['max-length'], '--max-length', 128, 'int');
  if (maxLength < 2 || maxLength > config.maxPositionEmbeddings) {
    throw new UsageError(
      `--max-length ${maxLength} must be in [2, ${config.maxPositionEmbeddings}] (max_position_embeddings of ${modelDir})`,
    );
  }
  const batchSize = num(values['batch-size'], '--batch-size', 32, 'int');
  if (batchSize <= 0) throw new UsageError('--batch-size must be positive');
  const samples = values.samples === undefined ? undefined : num(values.samples, '--samples', 0, 'int');
  if (samples !== undefined && samples <= 0) throw new UsageError('--samples must be positive');
  const seed = num(values.seed, '--seed', 42, 'int');
  const kernels = getKernels({ backend: backend as BackendChoice });
  const tok = await loadFinetuneTokenizer(values.tokenizer ?? modelDir);
  const t0 = performance.now();
  // Scoring 25,000 reviews takes minutes: show progress on stderr (a bar on a terminal, a JSON line every 10 s otherwise).
  const tty = Boolean(process.stderr.isTTY);
  let lastShown = 0;
  const onProgress = (done: number, total: number): void => {
    const now = performance.now();
    if (done < total && now - lastShown < (tty ? 250 : 10_000)) return;
    lastShown = now;
    const rate = done / Math.max((now - t0) / 1000, 1e-9);
    const eta = (total - done) / Math.max(rate, 1e-9);
    if (tty)
      process.stderr.write(
        `\r\x1b[2Kevaluating ${done}/${total} ${rate.toFixed(1)} ex/s ETA ${formatDuration(eta)}${done === total ? '\n' : ''}`,
      );
    else
      process.stderr.write(
        `${JSON.stringify({ event: 'eval-progress', done, total, examplesPerSecond: Number(rate.toFixed(2)), etaSeconds: Math.round(eta) })}\n`,
      );
  };
  const id2label = config.id2label;
  const label2id = config.label2id;
  let result: Record<string, unknown>;
  let text: string;

  if (task === 'text-classification') {
    const problemType: ProblemType = config.problemType ?? 'single_label_classification';
    const generic = Object.entries(id2label).every(([k, v]) => v === `LABEL_${k}`);
    let ex = await readTextClassification(values.data, {
      textColumn: values['text-column'],
      textPairColumn: values['text-pair-column'],
      labelColumn: values['label-column'],
      label2id: generic ? undefined : label2id,
      numLabels: config.numLabels,
      problemType,
    });
    if (samples !== undefined) ex = sampleSubset(ex, samples, seed);
    const enc: EncodedExample[] = ex.map((e) => ({ ...tok.encode(e.text, e.textPair, maxLength), label: e.label }));
    const model = await BertForSequenceClassification.fromPretrained(modelDir, {
      kernels,
      warn: (m) => process.stderr.write(`${m}\n`),
    });
    const ev = evaluateSequenceClassification(
      model,
      encodedDataset(enc, 'sequence', tok.padId),
      enc.map((e) => e.label!),
      config.numLabels,
      problemType,
      batchSize,
      onProgress,
    );
    result = { ...ev.metrics };
    if (problemType === 'single_label_classification') {
      const r = ev.report as ClassificationReport;
      result['per_class'] = Object.fromEntries(r.perClass.map((c, i) => [id2label[i] ?? String(i), c]));
      result['confusion_matrix'] = r.confusion;
      text =
        `accuracy ${(r.accuracy * 100).toFixed(2)}%  macro F1 ${r.macro.f1.toFixed(4)}  (${r.examples} examples)\n` +
        r.perClass
          .map(
            (c, i) =>
              `  ${(id2label[i] ?? String(i)).padEnd(12)} P ${c.precision.toFixed(4)} R ${c.recall.toFixed(4)} F1 ${c.f1.toFixed(4)} n ${c.support}`,
          )
          .join('\n') +
        `\n  confusion [true][pred]: ${JSON.stringify(r.confusion)}`;
    } else {
      text = Object.entries(ev.metrics)
        .map(([k, v]) => `${k} ${v}`)
        .join('  ');
    }
  } else {
    let ex = await readConllJsonl(values.data, { label2id, numLabels: config.numLabels });
    if (samples !== undefined) ex = sampleSubset(ex, samples, seed);
    const enc: EncodedExample[] = ex.map((e) => {
      const a = alignFirstWordPiece(e, tok, maxLength);
      return { inputIds: a.inputIds, tokenLabels: a.labels };
    });
    const model = await BertForTokenClassification.fromPretrained(modelDir, {
      kernels,
      warn: (m) => process.stderr.write(`${m}\n`),
    });
    const ev = evaluateTokenClassification(
      model,
      encodedDataset(enc, 'token', tok.padId),
      enc.map((e) => e.tokenLabels!),
      id2label,
      batchSize,
      onProgress,
    );
    const r: EntityReport = ev.report;
    result = {
      ...ev.metrics,
      per_type: r.perType,
      true_entities: r.trueEntities,
      predicted_entities: r.predictedEntities,
    };
    text =
      `entities: precision ${(r.precision * 100).toFixed(2)}%  recall ${(r.recall * 100).toFixed(2)}%  F1 ${(r.f1 * 100).toFixed(2)}  ` +
      `(${r.trueEntities} true, ${r.predictedEntities} predicted, ${r.examples} sentences; token accuracy ${(r.tokenAccuracy * 100).toFixed(2)}%)\n` +
      Object.entries(r.perType)
        .map(
          ([t, c]) =>
            `  ${t.padEnd(6)} P ${c.precision.toFixed(4)} R ${c.recall.toFixed(4)} F1 ${c.f1.toFixed(4)} n ${c.support}`,
        )
        .join('\n');
  }
  const seconds = (performance.now() - t0) / 1000;
  result['seconds'] = Number(seconds.toFixed(2));
  result['examples_per_second'] = Number((Number(result['examples']) / seconds).toFixed(2));
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${text}\n`);
  return 0;
}

/** `bert evaluate` on pre-training shards: MLM and NSP metrics of a BertForPreTraining folder. */
async function evaluatePretrainingData(values: FlagValues<typeof OPTIONS>, backend: BackendChoice): Promise<number> {
  const modelDir = values.model!;
  const batchSize = num(values['batch-size'], '--batch-size', 32, 'int');
  if (batchSize <= 0) throw new UsageError('--batch-size must be positive');
  const samples = values.samples === undefined ? Infinity : num(values.samples, '--samples', 0, 'int');
  if (samples <= 0) throw new UsageError('--samples must be positive');
  const vocab = readPretrainingVocab(values.tokenizer ?? modelDir);
  const instances = readEvalInstances(values.data!, samples, vocab, num(values.seed, '--seed', 42, 'int'));
  const { model, newlyInitialized } = await loadPretrainingModel(modelDir, { kernels: getKernels({ backend }) });
  if (newlyInitialized.length > 0)
    throw new Error(
      `${modelDir}: not a pre-trained BERT (no ${newlyInitialized[0]}); the MLM and NSP heads are needed`,
    );
  if (model.config.vocabSize !== vocab.size) {
    throw new Error(
      `${modelDir}: vocab_size ${model.config.vocabSize}, but the data was made with a vocabulary of ${vocab.size} tokens`,
    );
  }
  const t0 = performance.now();
  const ev = evaluatePretraining(model, instances, batchSize, vocab.padId);
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    ...ev,
    seconds: Number(seconds.toFixed(2)),
    examples_per_second: Number((ev.instances / seconds).toFixed(2)),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `MLM accuracy ${(ev.mlm_accuracy * 100).toFixed(2)}% (loss ${ev.mlm_loss.toFixed(4)})  NSP accuracy ` +
        `${(ev.nsp_accuracy * 100).toFixed(2)}% (loss ${ev.nsp_loss.toFixed(4)}; always "random" would score ` +
        `${(ev.nsp_random_fraction * 100).toFixed(2)}%)  ${ev.instances} instances\n`,
    );
  }
  return 0;
}

export default evaluateCommand;
