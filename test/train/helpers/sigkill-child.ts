// Child process of the SIGKILL resume test: trains the hf-tiny seq_cls3 model, checkpointing every step, until killed.
import { join } from 'node:path';
import { jsKernels } from '../../../src/tensor/js-kernels.js';
import { BertForSequenceClassification } from '../../../src/model/bert.js';
import { Trainer } from '../../../src/train/trainer.js';
import { bertTrainerModel } from '../../../src/train/bert-adapter.js';
import { ProgressReporter } from '../../../src/train/progress.js';
import { sigkillOptions, sigkillSampler } from './sigkill-shared.js';

const [out, resume] = [process.argv[2]!, process.argv[3] === 'resume'];
const model = await BertForSequenceClassification.fromPretrained(join('../shared/fixtures/hf-tiny', 'seq_cls3'), {
  kernels: jsKernels,
  warn: () => {},
});
// Each step's JSON line tells the parent how far we got; the parent kills us at a random moment after some steps.
const progress = new ProgressReporter({ stream: process.stdout, tty: false, intervalMs: 0 });
await new Trainer(bertTrainerModel(model), sigkillSampler(), {
  ...sigkillOptions,
  kernels: jsKernels,
  output: out,
  saveSteps: 1,
  resume,
  progress,
}).train();
process.stdout.write('{"event":"done"}\n');
