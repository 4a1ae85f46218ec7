// `bert fill-mask`: predicts the [MASK] tokens of texts with a masked-LM model, one JSON line per text.
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { COMMON_OPTIONS, batches, openOutput, pipelineOptions, readInputs, requireModel } from '../inputs.js';

export const usage = `Usage: bert fill-mask --model DIR [options] [TEXT ...]

Fills each [MASK] of each text and writes one JSON line per text:
  {"text": "...", "predictions": [{"score", "token", "token_str", "sequence"}, ...]}
(a list of lists when a text has several masks). Texts come from the arguments, --input FILE.jsonl, or stdin lines.

Options:
  --model DIR          masked-LM model folder (e.g. ../shared/models/bert-mini-imdb-hf) or hub id
  --top-k N            predictions per mask (default 5)
  --targets A,B,...    only score these words
  --tokenizer DIR / --input FILE / --output FILE / --batch-size N / --max-length N / --backend NAME / --dtype NAME / --quiet   as in bert predict
  -h, --help           this text`;

export async function fillMaskCommand(argv: string[]): Promise<number> {
  return runCommand('fill-mask', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      'top-k': { type: 'string' },
      targets: { type: 'string' },
    });
    const model = requireModel(values);
    const options = pipelineOptions(values);
    const topK = intFlag(values, 'top-k', 5);
    const targets =
      typeof values.targets === 'string'
        ? values.targets
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean)
        : undefined;
    if (targets && targets.length === 0) throw new UsageError('--targets is empty');
    const { pipeline } = await import('../../pipelines/pipeline.js');
    const fill = await pipeline('fill-mask', model, options);
    const out = openOutput(values);
    for await (const batch of batches(readInputs(values, positionals), options.batchSize ?? 16)) {
      const results = await fill.predictEach(
        batch.map((r) => r.text as string),
        { topK, targets },
      );
      for (let i = 0; i < batch.length; i++) await out.write({ ...batch[i], predictions: results[i] });
    }
    await out.close();
  });
}

export default fillMaskCommand;
