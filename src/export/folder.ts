// Writes an ONNX model folder in the layout transformers.js reads: onnx/model.onnx, config.json, tokenizer files.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyTokenizerFiles, readJsonFile, writeFileAtomic } from '../io/index.js';
import { readWeights } from '../model/checkpoint.js';
import { BertConfig } from '../model/config.js';
import { Q8_SCALE_SUFFIX, dequantizeWeight } from '../model/linear-dtype.js';
import type { TensorEntry } from '../io/index.js';
import { saveBertTokenizerFiles } from '../tokenizer/trainer-files.js';
import { exportBertOnnx, exportedConfig, OnnxExportError, resolveOnnxHead } from './onnx.js';
import type { NamedTensor, OnnxExportOptions, OnnxHead } from './onnx.js';

/**
 * The float parameters of a checkpoint as NamedTensors (F16/BF16 arrive upcast to float32 by the readers); a q8
 * folder's int8 weight (I8 `<name>` + F32 `<name>_scale`) as its dequantized values with the int8 rows attached.
 */
export function floatTensors(tensors: Map<string, TensorEntry>): NamedTensor[] {
  const out: NamedTensor[] = [];
  for (const [name, e] of tensors) {
    const scales = tensors.get(name + Q8_SCALE_SUFFIX)?.data;
    if (e.data instanceof Int8Array && scales instanceof Float32Array && e.shape.length === 2) {
      const [n, k] = e.shape as [number, number];
      const q8 = { data: e.data, scales };
      out.push({ name, shape: e.shape, data: dequantizeWeight(q8, n, k), q8 });
    } else if (
      e.data instanceof Float32Array &&
      !(name.endsWith(Q8_SCALE_SUFFIX) && tensors.get(name.slice(0, -Q8_SCALE_SUFFIX.length))?.dtype === 'I8')
    )
      out.push({ name, shape: e.shape, data: e.data });
  }
  return out;
}

export interface ExportFolderResult {
  onnxPath: string;
  /** onnx/model_quantized.onnx, written with dtype 'q8'. */
  quantizedPath?: string;
  /** The head written (and named in the exported config.json's architectures). */
  head: OnnxHead;
  bytes: number;
  files: string[];
}

export interface ExportFolderOptions extends OnnxExportOptions {
  /** Where the tokenizer files are (default: the model folder). */
  tokenizerDir?: string;
}

/** Exports the HF-format model folder `modelDir` to `outputDir` (onnx/model.onnx + config.json + tokenizer files). */
export function exportOnnxFolder(
  modelDir: string,
  outputDir: string,
  options: ExportFolderOptions = {},
): ExportFolderResult {
  const tokDir = options.tokenizerDir ?? modelDir;
  if (
    options.tokenizerDir !== undefined &&
    !existsSync(join(tokDir, 'vocab.txt')) &&
    !existsSync(join(tokDir, 'tokenizer.json'))
  ) {
    throw new OnnxExportError(`${tokDir}: no vocab.txt or tokenizer.json (--tokenizer must be a tokenizer folder)`);
  }
  const configPath = join(modelDir, 'config.json');
  if (!existsSync(configPath))
    throw new OnnxExportError(`${modelDir}: config.json not found (is this a model folder?)`);
  const config = readJsonFile(configPath, 'config.json');
  if (!config || typeof config !== 'object' || Array.isArray(config))
    throw new OnnxExportError(`${configPath}: expected a JSON object`);
  const head = resolveOnnxHead(config as Record<string, unknown>, options);
  const parameters = floatTensors(readWeights(modelDir).tensors);
  const json = config as Record<string, unknown>;
  const bytes = exportBertOnnx(json, parameters, { ...options, head, dtype: 'fp32' });
  mkdirSync(join(outputDir, 'onnx'), { recursive: true });
  const onnxPath = join(outputDir, 'onnx', 'model.onnx');
  writeFileAtomic(onnxPath, bytes);
  const files = [onnxPath];
  // transformers.js's layout: dtype 'q8' reads onnx/model_quantized.onnx next to the fp32 model.
  let quantizedPath: string | undefined;
  if (options.dtype === 'q8') {
    quantizedPath = join(outputDir, 'onnx', 'model_quantized.onnx');
    writeFileAtomic(quantizedPath, exportBertOnnx(json, parameters, { ...options, head, dtype: 'q8' }));
    files.push(quantizedPath);
  }
  writeFileAtomic(
    join(outputDir, 'config.json'),
    `${JSON.stringify(exportedConfig(config as Record<string, unknown>, head), null, 2)}\n`,
  );
  files.push(join(outputDir, 'config.json'));
  for (const f of copyTokenizerFiles(tokDir, outputDir)) files.push(join(outputDir, f));
  capModelMaxLength(outputDir, BertConfig.fromJson(config as Record<string, unknown>).maxSequenceLength);
  // transformers.js reads tokenizer.json only: derive it from vocab.txt when the model folder lacks it.
  if (!existsSync(join(tokDir, 'tokenizer.json')) && existsSync(join(tokDir, 'vocab.txt'))) {
    const vocab = readFileSync(join(tokDir, 'vocab.txt'), 'utf8').split('\n');
    if (vocab[vocab.length - 1] === '') vocab.pop();
    const tc = existsSync(join(tokDir, 'tokenizer_config.json'))
      ? (readJsonFile(join(tokDir, 'tokenizer_config.json'), 'tokenizer_config.json') as Record<string, unknown>)
      : {};
    const lowercase = typeof tc.do_lower_case === 'boolean' ? tc.do_lower_case : true;
    for (const f of saveBertTokenizerFiles(outputDir, vocab, { lowercase })) if (!files.includes(f)) files.push(f);
  }
  return { onnxPath, ...(quantizedPath ? { quantizedPath } : {}), head, bytes: bytes.length, files };
}

/**
 * Gives the copied tokenizer_config.json a model_max_length when it has none: transformers.js truncates at it only,
 * so without it a text longer than the position embeddings fails inside the ONNX graph (HF's own tokenizers then use
 * a huge number too; bert-ts caps at the model's positions itself).
 */
function capModelMaxLength(outputDir: string, maxLength: number): void {
  const path = join(outputDir, 'tokenizer_config.json');
  if (!existsSync(path)) return;
  const tc = readJsonFile(path, 'tokenizer_config.json');
  if (!tc || typeof tc !== 'object' || Array.isArray(tc) || 'model_max_length' in tc) return;
  writeFileAtomic(path, `${JSON.stringify({ ...tc, model_max_length: maxLength }, null, 2)}\n`);
}
