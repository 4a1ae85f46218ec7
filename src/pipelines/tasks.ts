// The task table (transformers.js `SUPPORTED_TASKS` / `TASK_ALIASES`): one row per task, each defined in its own
// file. A new task is a file like text-classification.ts and a row here.
import { featureExtractionTask } from './feature-extraction.js';
import { fillMaskTask } from './fill-mask.js';
import { questionAnsweringTask } from './question-answering.js';
import type { TaskDefinition } from './runner.js';
import { textClassificationTask } from './text-classification.js';
import { tokenClassificationTask } from './token-classification.js';
import type { Task } from './types.js';

export type CanonicalTask =
  'text-classification' | 'fill-mask' | 'token-classification' | 'question-answering' | 'feature-extraction';

/** Each canonical task's definition (its model class, runner and call signature). */
export const SUPPORTED_TASKS = {
  'text-classification': textClassificationTask,
  'fill-mask': fillMaskTask,
  'token-classification': tokenClassificationTask,
  'question-answering': questionAnsweringTask,
  'feature-extraction': featureExtractionTask,
} satisfies Record<CanonicalTask, unknown>;

/** Other names of tasks, as HF accepts them. */
export const TASK_ALIASES = {
  'sentiment-analysis': 'text-classification',
  ner: 'token-classification',
} satisfies Record<Exclude<Task, CanonicalTask>, CanonicalTask>;

/** Every task name pipeline() accepts, aliases included. */
export const TASKS = [...Object.keys(SUPPORTED_TASKS), ...Object.keys(TASK_ALIASES)] as Task[];

/** The canonical name of a task or alias; a clear error for anything else. */
export function canonicalTask(task: string): CanonicalTask {
  if (Object.hasOwn(SUPPORTED_TASKS, task)) return task as CanonicalTask;
  if (Object.hasOwn(TASK_ALIASES, task)) return TASK_ALIASES[task as keyof typeof TASK_ALIASES];
  throw new Error(`unknown task "${task}"; supported: ${TASKS.join(', ')}`);
}

/** A row of the table whatever its types: pipeline() only passes each row's own values back to it. */
export type AnyTaskDefinition = TaskDefinition<never, never, unknown, never>;
