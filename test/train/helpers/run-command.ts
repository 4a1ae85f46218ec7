// Runs `bert finetune`, `bert evaluate` or `bert pretrain` in a child process for the end-to-end tests: argv[2] is the command name.
import { finetuneCommand } from '../../../src/cli/commands/finetune.js';
import { evaluateCommand } from '../../../src/cli/commands/evaluate.js';
import { pretrainCommand } from '../../../src/cli/commands/pretrain.js';
import { embedCommand } from '../../../src/cli/commands/embed.js';

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, ...args] = process.argv.slice(2);
// Under mpirun, the test that kills a rank finds its process id here.
const pidDir = process.env.BERT_TEST_PID_DIR;
if (pidDir) writeFileSync(join(pidDir, `rank-${process.env.OMPI_COMM_WORLD_RANK ?? 0}.pid`), String(process.pid));
const commands: Record<string, (argv: string[]) => Promise<number>> = {
  finetune: finetuneCommand,
  evaluate: evaluateCommand,
  pretrain: pretrainCommand,
  embed: embedCommand,
};
const fn = name === undefined ? undefined : commands[name];
if (!fn) {
  process.stderr.write(`unknown command ${name}\n`);
  process.exit(2);
}
process.exitCode = await fn(args);
