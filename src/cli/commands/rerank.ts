// `bert rerank`: scores documents against a query with a cross-encoder and prints them best first (JSON lines).
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { COMMON_OPTIONS, openOutput, pipelineOptions, readInputs, requireModel } from '../inputs.js';

export const usage = `Usage: bert rerank --model DIR --query TEXT [options] [DOCUMENT ...]

Scores each document against the query with a cross-encoder (a sentence-transformers CrossEncoder folder, or any
one-label sequence-classification model) and writes one JSON line per document, best first:
  {"rank": 1, "corpus_id": 2, "score": 0.97, "text": "..."}
The score uses the folder's activation (sigmoid for one label unless the folder names another). Documents come from
the arguments, --input FILE.jsonl (each line a JSON string or an object with "text"; its other fields are copied to
the output), or stdin lines.

Options:
  --model DIR          cross-encoder folder or hub id
  --query TEXT         the query (required)
  --top-k N            print only the N best documents (default: all)
  --input FILE / --output FILE / --batch-size N / --backend NAME / --dtype NAME / --quiet   as in bert predict
  -h, --help           this text`;

export async function rerankCommand(argv: string[]): Promise<number> {
  return runCommand('rerank', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      query: { type: 'string' },
      'top-k': { type: 'string' },
    });
    const model = requireModel(values);
    const query = values.query as string | undefined;
    if (query === undefined || query === '') throw new UsageError('--query TEXT is required');
    if (values.tokenizer !== undefined) throw new UsageError('--tokenizer is not supported by rerank');
    if (values['max-length'] !== undefined)
      throw new UsageError('--max-length is not supported by rerank (the folder sets it)');
    const topK = intFlag(values, 'top-k', undefined);
    const options = pipelineOptions(values);
    const records = [];
    for await (const record of readInputs(values, positionals)) records.push(record);
    if (records.length === 0) throw new UsageError('no documents to rank');
    const { CrossEncoder } = await import('../../model/sentence/index.js');
    const encoder = await CrossEncoder.fromPretrained(model, {
      kernels: options.kernels,
      dtype: options.dtype,
      warn: options.warn,
    });
    const ranked = encoder.rank(
      query,
      records.map((r) => r.text as string),
      { topK, batchSize: options.batchSize },
    );
    const out = openOutput(values);
    for (const [i, r] of ranked.entries())
      await out.write({ ...records[r.corpusId], rank: i + 1, corpus_id: r.corpusId, score: r.score });
    await out.close();
  });
}

export default rerankCommand;
