// `bert quantize --model DIR --output DIR [--data FILE]`: saves a q8 folder; with --data, the quantization report.
import { getKernels } from '../../native/index.js';
import { quantizeFolder } from '../../model/quantize-folder.js';
import { compareDtypes, formatDtypeComparison } from '../../train/compare-dtypes.js';
import { backendFlag, dtypeFlag, progressPrinter } from '../inputs.js';
import { UsageError, parseFlags, runCommand } from '../command.js';
import { EVAL_DATA_FLAGS, evalDataOptions } from '../training-run.js';

export const usage = `Usage: bert quantize --model DIR --output DIR [--dtype q8] [--data FILE] [--json]

Writes a quantized copy of a model folder: the encoder's linear layers as int8 weights with one float32 scale per
output channel (safetensors I8 "<name>" + F32 "<name>_scale", config.json "quantization_config"), the rest float32,
and the tokenizer files. fromPretrained, pipelines and bert serve load it in q8 without float32 copies of those
weights (--dtype fp32 reads it dequantized); it cannot be trained.

  --model DIR         the float32 model folder
  --output DIR        where the quantized folder goes (not the model folder)
  --dtype q8          the stored dtype (q8, the default, is the only one)
  --data FILE         labelled data (as bert evaluate): prints the quantization report of the written folder against
                      the original in fp32: top-1 agreement, the metric of each and its change, the largest logit
                      difference (text and token classification models)
  --task T --max-length N --batch-size N --samples N --seed N --text-column C --text-pair-column C
  --label-column C --tokenizer DIR --backend auto|js|native|wasm   as in bert evaluate
  --json              print the summary (and the report) as one JSON line`;

const OPTIONS = {
  model: { type: 'string' },
  output: { type: 'string' },
  dtype: { type: 'string' },
  ...EVAL_DATA_FLAGS,
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function quantizeCommand(argv: string[]): Promise<number> {
  return runCommand('quantize', usage, argv, async () => {
    const v = parseFlags(argv, OPTIONS, usage);
    if (!v) return;
    if (!v.model || !v.output) throw new UsageError('--model and --output are required');
    const dtype = dtypeFlag(v.dtype) ?? 'q8';
    if (dtype !== 'q8') throw new UsageError(`--dtype ${dtype}: q8 is the only quantized storage`);
    const kernels = getKernels({ backend: backendFlag(v.backend) });
    const warn = (m: string): void => void process.stderr.write(`${m}\n`);
    const summary = await quantizeFolder(v.model, v.output, { dtype, kernels, warn });
    if (!v.json)
      process.stdout.write(
        `wrote ${summary.output}: ${summary.architecture}, ${summary.int8Tensors} int8 weights, ` +
          `model.safetensors ${(summary.bytesBefore / 1e6).toFixed(1)} MB -> ${(summary.bytesAfter / 1e6).toFixed(1)} MB\n`,
      );
    if (v.data === undefined) {
      if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      return;
    }
    const report = await compareDtypes({
      model: v.output,
      baselineModel: v.model,
      data: v.data,
      dtype,
      baseline: 'fp32',
      ...evalDataOptions(v),
      kernels,
      onProgress: progressPrinter(),
      warn,
    });
    process.stdout.write(`${v.json ? JSON.stringify({ ...summary, report }) : formatDtypeComparison(report)}\n`);
  });
}

export default quantizeCommand;
