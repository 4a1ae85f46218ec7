// Which task a model can do: the task its config's `architectures` names, the check that refuses a task a
// fine-tuned head cannot do, and the model pipeline(task) uses when none is given.
import { fileURLToPath } from 'node:url';
import type { BertConfig } from '../model/config.js';
import { InputError } from '../model/errors.js';
import type { CanonicalTask } from './tasks.js';

/**
 * The task of each head, by the class name's ending (BertFor..., RobertaFor..., DistilBertFor..., ...), the first
 * that matches. ELECTRA's discriminator (ElectraForPreTraining) detects replaced tokens: it has no MLM head.
 */
const HEAD_TASKS: [suffix: string, task: CanonicalTask | null][] = [
  ['ElectraForPreTraining', null],
  ['ForSequenceClassification', 'text-classification'],
  ['ForTokenClassification', 'token-classification'],
  ['ForQuestionAnswering', 'question-answering'],
  ['ForMaskedLM', 'fill-mask'],
  ['ForPreTraining', 'fill-mask'],
  ['Model', 'feature-extraction'],
  ['ForMultipleChoice', null],
  ['ForNextSentencePrediction', null],
];

/** Heads trained for one task (a pre-trained encoder can be given any task's new head). */
const FINE_TUNED = ['ForSequenceClassification', 'ForTokenClassification', 'ForQuestionAnswering', 'ForMultipleChoice'];

/** The task of an architecture name, undefined when it is not a head bert-ts knows. */
function architectureTask(arch: string): CanonicalTask | null | undefined {
  return HEAD_TASKS.find(([suffix]) => arch.endsWith(suffix))?.[1];
}

/** The task of a model from its config's `architectures` (null when it names none or one no pipeline runs). */
export function taskOfModel(config: BertConfig): CanonicalTask | null {
  const arch = config.architectures?.[0];
  return arch === undefined ? null : (architectureTask(arch) ?? null);
}

/**
 * Refuses a task that a fine-tuned head cannot do (a token-classification checkpoint asked for text
 * classification would answer with a freshly initialised head). Feature extraction reads the encoder of any
 * checkpoint; a pre-trained checkpoint (BertForPreTraining, BertForMaskedLM, BertModel) takes any task, its new head
 * initialised with a warning, as in transformers.
 */
export function checkTaskFitsModel(task: CanonicalTask, config: BertConfig, folder: string): void {
  const arch = config.architectures?.[0];
  if (arch === undefined || task === 'feature-extraction' || !FINE_TUNED.some((s) => arch.endsWith(s))) return;
  const own = architectureTask(arch) ?? null;
  if (own === task) return;
  throw new InputError(
    task,
    `${folder} is a ${arch} model (${own ?? 'no pipeline task'}), so it cannot do ${task}` +
      (own ? `; use the task ${own}` : ''),
  );
}

/** Where pipeline(task) finds a model when none is given. */
export type DefaultModel = { kind: 'embedded' } | { kind: 'hub'; id: string };

/** HuggingFace's default model of each task (transformers' pipelines/__init__.py), or bert-ts's own. */
export const DEFAULT_MODELS: Record<CanonicalTask, DefaultModel> = {
  'fill-mask': { kind: 'embedded' },
  'feature-extraction': { kind: 'embedded' },
  'token-classification': { kind: 'hub', id: 'dbmdz/bert-large-cased-finetuned-conll03-english' },
  'text-classification': { kind: 'hub', id: 'distilbert/distilbert-base-uncased-finetuned-sst-2-english' },
  'question-answering': { kind: 'hub', id: 'distilbert/distilbert-base-cased-distilled-squad' },
};

/** The embedded pre-trained RoBERTa-mini (assets/default-model; see its README.md). */
export function defaultModelDir(): string {
  return fileURLToPath(new URL('../../assets/default-model/', import.meta.url));
}
