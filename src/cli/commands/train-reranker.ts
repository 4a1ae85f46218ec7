// `bert train-reranker`: parses the flags, calls the library's trainReranker() and prints its summary line.
import { trainReranker } from '../../train/train-reranker.js';
import { parseFlags, runCommand, stringFlags } from '../command.js';
import { RUN_FLAGS, RUN_USAGE, printRunResult, runOptionsFromFlags } from '../training-run.js';

export const usage = `Usage: bert train-reranker --model DIR --train FILE --output DIR [options]

Trains a cross-encoder (reranker) with binary cross-entropy on labelled (query, passage) pairs and saves it as
sentence-transformers' CrossEncoder saves it.

Model and data
  --model DIR               a cross-encoder folder, or a plain BERT folder (a new one-logit classifier is added)
  --train FILE              .jsonl / .csv / .tsv (optionally .gz) with columns query, passage (or document),
                            label (0/1 or a relevance in [0, 1])
  --eval FILE               same columns, grouped by query (label > 0.5 relevant): MAP, MRR@10, nDCG@10 of the
                            reranked passages, before training and each epoch
  --query-column C  --passage-column C  --label-column C
${RUN_USAGE}`;

const OPTIONS = { ...RUN_FLAGS, ...stringFlags('query-column passage-column label-column') } as const;

export function trainRerankerCommand(argv: string[]): Promise<number> {
  return runCommand('train-reranker', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    const result = await trainReranker({
      ...runOptionsFromFlags(v),
      queryColumn: v['query-column'],
      passageColumn: v['passage-column'],
      labelColumn: v['label-column'],
    });
    printRunResult('train-reranker', result, v['no-summary'] !== true);
  });
}

export default trainRerankerCommand;
