// Issue 16: the batch order of `bert finetune` (its EpochSampler, no length bucketing) as JSON [epoch][batch][index],
// for replay_hf.py.   node --import tsx scripts/family-notebook/batch-order.ts EXAMPLES BATCH_SIZE SEED EPOCHS
import { epochBatches } from '../../src/data/samplers.js';

const [examples, batchSize, seed, epochs] = process.argv.slice(2).map(Number);
if (![examples, batchSize, seed, epochs].every((v) => Number.isInteger(v) && v! >= 0))
  throw new Error('usage: batch-order.ts EXAMPLES BATCH_SIZE SEED EPOCHS (non-negative integers)');
const order = Array.from({ length: epochs! }, (_, e) => epochBatches(examples!, batchSize!, seed!, e));
process.stdout.write(JSON.stringify(order) + '\n');
