// `bert train-embeddings`: parses the flags, calls the library's trainEmbeddings() and prints its summary line.
import { trainEmbeddings } from '../../train/train-embeddings.js';
import type { EmbeddingLossName } from '../../train/sentence-adapter.js';
import { UsageError, parseFlags, runCommand, stringFlags } from '../command.js';
import { RUN_FLAGS, RUN_USAGE, num, printRunResult, runOptionsFromFlags } from '../training-run.js';

export const usage = `Usage: bert train-embeddings --model DIR --train FILE --output DIR [options]

Trains a sentence-embedding model and saves it as sentence-transformers saves it (it loads there unchanged).

Model and data
  --model DIR               a sentence-transformers folder, or a plain BERT folder (mean pooling is added)
  --train FILE              .jsonl / .csv / .tsv (optionally .gz) with columns anchor, positive[, negative...]
                            (MNRL) or sentence1, sentence2, score (CoSENT)
  --eval FILE               same columns: pairs are scored as retrieval (cosine nDCG@10, MRR@10, recall@k),
                            scored pairs as similarity (Spearman of cosine); before training and each epoch
  --text-columns a,b,c      the text columns in order   --score-column C
Loss
  --loss NAME               mnrl (default) | cached-mnrl | cosent
  --scale X                 similarity scale of MNRL / CoSENT (default 20)
  --matryoshka-dims a,b,c   wrap the loss in MatryoshkaLoss over these dimensions
  --matryoshka-weights a,b,c
  --mini-batch-size N       texts per forward of cached-mnrl (default 32)
${RUN_USAGE}`;

const OPTIONS = {
  ...RUN_FLAGS,
  ...stringFlags('text-columns score-column loss scale matryoshka-dims matryoshka-weights mini-batch-size'),
} as const;

function numberList(value: string | undefined, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isFinite(x))) throw new UsageError(`${flag} must be numbers separated by commas`);
  return xs;
}

export function trainEmbeddingsCommand(argv: string[]): Promise<number> {
  return runCommand('train-embeddings', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    const result = await trainEmbeddings({
      ...runOptionsFromFlags(v),
      loss: v.loss as EmbeddingLossName | undefined,
      textColumns: v['text-columns']?.split(',').map((s) => s.trim()),
      scoreColumn: v['score-column'],
      scale: num(v.scale, '--scale'),
      matryoshkaDims: numberList(v['matryoshka-dims'], '--matryoshka-dims'),
      matryoshkaWeights: numberList(v['matryoshka-weights'], '--matryoshka-weights'),
      miniBatchSize: num(v['mini-batch-size'], '--mini-batch-size', 'int'),
    });
    printRunResult('train-embeddings', result, v['no-summary'] !== true);
  });
}

export default trainEmbeddingsCommand;
