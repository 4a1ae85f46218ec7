// `bert export-onnx --model DIR --output DIR [--head auto|base|...]`: writes an ONNX folder for ORT / transformers.js.
import { parseArgs } from 'node:util';
import { exportOnnxFolder } from '../../export/folder.js';
import { ONNX_TASKS, type OnnxHead } from '../../export/onnx.js';

export const usage = `Usage: bert export-onnx --model DIR --output DIR [--tokenizer DIR] [--task NAME] [--head auto|base|sequence-classification|token-classification|question-answering|masked-lm]

Writes DIR/onnx/model.onnx (opset 17; int64 inputs input_ids, attention_mask, token_type_ids with dynamic
batch_size and sequence_length), config.json and the tokenizer files, the layout transformers.js and
onnxruntime read. The head comes from --task (feature-extraction: the base model; text-classification,
token-classification, question-answering, fill-mask), else --head, else config.json "architectures"
(BertForPreTraining exports the base model: use --task fill-mask for its MLM graph). The written config.json
names the exported class in "architectures" and float32 as its dtype. The tokenizer files come from
--tokenizer DIR (default: the model folder).`;

const HEADS = ['auto', 'base', 'sequence-classification', 'token-classification', 'question-answering', 'masked-lm'];

/** Runs the command; returns the process exit code (2 for usage errors). */
export async function exportOnnxCommand(argv: string[]): Promise<number> {
  let values: { model?: string; output?: string; head?: string; task?: string; tokenizer?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        output: { type: 'string' },
        head: { type: 'string' },
        task: { type: 'string' },
        tokenizer: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`bert export-onnx: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (!values.model || !values.output) {
    process.stderr.write(`bert export-onnx: --model and --output are required\n${usage}\n`);
    return 2;
  }
  const head = values.head ?? 'auto';
  if (!HEADS.includes(head)) {
    process.stderr.write(`bert export-onnx: --head ${head} is not one of ${HEADS.join(', ')}\n`);
    return 2;
  }
  if (values.task !== undefined && !ONNX_TASKS.includes(values.task)) {
    process.stderr.write(`bert export-onnx: --task ${values.task} is not one of ${ONNX_TASKS.join(', ')}\n`);
    return 2;
  }
  try {
    const result = exportOnnxFolder(values.model, values.output, {
      head: head as OnnxHead | 'auto',
      task: values.task,
      tokenizerDir: values.tokenizer,
    });
    process.stdout.write(
      `${JSON.stringify({ onnx: result.onnxPath, head: result.head, bytes: result.bytes, files: result.files })}\n`,
    );
    return 0;
  } catch (err) {
    // Bad model folders (missing files, unsupported architecture or activation) are messages, not stack traces.
    process.stderr.write(`bert export-onnx: ${(err as Error).message}\n`);
    return 1;
  }
}

export default exportOnnxCommand;
