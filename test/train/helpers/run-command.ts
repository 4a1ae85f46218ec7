// Runs `bert finetune`, `bert evaluate` or `bert pretrain` in a child process for the end-to-end tests: argv[2] is the command name.
import { finetuneCommand } from '../../../src/cli/commands/finetune.js';
import { evaluateCommand } from '../../../src/cli/commands/evaluate.js';
import { pretrainCommand } from '../../../src/cli/commands/pretrain.js';

const [name, ...args] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<number>> = {
  finetune: finetuneCommand,
  evaluate: evaluateCommand,
  pretrain: pretrainCommand,
};
const fn = name === undefined ? undefined : commands[name];
if (!fn) {
  process.stderr.write(`unknown command ${name}\n`);
  process.exit(2);
}
process.exitCode = await fn(args);
