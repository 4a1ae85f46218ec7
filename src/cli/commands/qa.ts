// `bert qa`: extractive question answering over a context (long contexts in overlapping windows), as JSON lines.
import { readFileSync } from 'node:fs';
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import {
  COMMON_OPTIONS,
  batches,
  openOutput,
  pipelineOptions,
  readInputs,
  requireModel,
  type InputRecord,
} from '../inputs.js';

export const usage = `Usage: bert qa --model DIR --question TEXT (--context TEXT | --context-file FILE) [options]
       bert qa --model DIR --input FILE.jsonl      (lines {"question": "...", "context": "..."})

Finds the answer span in the context and writes one JSON line per question:
  {"question": "...", "score": 0.71, "start": 120, "end": 131, "answer": "..."}
start/end are character offsets into the context.

Options:
  --model DIR            question-answering model folder or hub id
  --top-k N              answers per question (default 1; with N > 1 "answers": [...])
  --max-answer-len N     longest answer in tokens (default 15)
  --max-seq-len N        window length in tokens (default min(384, the model's maximum))
  --doc-stride N         tokens shared by consecutive windows (default min(128, max-seq-len / 2))
  --impossible           allow an empty answer (SQuAD 2.0 models)
  --tokenizer DIR / --input FILE / --output FILE / --batch-size N / --backend NAME / --dtype NAME / --quiet   as in bert predict
  -h, --help             this text`;

export async function qaCommand(argv: string[]): Promise<number> {
  return runCommand('qa', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      question: { type: 'string' },
      context: { type: 'string' },
      'context-file': { type: 'string' },
      'top-k': { type: 'string' },
      'max-answer-len': { type: 'string' },
      'max-seq-len': { type: 'string' },
      'doc-stride': { type: 'string' },
      impossible: { type: 'boolean' },
    });
    const model = requireModel(values);
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument "${positionals[0]}": use --question and --context`);
    const options = pipelineOptions(values);
    const topK = intFlag(values, 'top-k', 1)!;
    const callOptions = {
      topK,
      maxAnswerLen: intFlag(values, 'max-answer-len', undefined),
      maxSeqLen: intFlag(values, 'max-seq-len', undefined, 8),
      docStride: intFlag(values, 'doc-stride', undefined),
      handleImpossibleAnswer: values.impossible === true,
    };
    let inputs: AsyncIterable<InputRecord>;
    if (typeof values.question === 'string') {
      const context =
        typeof values['context-file'] === 'string' ? readFileSync(values['context-file'], 'utf8') : values.context;
      if (typeof context !== 'string') throw new UsageError('--question needs --context TEXT or --context-file FILE');
      inputs = (async function* () {
        yield { question: values.question, context };
      })();
    } else {
      if (typeof values.input !== 'string')
        throw new UsageError('give --question with --context, or --input FILE.jsonl');
      inputs = readInputs(values, [], 'question');
    }
    const { pipeline } = await import('../../pipelines/pipeline.js');
    const qa = await pipeline('question-answering', model, options);
    const out = openOutput(values);
    for await (const batch of batches(inputs, options.batchSize ?? 16)) {
      const qaInputs = batch.map((r, i) => {
        if (typeof r.context !== 'string') throw new Error(`input ${i}: a question needs a string "context"`);
        return { question: r.question as string, context: r.context };
      });
      const results = await qa.predictEach(qaInputs, callOptions);
      for (const [i, record] of batch.entries()) {
        const { context: _context, ...rest } = record;
        const result = results[i];
        await out.write(Array.isArray(result) ? { ...rest, answers: result } : { ...rest, ...result });
      }
    }
    await out.close();
  });
}

export default qaCommand;
