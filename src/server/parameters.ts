// The "parameters" each served task accepts (HF inference API names, snake_case, and the camelCase API names), their
// validation, and how a list request's results are shaped as the pipeline shapes them.
import { listShape } from '../pipelines/text-classification.js';
import type { LabelScore } from '../pipelines/types.js';
import { InputError } from '../model/errors.js';
import type { CallOptions } from './batcher.js';

type Check = (value: unknown) => string | null; // null when valid, else what it must be

const positiveInt: Check = (v) => (Number.isInteger(v) && (v as number) >= 1 ? null : 'a positive integer');
const nonNegativeInt: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : 'an integer >= 0');
const boolean: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const text: Check = (v) =>
  typeof v === 'string' && !/\p{Surrogate}/u.test(v) ? null : 'a string (well-formed UTF-16)';
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? null : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
const orNull =
  (check: Check): Check =>
  (v) => {
    const problem = v === null ? null : check(v);
    return problem === null ? null : `${problem} or null`;
  };
const strings: Check = (v) =>
  typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'))
    ? null
    : 'a string or a non-empty array of strings';
const stringList: Check = (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? null : 'an array of strings';

/** One parameter: its wire name (HF's snake_case), the pipeline option it sets (camelCase) and its check. */
interface Parameter {
  name: string;
  option: string;
  check: Check;
}

const p = (name: string, option: string, check: Check): Parameter => ({ name, option, check });

/** Per canonical task, the parameters of the HF inference API that the pipeline implements. */
const TASK_PARAMETERS: Record<string, Parameter[]> = {
  'text-classification': [
    p('top_k', 'topK', orNull(positiveInt)),
    p('function_to_apply', 'functionToApply', oneOf('softmax', 'sigmoid', 'none')),
  ],
  'token-classification': [
    p('aggregation_strategy', 'aggregationStrategy', oneOf('none', 'simple', 'first', 'average', 'max')),
    p('ignore_labels', 'ignoreLabels', stringList),
    p('stride', 'stride', nonNegativeInt),
  ],
  'fill-mask': [p('top_k', 'topK', positiveInt), p('targets', 'targets', strings)],
  'question-answering': [
    p('top_k', 'topK', positiveInt),
    p('max_answer_len', 'maxAnswerLen', positiveInt),
    p('max_seq_len', 'maxSeqLen', positiveInt),
    p('doc_stride', 'docStride', nonNegativeInt),
    p('handle_impossible_answer', 'handleImpossibleAnswer', boolean),
  ],
  'feature-extraction': [p('pooling', 'pooling', oneOf('none', 'cls', 'mean')), p('normalize', 'normalize', boolean)],
  // POST /embed: SentenceTransformer.encode's options.
  'sentence-embedding': [
    p('normalize', 'normalize', boolean),
    p('prompt_name', 'promptName', text),
    p('prompt', 'prompt', text),
    p('truncate_dim', 'truncateDim', positiveInt),
  ],
  // POST /rerank: CrossEncoder.rank's options (they shape the answer, not the model call).
  'text-ranking': [p('top_k', 'topK', orNull(positiveInt)), p('return_documents', 'returnDocuments', boolean)],
};

const ALIASES: Record<string, string> = { 'sentiment-analysis': 'text-classification', ner: 'token-classification' };

/** What `createServer` takes for a task: the parameter validator and the list-shaping rule. */
export interface TaskParameters {
  /** The wire names accepted (snake_case; the camelCase spelling of each is accepted too). */
  readonly names: readonly string[];
  /** Validates a request's "parameters" object into pipeline call options; throws InputError. */
  parse(parameters: Record<string, unknown>): CallOptions;
  /**
   * The answer to a list request from the per-input results, in the shape `pipeline(list, options)` returns:
   * text-classification with one label per text (top_k 1, the default) gives one {label, score} per text, as
   * transformers.js and HF do; every other case a list with one entry per input.
   */
  combine(results: unknown[], options: CallOptions): unknown;
}

/** The parameters of a served task (an alias such as "ner" is resolved). */
export function taskParameters(task: string, defaults: CallOptions = {}): TaskParameters {
  const canonical = ALIASES[task] ?? task;
  const table = TASK_PARAMETERS[canonical];
  if (!table) throw new RangeError(`no server parameters for task "${task}"`);
  const byName = new Map<string, Parameter>();
  for (const parameter of table) {
    byName.set(parameter.name, parameter);
    byName.set(parameter.option, parameter);
  }
  const names = table.map((x) => x.name);
  return {
    names,
    parse(parameters) {
      const options: CallOptions = {};
      for (const [key, value] of Object.entries(parameters)) {
        const parameter = byName.get(key);
        if (!parameter) {
          const known = names.length > 0 ? names.join(', ') : 'none';
          throw new InputError('parameters', `unknown parameter "${key}" for ${canonical}; known: ${known}`);
        }
        if (parameter.option in options) {
          throw new InputError('parameters', `"${key}" is given twice (as ${parameter.name} and ${parameter.option})`);
        }
        const problem = parameter.check(value);
        if (problem !== null) {
          throw new InputError('parameters', `"${key}" must be ${problem}, got ${JSON.stringify(value)}`);
        }
        options[parameter.option] = value;
      }
      return options;
    },
    combine(results, options) {
      if (canonical !== 'text-classification') return results;
      const topK = 'topK' in options ? options.topK : defaults.topK;
      return listShape(results as LabelScore[][], topK as number | null | undefined);
    },
  };
}
