// `bert export-onnx --model DIR --output DIR [--head auto|base|...]`: writes an ONNX folder for ORT / transformers.js.
import { exportOnnxFolder } from '../../export/folder.js';
import { ONNX_TASKS, type OnnxHead } from '../../export/onnx.js';
import { UsageError, parseFlags, runCommand } from '../command.js';

export const usage = `Usage: bert export-onnx --model DIR --output DIR [--tokenizer DIR] [--task NAME] [--head auto|base|sequence-classification|token-classification|question-answering|masked-lm|multiple-choice] [--dtype fp32|q8]

Writes DIR/onnx/model.onnx (opset 17; int64 inputs input_ids, attention_mask and, for BERT and ELECTRA,
token_type_ids, with dynamic batch_size and sequence_length), config.json and the tokenizer files, the layout
transformers.js and onnxruntime read. BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA and ModernBERT export. The head
comes from --task (feature-extraction: the base model; text-classification, token-classification,
question-answering, fill-mask, multiple-choice), else --head, else config.json "architectures" (a *ForPreTraining checkpoint
exports the base model: use --task fill-mask for BERT's MLM graph). The written config.json names the exported
class in "architectures" and float32 as its dtype. The tokenizer files come from
--tokenizer DIR (default: the model folder). --dtype q8 also writes DIR/onnx/model_quantized.onnx (what
transformers.js loads with dtype 'q8'): the encoder's linear layers as ONNX Runtime's dynamic quantization writes
them (int8 weights per output channel, the same bert-ts q8 computes with; activations quantized per call).
A multiple-choice graph takes [batch_size, num_choices, sequence_length] inputs and gives logits [batch_size,
num_choices], as optimum's (transformers.js has no multiple-choice class; onnxruntime runs it).`;

const HEADS = [
  'auto',
  'base',
  'sequence-classification',
  'token-classification',
  'question-answering',
  'masked-lm',
  'multiple-choice',
];

const OPTIONS = {
  model: { type: 'string' },
  output: { type: 'string' },
  head: { type: 'string' },
  task: { type: 'string' },
  tokenizer: { type: 'string' },
  dtype: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs the command; returns the process exit code (2 for usage errors). */
export function exportOnnxCommand(argv: string[]): Promise<number> {
  return runCommand('export-onnx', usage, argv, () => {
    const values = parseFlags(argv, OPTIONS, usage);
    if (!values) return;
    if (!values.model || !values.output) throw new UsageError('--model and --output are required');
    const head = values.head ?? 'auto';
    if (!HEADS.includes(head)) throw new UsageError(`--head ${head} is not one of ${HEADS.join(', ')}`);
    if (values.task !== undefined && !ONNX_TASKS.includes(values.task))
      throw new UsageError(`--task ${values.task} is not one of ${ONNX_TASKS.join(', ')}`);
    if (values.dtype !== undefined && values.dtype !== 'fp32' && values.dtype !== 'q8')
      throw new UsageError(`--dtype ${values.dtype} is not one of fp32, q8`);
    const result = exportOnnxFolder(values.model, values.output, {
      dtype: values.dtype,
      head: head as OnnxHead | 'auto',
      task: values.task,
      tokenizerDir: values.tokenizer,
    });
    const summary = {
      onnx: result.onnxPath,
      quantized: result.quantizedPath,
      head: result.head,
      bytes: result.bytes,
      files: result.files,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}

export default exportOnnxCommand;
