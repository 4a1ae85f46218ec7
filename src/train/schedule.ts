// Learning-rate schedules (HF transformers semantics): constant, linear and cosine, with linear warmup from 0.

export type ScheduleName = 'constant' | 'linear' | 'cosine';

export interface ScheduleSpec {
  name: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  /** Optimizer steps of linear warmup from 0 (0 = none). */
  warmupSteps: number;
  /** Total optimizer steps (the decay reaches 0 here for linear / cosine). */
  totalSteps: number;
}

/**
 * Learning rate used by optimizer step `step` (0-based: the first update uses step 0), exactly as a torch
 * LambdaLR from transformers' get_{constant,linear,cosine}_schedule_with_warmup gives it: with warmup, the first
 * update runs at lr 0.
 */
export function learningRateAt(s: ScheduleSpec, step: number): number {
  const { lr, warmupSteps: w, totalSteps: total } = s;
  if (step < w) return (lr * step) / Math.max(1, w);
  switch (s.name) {
    case 'constant':
      return lr;
    case 'linear':
      return lr * Math.max(0, (total - step) / Math.max(1, total - w));
    case 'cosine': {
      const progress = (step - w) / Math.max(1, total - w);
      return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}

/** Warmup steps from a ratio of the total, rounded up as HF TrainingArguments.get_warmup_steps does. */
export function warmupStepsFromRatio(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`warmupRatio must be in [0, 1), got ${ratio}`);
  return Math.ceil(totalSteps * ratio);
}

export function isScheduleName(s: string): s is ScheduleName {
  return s === 'constant' || s === 'linear' || s === 'cosine';
}
