// `bert attention`: parses the flags, runs attentionMaps() and writes attentionHtml()'s page.
import { writeFileSync } from 'node:fs';
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { pipelineOptions, requireModel } from '../inputs.js';

export const usage = `Usage: bert attention --model DIR --output FILE.html [options] "TEXT" ["SECOND TEXT"]

Runs the model on the text (or text pair) and writes one heatmap per layer and head: row i, column j is how much
token i attends to token j (each row sums to 1). Hover a cell for its tokens and weight. The file is
self-contained HTML with inline SVG.

Options:
  --model DIR          any BERT folder or hub id
  --tokenizer DIR      tokenizer folder when the model folder has none
  --output FILE        the HTML file to write (required)
  --max-length N       truncate the text to N tokens (default 64)
  --backend NAME       auto | js | native | wasm
  -h, --help           this text`;

export async function attentionCommand(argv: string[]): Promise<number> {
  return runCommand('attention', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      output: { type: 'string' },
      'max-length': { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    const model = requireModel(values);
    const output = values.output;
    if (!output) throw new UsageError('--output FILE.html is required');
    const [text, pair] = positionals;
    if (text === undefined || positionals.length > 2)
      throw new UsageError('give one text (or two for a pair) to visualise');
    const { kernels } = pipelineOptions(values);
    const { attentionMaps, attentionHtml } = await import('../../pipelines/attention.js');
    const { resolveModel } = await import('../../pipelines/pipeline.js');
    const dir = await resolveModel(model, {});
    const maps = await attentionMaps(dir, text, pair ?? null, {
      maxLength: intFlag(values, 'max-length', 64, 3),
      tokenizer: values.tokenizer,
      kernels,
    });
    const html = attentionHtml(positionals.join(' ‖ '), maps.tokens, maps.attentions, model);
    writeFileSync(output, html);
    const { tokens, attentions } = maps;
    const heads = attentions[0]?.shape[1];
    const summary = { output, tokens: tokens.length, layers: attentions.length, heads, bytes: Buffer.byteLength(html) };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}

export default attentionCommand;
