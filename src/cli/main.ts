#!/usr/bin/env node
// The `bert` command: a table of subcommands, each a module src/cli/commands/<name>.ts whose default export takes
// the arguments after the command name and returns the exit code (0 ok, 1 runtime error, 2 usage error).
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, errorLine, nearestName, reportError, type CommandMain } from './command.js';

type Loader = () => Promise<{ default: CommandMain }>;

/** Add a command with one line: name, summary for `bert --help`, loader (imported only when the command runs). */
export const COMMANDS: ReadonlyArray<readonly [name: string, summary: string, load: Loader]> = [
  [
    'demo',
    'the seed notebook offline: fine-tune on an IMDb sample, evaluate, classify',
    () => import('./commands/demo.js'),
  ],
  ['tokenize', 'WordPiece tokens, ids and offsets of texts (JSON lines)', () => import('./commands/tokenize.js')],
  [
    'predict',
    'classify texts with a sequence-classification model (JSON lines)',
    () => import('./commands/predict.js'),
  ],
  ['fill-mask', 'fill [MASK] tokens with a masked-LM model (JSON lines)', () => import('./commands/fill-mask.js')],
  ['ner', 'tag entities with a token-classification model (JSON lines)', () => import('./commands/ner.js')],
  ['qa', 'extract answer spans with a question-answering model', () => import('./commands/qa.js')],
  ['embed', 'sentence embeddings (JSON lines)', () => import('./commands/embed.js')],
  ['rerank', 'rank documents against a query with a cross-encoder (JSON lines)', () => import('./commands/rerank.js')],
  ['serve', 'serve a model over HTTP', () => import('./commands/serve.js')],
  [
    'finetune',
    'fine-tune a model: text or token classification, question answering, multiple choice',
    () => import('./commands/finetune.js'),
  ],
  ['evaluate', 'score a fine-tuned model on labelled data', () => import('./commands/evaluate.js')],
  [
    'train-embeddings',
    'train a sentence-embedding model on text pairs (MNRL, CachedMNRL, CoSENT, Matryoshka)',
    () => import('./commands/train-embeddings.js'),
  ],
  [
    'train-reranker',
    'train a cross-encoder reranker on labelled (query, passage) pairs',
    () => import('./commands/train-reranker.js'),
  ],
  [
    'train-vocab',
    'learn a WordPiece vocabulary from raw text (HF WordPieceTrainer)',
    () => import('./commands/train-vocab.js'),
  ],
  [
    'create-pretraining-data',
    'text -> NSP pairs with MLM masks, in binary shards',
    () => import('./commands/create-pretraining-data.js'),
  ],
  ['pretrain', 'pre-train BERT with masked LM + next sentence prediction', () => import('./commands/pretrain.js')],
  ['attention', 'attention heatmaps of every layer and head (HTML)', () => import('./commands/attention.js')],
  ['export-onnx', 'export a model to ONNX (transformers.js layout)', () => import('./commands/export-onnx.js')],
  [
    'quantize',
    'save a q8 copy of a model (int8 weights), with its quantization report',
    () => import('./commands/quantize.js'),
  ],
];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function programUsage(): string {
  const width = Math.max(...COMMANDS.map(([name]) => name.length)) + 2;
  return [
    'Usage: bert <command> [options]',
    '',
    'BERT in TypeScript: tokenize, pre-train, fine-tune and run BERT models, HuggingFace-compatible.',
    '',
    'Commands:',
    ...COMMANDS.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    '',
    'Run `bert <command> --help` for its options. `bert --version` prints the version.',
    'Exit codes: 0 done, 1 a runtime error (one line on stderr; BERT_DEBUG=1 adds the stack), 2 a usage error.',
  ].join('\n');
}

/** Runs the program with its arguments (without node and the script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(`${programUsage()}\n`);
    return 2;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    process.stdout.write(`${programUsage()}\n`);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const name = first === 'help' ? rest[0] : first;
  const args = first === 'help' ? ['--help'] : rest;
  const entry = COMMANDS.find(([n]) => n === name);
  if (!entry) {
    const near =
      name === undefined
        ? undefined
        : nearestName(
            name,
            COMMANDS.map(([n]) => n),
          );
    const hint = near === undefined ? '' : `; did you mean "${near}"?`;
    return reportError('', new UsageError(`unknown command ${JSON.stringify(name)}${hint} (bert --help lists them)`));
  }
  try {
    const { default: run } = await entry[2]();
    return await run(args);
  } catch (error) {
    return reportError(name ?? '', error);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const fatal = (error: unknown) => {
    process.stderr.write(`bert: ${errorLine(error)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, fatal);
}
