// `bert embed`: sentence embeddings (a sentence-transformers folder's own modules, else mean or [CLS] pooling of the
// last hidden state), one JSON line per text.
import { UsageError, parseCommand, runCommand } from '../command.js';
import { COMMON_OPTIONS, batches, openOutput, pipelineOptions, readInputs, requireModel } from '../inputs.js';
import { getDistributed, shardedBatches } from '../../train/distributed.js';

export const usage = `Usage: bert embed --model DIR [options] [TEXT ...]

Writes one JSON line per text: {"text": "...", "embedding": [0.12, -0.03, ...]} (hidden_size numbers; with
--pooling none, one vector per token). Texts come from the arguments, --input FILE.jsonl, or stdin lines.

Options:
  --model DIR          any BERT folder (heads are ignored) or hub id
  --pooling NAME       mean | cls | none | model. Default: model for a sentence-transformers folder (its modules.json:
                       pooling, Dense, Normalize and max length, as sentence-transformers' encode), else mean (the
                       average over real tokens, [CLS]/[SEP] included)
  --no-normalize       keep raw vectors (default: L2-normalised, so dot product = cosine similarity; with model
                       pooling the folder's own Normalize module decides)
  --tokenizer DIR / --input FILE / --output FILE / --batch-size N / --max-length N / --backend NAME / --dtype NAME / --quiet   as in bert predict
  -h, --help           this text

Under mpirun the ranks embed interleaved batches of --input FILE and rank 0 writes every line in input order.`;

export async function embedCommand(argv: string[]): Promise<number> {
  return runCommand('embed', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      pooling: { type: 'string' },
      'no-normalize': { type: 'boolean' },
    });
    const model = requireModel(values);
    const options = pipelineOptions(values);
    const chosen = values.pooling as string | undefined;
    if (chosen !== undefined && !['mean', 'cls', 'none', 'model'].includes(chosen))
      throw new UsageError(`--pooling must be mean, cls, none or model, got "${chosen}"`);
    const { pipeline } = await import('../../pipelines/pipeline.js');
    const { isSentenceTransformersFolder } = await import('../../model/sentence/index.js');
    const embed = await pipeline('feature-extraction', model, options);
    const pooling = chosen ?? (isSentenceTransformersFolder(embed.model) ? 'model' : 'mean');
    const dist = getDistributed();
    if (dist.size > 1 && positionals.length === 0 && values.input === undefined)
      throw new UsageError('under mpirun, give --input FILE.jsonl (mpirun passes stdin to rank 0 only)');
    const out = dist.rank === 0 ? openOutput(values) : null;
    const run = (batch: { text?: unknown }[]) =>
      embed.predictEach(
        batch.map((r) => r.text as string),
        {
          pooling: pooling as 'mean' | 'cls' | 'none' | 'model',
          normalize: pooling !== 'model' && values['no-normalize'] !== true,
        },
      );
    const input = batches(readInputs(values, positionals), options.batchSize ?? 16);
    for await (const { batch, results } of shardedBatches(input, run, dist))
      for (let i = 0; i < batch.length; i++) await out?.write({ ...batch[i], embedding: results[i] });
    await out?.close();
  });
}

export default embedCommand;
