// Runs `bert finetune` or `bert evaluate` in a child process for the end-to-end tests: argv[2] is the command name.
import { finetuneCommand } from '../../../src/cli/commands/finetune.js';
import { evaluateCommand } from '../../../src/cli/commands/evaluate.js';

const [name, ...args] = process.argv.slice(2);
const fn = name === 'finetune' ? finetuneCommand : name === 'evaluate' ? evaluateCommand : null;
if (!fn) {
  process.stderr.write(`unknown command ${name}\n`);
  process.exit(2);
}
process.exitCode = await fn(args);
