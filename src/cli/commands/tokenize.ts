// `bert tokenize`: WordPiece tokens, ids and offsets of texts (arguments or stdin lines) as JSON lines.
import { createInterface } from 'node:readline';
import { BertTokenizer, type EncodeOptions } from '../../tokenizer/index.js';
import { defaultTokenizerDir } from '../assets.js';
import { UsageError, intFlag, parseCommand, runCommand, writeOut } from '../command.js';

export const usage = `Usage: bert tokenize [options] [TEXT ...]

Splits texts into WordPiece tokens as HuggingFace's BertTokenizer does and writes one JSON line per text:
  {"text": "...", "tokens": ["[CLS]", "this", ...], "ids": [101, 2023, ...], "offsets": [[0, 0], [0, 4], ...]}
Offsets are [start, end) positions in the text in UTF-16 code units (JavaScript string indices), [0, 0] for
special tokens. Texts come from the arguments, else from stdin, one text per line.

Options:
  --model DIR           tokenizer folder: tokenizer.json, or vocab.txt + tokenizer_config.json
                        (default: the embedded bert-base-uncased vocabulary, assets/default-tokenizer)
  --pair TEXT           second text of a pair for every input; adds "typeIds" (0 first text, 1 second)
  --max-length N        truncate to N tokens, special tokens included (longest text first)
  --no-special-tokens   leave out [CLS] and [SEP]
  -h, --help            this text

Exit codes: 0 done, 1 a runtime error (message on stderr), 2 a usage error.`;

const OPTIONS = {
  model: { type: 'string' },
  pair: { type: 'string' },
  'max-length': { type: 'string' },
  'no-special-tokens': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function tokenizeCommand(argv: string[]): Promise<number> {
  return runCommand('tokenize', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, OPTIONS);
    const maxLength = intFlag(values, 'max-length', undefined, 1);
    if (positionals.length === 0 && process.stdin.isTTY) {
      throw new UsageError('give the texts as arguments or pipe them on stdin, one per line');
    }
    const tokenizer = BertTokenizer.fromPretrained((values['model'] as string | undefined) ?? defaultTokenizerDir());
    const pair = values['pair'] as string | undefined;
    const options: EncodeOptions = { addSpecialTokens: values['no-special-tokens'] !== true, returnOffsets: true };
    if (maxLength !== undefined) {
      options.maxLength = maxLength;
      options.truncation = 'longest_first';
    }
    const line = (text: string): string => {
      const e = tokenizer.encode(text, pair ?? null, options);
      const out: Record<string, unknown> = { text, tokens: tokenizer.convertIdsToTokens(e.inputIds), ids: e.inputIds };
      if (pair !== undefined) out['typeIds'] = e.tokenTypeIds;
      out['offsets'] = e.offsets;
      return JSON.stringify(out) + '\n';
    };
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
    if (positionals.length > 0) {
      for (const text of positionals) await writeOut(line(text));
      return;
    }
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const text of lines) await writeOut(line(text));
  });
}

export default tokenizeCommand;
