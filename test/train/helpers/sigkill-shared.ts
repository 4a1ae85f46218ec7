// Data and settings shared by the SIGKILL resume test and its child process.
import { Rng } from '../../../src/data/rng.js';
import { encodedDataset, type BatchInputs, type EncodedExample } from '../../../src/data/batching.js';
import { EpochSampler } from '../../../src/data/samplers.js';

export function sigkillExamples(): EncodedExample[] {
  const r = new Rng(21);
  return Array.from({ length: 36 }, () => {
    const label = r.int(3);
    const body = Array.from({ length: 4 + r.int(8) }, () => 1000 + r.int(200));
    body[r.int(body.length)] = 1501 + label;
    return { inputIds: [9, ...body, 10], label };
  });
}

/** The child's and the reference run's batches: 36 examples in batches of 4, seeded order. */
export function sigkillSampler(): EpochSampler<BatchInputs> {
  return new EpochSampler(encodedDataset(sigkillExamples(), 'sequence', 0), { batchSize: 4, seed: 17 });
}

export const sigkillOptions = {
  epochs: 2,
  lr: 2e-3,
  optimizer: { name: 'adamw' as const, eps: 1e-6, weightDecay: 0.01 },
  schedule: 'cosine' as const,
  warmupRatio: 0.1,
};
