// `bert predict`: text classification of texts from arguments, stdin lines or a JSONL file, written as JSON lines.
import { UsageError, intFlag, parseCommand, runCommand } from '../command.js';
import { COMMON_OPTIONS, batches, openOutput, pipelineOptions, readInputs, requireModel } from '../inputs.js';

export const usage = `Usage: bert predict --model DIR [options] [TEXT ...]

Runs the task the model was fine-tuned for (config.json "architectures") and writes one JSON line per text:
  text-classification:  {"text": "...", "label": "POSITIVE", "score": 0.98}  (--top-k N: "predictions": [...])
  token-classification: {"text": "...", "entities": [{"entity_group", "score", "word", "start", "end"}, ...]}
A model with another head (question answering, fill-mask) is refused: use bert qa / bert fill-mask.
Texts come from the arguments, else from --input FILE.jsonl (each line a JSON string or an object with "text"
and optionally "text_pair"; its other fields are copied to the output), else from stdin, one text per line.

Options:
  --model DIR          model folder (config.json, weights, tokenizer files) or hub id
  --tokenizer DIR      tokenizer folder when the model folder has no tokenizer files
  --task NAME          text-classification | token-classification (default: the model's; refused if its head
                       cannot do it)
  --input FILE         JSONL input file
  --output FILE        write JSON lines here instead of stdout
  --top-k N            labels per text (default 1; 0 = every label)
  --function NAME      softmax | sigmoid | none (default: from config.json problem_type)
  --batch-size N       texts per model call (default 16)
  --max-length N       truncate inputs to N tokens (default: the model's maximum)
  --backend NAME       auto | js | native | wasm (default: BERT_BACKEND or auto)
  --dtype NAME         fp32 | q8 | bf16: what the model's linear layers compute in (default fp32; q8 is dynamic
                       int8, bf16 needs AVX512-BF16 or AMX). Check a q8 model first: bert evaluate --dtype q8 --compare fp32
  --quiet              do not print model-loading warnings (weights newly initialised or unused)
  -h, --help           this text

Exit codes: 0 done, 1 a runtime error (message on stderr), 2 a usage error.`;

export async function predictCommand(argv: string[]): Promise<number> {
  return runCommand('predict', usage, argv, async () => {
    const { values, positionals } = parseCommand(argv, {
      ...COMMON_OPTIONS,
      'top-k': { type: 'string' },
      function: { type: 'string' },
      task: { type: 'string' },
    });
    const model = requireModel(values);
    const options = pipelineOptions(values);
    const topKOption = intFlag(values, 'top-k', 1, 0)!;
    const fn = values.function as string | undefined;
    if (fn !== undefined && !['softmax', 'sigmoid', 'none'].includes(fn))
      throw new UsageError(`--function must be softmax, sigmoid or none, got "${fn}"`);
    const { pipeline, modelTask, canonicalTask } = await import('../../pipelines/pipeline.js');
    const given = values.task as string | undefined;
    const task =
      given !== undefined ? canonicalTask(given) : ((await modelTask(model, options)) ?? 'text-classification');
    if (task !== 'text-classification' && task !== 'token-classification') {
      throw new UsageError(
        `${given ? '--task' : `${model} is a ${task} model:`} bert predict does text-classification and ` +
          `token-classification; use bert ${task === 'question-answering' ? 'qa' : task === 'fill-mask' ? 'fill-mask' : 'embed'}`,
      );
    }
    const out = openOutput(values);
    if (task === 'token-classification') {
      const ner = await pipeline(task, model, options);
      for await (const batch of batches(readInputs(values, positionals), options.batchSize ?? 16)) {
        const results = await ner.predictEach(
          batch.map((r) => r.text as string),
          { aggregationStrategy: 'simple' },
        );
        for (const [i, record] of batch.entries()) await out.write({ ...record, entities: results[i] });
      }
      return out.close();
    }
    const classify = await pipeline(task, model, options);
    const callOptions = {
      topK: topKOption === 0 ? null : topKOption,
      functionToApply: fn as 'softmax' | 'sigmoid' | 'none' | undefined,
    };
    for await (const batch of batches(readInputs(values, positionals), options.batchSize ?? 16)) {
      const inputs = batch.map((r) =>
        typeof r.text_pair === 'string' ? { text: r.text as string, text_pair: r.text_pair } : (r.text as string),
      );
      const results = await classify.predictEach(inputs, callOptions);
      for (const [i, record] of batch.entries()) {
        const labels = results[i] ?? [];
        const best = labels[0];
        await out.write(
          topKOption === 1 && best
            ? { ...record, label: best.label, score: best.score }
            : { ...record, predictions: labels },
        );
      }
    }
    await out.close();
  });
}

export default predictCommand;
