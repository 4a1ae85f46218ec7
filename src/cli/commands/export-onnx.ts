// `bert export-onnx --model DIR --output DIR [--head auto|base|...]`: writes an ONNX folder for ORT / transformers.js.
import { exportOnnxFolder } from '../../export/folder.js';
import type { OnnxHead } from '../../export/onnx.js';
import { UsageError, parseFlags, runCommand } from '../command.js';

export const usage = `Usage: bert export-onnx --model DIR --output DIR [--tokenizer DIR] [--head auto|base|sequence-classification|token-classification|question-answering|masked-lm]

Writes DIR/onnx/model.onnx (opset 17; int64 inputs input_ids, attention_mask, token_type_ids with dynamic
batch_size and sequence_length), config.json and the tokenizer files, the layout transformers.js and
onnxruntime read. The head comes from config.json "architectures" unless --head is given; the tokenizer files
come from --tokenizer DIR (default: the model folder).`;

const HEADS = ['auto', 'base', 'sequence-classification', 'token-classification', 'question-answering', 'masked-lm'];

const OPTIONS = {
  model: { type: 'string' },
  output: { type: 'string' },
  head: { type: 'string' },
  tokenizer: { type: 'string' },
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
    const result = exportOnnxFolder(values.model, values.output, {
      head: head as OnnxHead | 'auto',
      tokenizerDir: values.tokenizer,
    });
    process.stdout.write(`${JSON.stringify({ onnx: result.onnxPath, bytes: result.bytes, files: result.files })}\n`);
  });
}

export default exportOnnxCommand;
