// `bert finetune`: parses the flags, calls the library's finetune() and prints its summary line.
import type { ProblemType } from '../../model/config.js';
import { finetune, type FinetuneTask } from '../../train/finetune.js';
import type { OptimizerName } from '../../train/optim.js';
import { parseFlags, runCommand, stringFlags } from '../command.js';
import { labelMapFromFlags } from '../inputs.js';
import { RUN_FLAGS, num, printRunResult, runOptionsFromFlags } from '../training-run.js';

export const usage = `Usage: bert finetune --model DIR --train FILE --output DIR [options]

Data
  --train FILE              .jsonl/.jsonl.gz, .csv/.tsv(.gz) or an aclImdb split folder (train/)
  --eval FILE               evaluation set (same formats), scored every --eval-steps and at the end
  --task T                  text-classification (default) | token-classification (JSONL tokens + ner_tags) |
                            question-answering (SQuAD v1.1/v2.0 JSON or JSONL) | multiple-choice (SWAG CSV/JSONL)
  --doc-stride N --max-answer-length N   question answering windows' shared tokens (128), longest answer (30)
  --train-samples N         seeded random subset of N training examples (shuffle, then take N)
  --eval-samples N          seeded random subset of the evaluation set
  --text-column C --text-pair-column C --label-column C
  --labels a,b,c            label names in id order (sets id2label / label2id of the output model); default:
                            the model's named labels, else the sorted string labels of --train, else 0..max
  --label2id JSON           e.g. '{"negative":0,"positive":1}'
  --num-labels N            classes of integer labels (a label outside [0, N) is an error)
  --problem-type P          single_label_classification | multi_label_classification | regression
  --max-length N            tokens per example incl. [CLS]/[SEP] (default 128; question answering 384)
Training
  --epochs N (3)  --batch-size N (8)  --grad-accum N (1)  --lr X (5e-5)
  --optimizer adamw|adam|bert-adam (adamw)  --adam-eps X (1e-8)  --adam-beta1 X (0.9)  --adam-beta2 X (0.999)
  --weight-decay X (0)  --schedule constant|linear|cosine (linear)  --warmup-ratio X (0)  --warmup-steps N
  --max-grad-norm X (1.0, 0 = off)  --seed N (42)  --length-bucketing
  --eval-steps N  --save-steps N  --early-stopping N (evaluations without improvement)  --metric NAME
  --eval-batch-size N (32)  --backend auto|js|native|wasm
Output
  --output DIR              HF model folder (config.json with id2label, model.safetensors, tokenizer files),
                            checkpoints/, training_curve.svg, eval_results.json; with --eval the saved weights
                            are the best evaluated ones (--metric, default accuracy / f1 for tokens and QA)
  --resume                  continue from DIR/checkpoints (same flags)
  --tokenizer DIR           tokenizer folder when the model folder has none
  --random-init             take only config.json (and the tokenizer) from --model and start from HF's random
                            initialisation (seeded by --seed): the no-pre-training baseline
  --log FILE                JSON lines log of every step and evaluation (default DIR/train_log.jsonl); stderr shows
                            a progress bar on a terminal, throttled JSON lines otherwise
  --no-summary              do not print the summary JSON line on stdout (it is always in DIR/eval_results.json)`;

const OPTIONS = {
  ...RUN_FLAGS,
  ...stringFlags(
    'task eval-samples text-column text-pair-column label-column labels label2id num-labels problem-type grad-accum',
    'optimizer adam-eps adam-beta1 adam-beta2 early-stopping tokenizer doc-stride max-answer-length',
  ),
  'length-bucketing': { type: 'boolean' },
  'random-init': { type: 'boolean' },
} as const;

export function finetuneCommand(argv: string[]): Promise<number> {
  return runCommand('finetune', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    const result = await finetune({
      ...runOptionsFromFlags(v),
      task: v.task as FinetuneTask | undefined,
      evalSamples: num(v['eval-samples'], '--eval-samples', 'int'),
      textColumn: v['text-column'],
      textPairColumn: v['text-pair-column'],
      labelColumn: v['label-column'],
      label2id: labelMapFromFlags(v.labels, v.label2id),
      numLabels: num(v['num-labels'], '--num-labels', 'int'),
      problemType: v['problem-type'] as ProblemType | undefined,
      docStride: num(v['doc-stride'], '--doc-stride', 'int'),
      maxAnswerLength: num(v['max-answer-length'], '--max-answer-length', 'int'),
      gradAccum: num(v['grad-accum'], '--grad-accum', 'int'),
      optimizer: v.optimizer as OptimizerName | undefined,
      adamEps: num(v['adam-eps'], '--adam-eps'),
      adamBeta1: num(v['adam-beta1'], '--adam-beta1'),
      adamBeta2: num(v['adam-beta2'], '--adam-beta2'),
      lengthBucketing: v['length-bucketing'],
      earlyStopping: num(v['early-stopping'], '--early-stopping', 'int'),
      tokenizer: v.tokenizer,
      randomInit: v['random-init'],
    });
    printRunResult('finetune', result, v['no-summary'] !== true);
  });
}

export default finetuneCommand;
