// `bert ner`: token classification (named entities) of texts, one JSON line of entities per text.
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { COMMON_OPTIONS, batches, openOutput, pipelineOptions, readInputs, requireModel } from '../inputs.js';
import type { AggregationStrategy } from '../../pipelines/aggregation.js';

export const usage = `Usage: bert ner --model DIR [options] [TEXT ...]

Tags tokens with a token-classification model and writes one JSON line per text:
  {"text": "...", "entities": [{"entity_group": "PER", "score", "word", "start", "end"}, ...]}
(with --aggregation none: {"entity": "B-PER", "score", "index", "word", "start", "end"} per word piece).
start/end are character offsets into the text. Texts come from the arguments, --input FILE.jsonl, or stdin lines.

Options:
  --model DIR            token-classification model folder or hub id
  --aggregation NAME     none | simple | first | average | max (default simple; HF's semantics)
  --ignore-labels A,B    labels left out (default O)
  --stride N             read long texts in overlapping windows sharing N word pieces (default: truncate)
  --tokenizer DIR / --input FILE / --output FILE / --batch-size N / --max-length N / --backend NAME / --dtype NAME / --quiet   as in bert predict
  -h, --help             this text`;

const STRATEGIES = ['none', 'simple', 'first', 'average', 'max'];

export async function nerCommand(argv: string[]): Promise<number> {
  return runCommand('ner', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      aggregation: { type: 'string' },
      'ignore-labels': { type: 'string' },
      stride: { type: 'string' },
    });
    const model = requireModel(values);
    const options = pipelineOptions(values);
    const aggregation = (values.aggregation as string | undefined) ?? 'simple';
    if (!STRATEGIES.includes(aggregation))
      throw new UsageError(`--aggregation must be one of ${STRATEGIES.join(', ')}, got "${aggregation}"`);
    const ignoreLabels =
      typeof values['ignore-labels'] === 'string' ? values['ignore-labels'].split(',').filter(Boolean) : undefined;
    const { pipeline } = await import('../../pipelines/pipeline.js');
    const ner = await pipeline('token-classification', model, options);
    const out = openOutput(values);
    for await (const batch of batches(readInputs(values, positionals), options.batchSize ?? 16)) {
      const results = await ner.predictEach(
        batch.map((r) => r.text as string),
        {
          aggregationStrategy: aggregation as AggregationStrategy,
          ignoreLabels,
          stride: intFlag(values, 'stride', undefined, 0),
        },
      );
      for (let i = 0; i < batch.length; i++) await out.write({ ...batch[i], entities: results[i] });
    }
    await out.close();
  });
}

export default nerCommand;
