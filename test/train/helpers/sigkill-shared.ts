// Data and settings shared by the SIGKILL resume test and its child process.
import { Rng } from '../../../src/train/rng.js';
import type { EncodedExample } from '../../../src/data/batching.js';

export function sigkillExamples(): EncodedExample[] {
  const r = new Rng(21);
  return Array.from({ length: 36 }, () => {
    const label = r.int(3);
    const body = Array.from({ length: 4 + r.int(8) }, () => 1000 + r.int(200));
    body[r.int(body.length)] = 1501 + label;
    return { inputIds: [9, ...body, 10], label };
  });
}

export const sigkillOptions = {
  epochs: 2,
  batchSize: 4,
  lr: 2e-3,
  optimizer: { name: 'adamw' as const, eps: 1e-6, weightDecay: 0.01 },
  schedule: 'cosine' as const,
  warmupRatio: 0.1,
  seed: 17,
};
