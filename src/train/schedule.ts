// Learning-rate schedules as transformers' get_*_schedule_with_warmup: multiplier of the base lr at a step.

export interface WarmupSchedule {
  warmupSteps: number;
  totalSteps: number;
}

/** get_linear_schedule_with_warmup: linear 0 → 1 over warmupSteps, then linear 1 → 0 at totalSteps. */
export function linearWarmupDecay(step: number, s: WarmupSchedule): number {
  if (step < s.warmupSteps) return step / Math.max(1, s.warmupSteps);
  return Math.max(0, (s.totalSteps - step) / Math.max(1, s.totalSteps - s.warmupSteps));
}

/** get_constant_schedule_with_warmup. */
export function constantWarmup(step: number, s: Pick<WarmupSchedule, 'warmupSteps'>): number {
  return step < s.warmupSteps ? step / Math.max(1, s.warmupSteps) : 1;
}

/** The lr used by optimizer step `step` (0-based, i.e. before the scheduler has stepped `step` times). */
export class LinearSchedule {
  constructor(readonly baseLr: number, readonly schedule: WarmupSchedule) {}
  lrAt(step: number): number {
    return this.baseLr * linearWarmupDecay(step, this.schedule);
  }
}
