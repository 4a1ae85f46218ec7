// Writes sentence-transformers folders as sentence-transformers >= 5.4 saves them (modules.json, module configs,
// config_sentence_transformers.json), for SentenceTransformer.save and CrossEncoder.save.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyTokenizerFiles, writeFileAtomic, writeSafetensors, type WritableTensor } from '../../io/index.js';
import type { SentenceModuleSpec } from './folder.js';

/** The model whose config.json + model.safetensors go at the top of the folder. */
interface SavableModel {
  save(dir: string): Promise<void>;
}

interface DenseWeights {
  path: string;
  weight: { shape: number[]; data: Float32Array };
  bias: { shape: number[]; data: Float32Array } | null;
}

const VERSION = { sentence_transformers: '6.0.1', transformers: '5.18.0', pytorch: '2.13.0+cpu' };

// The class paths sentence-transformers 6 writes in modules.json.
const MODULE_TYPES: Record<SentenceModuleSpec['kind'], string> = {
  transformer: 'sentence_transformers.base.modules.transformer.Transformer',
  pooling: 'sentence_transformers.sentence_transformer.modules.pooling.Pooling',
  dense: 'sentence_transformers.base.modules.dense.Dense',
  normalize: 'sentence_transformers.base.modules.normalize.Normalize',
};

// Dense activations back to the torch class path sentence-transformers records.
const TORCH_ACTIVATION: Record<string, string> = {
  tanh: 'torch.nn.modules.activation.Tanh',
  identity: 'torch.nn.modules.linear.Identity',
  relu: 'torch.nn.modules.activation.ReLU',
  gelu: 'torch.nn.modules.activation.GELU',
  silu: 'torch.nn.modules.activation.SiLU',
  sigmoid: 'torch.nn.modules.activation.Sigmoid',
};

const writeJson = (path: string, value: unknown): void => writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');

/** sentence_bert_config.json of the Transformer module (the >= 5.4 keys, plus the max length both layouts read). */
function transformerConfig(
  task: 'feature-extraction' | 'sequence-classification',
  maxSeqLength: number,
  doLowerCase: boolean,
): Record<string, unknown> {
  const output = task === 'feature-extraction' ? 'last_hidden_state' : 'logits';
  return {
    transformer_task: task,
    modality_config: { text: { method: 'forward', method_output_name: output } },
    module_output_name: task === 'feature-extraction' ? 'token_embeddings' : 'scores',
    max_seq_length: maxSeqLength,
    ...(doLowerCase ? { do_lower_case: true } : {}),
  };
}

/** The transformer at the top of `dir`: its config and weights, the tokenizer files (unless saving in place). */
async function writeTransformer(dir: string, model: SavableModel, tokenizerDir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(dir);
  if (resolve(tokenizerDir) !== resolve(dir)) copyTokenizerFiles(tokenizerDir, dir);
}

export interface SentenceFolderContents {
  bert: SavableModel;
  tokenizerDir: string;
  /** Transformer first; module folders are renamed `<index>_<Kind>` as sentence-transformers names them. */
  modules: readonly SentenceModuleSpec[];
  dense: readonly DenseWeights[];
  settings: { prompts: Record<string, string>; defaultPromptName: string | null; similarityFnName: string };
}

export async function writeSentenceTransformerFolder(dir: string, c: SentenceFolderContents): Promise<void> {
  await writeTransformer(dir, c.bert, c.tokenizerDir);
  const list: Record<string, unknown>[] = [];
  c.modules.forEach((m, idx) => {
    const name = { transformer: 'Transformer', pooling: 'Pooling', dense: 'Dense', normalize: 'Normalize' }[m.kind];
    const path = m.kind === 'transformer' ? '' : `${idx}_${name}`;
    list.push({ idx, name: String(idx), path, type: MODULE_TYPES[m.kind] });
    const moduleDir = join(dir, path);
    mkdirSync(moduleDir, { recursive: true });
    if (m.kind === 'transformer') {
      writeJson(
        join(dir, 'sentence_bert_config.json'),
        transformerConfig('feature-extraction', m.maxSeqLength ?? 512, m.doLowerCase),
      );
    } else if (m.kind === 'pooling') {
      writeJson(join(moduleDir, 'config.json'), {
        embedding_dimension: m.embeddingDimension,
        pooling_mode: m.modes.length === 1 ? m.modes[0] : m.modes,
        include_prompt: m.includePrompt,
      });
    } else if (m.kind === 'dense') {
      writeJson(join(moduleDir, 'config.json'), {
        in_features: m.inFeatures,
        out_features: m.outFeatures,
        bias: m.bias,
        activation_function: TORCH_ACTIVATION[m.activation],
        module_input_name: 'sentence_embedding',
        module_output_name: 'sentence_embedding',
      });
      const w = c.dense.find((d) => d.path === m.path);
      if (!w) throw new Error(`save: no weights for Dense module "${m.path}"`);
      const tensors = new Map<string, WritableTensor>([['linear.weight', { dtype: 'F32', ...w.weight }]]);
      if (w.bias) tensors.set('linear.bias', { dtype: 'F32', ...w.bias });
      writeSafetensors(join(moduleDir, 'model.safetensors'), tensors, { format: 'pt' });
    } else {
      writeJson(join(moduleDir, 'config.json'), {
        module_input_name: 'sentence_embedding',
        module_output_name: 'sentence_embedding',
      });
    }
  });
  writeJson(join(dir, 'modules.json'), list);
  writeJson(join(dir, 'config_sentence_transformers.json'), {
    __version__: VERSION,
    default_prompt_name: c.settings.defaultPromptName,
    model_type: 'SentenceTransformer',
    prompts: c.settings.prompts,
    similarity_fn_name: c.settings.similarityFnName,
  });
}

/** A cross-encoder folder as sentence-transformers 6 writes it (the transformer at the top, scores as output). */
export async function writeCrossEncoderFolder(
  dir: string,
  c: { model: SavableModel; tokenizerDir: string; maxLength: number; activationFn: string },
): Promise<void> {
  await writeTransformer(dir, c.model, c.tokenizerDir);
  writeJson(join(dir, 'sentence_bert_config.json'), transformerConfig('sequence-classification', c.maxLength, false));
  writeJson(join(dir, 'modules.json'), [{ name: '0', path: '', type: MODULE_TYPES.transformer }]);
  writeJson(join(dir, 'config_sentence_transformers.json'), {
    __version__: VERSION,
    activation_fn: c.activationFn,
    default_prompt_name: null,
    model_type: 'CrossEncoder',
    prompts: {},
  });
}
