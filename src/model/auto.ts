// AutoConfig and AutoModel / AutoModelFor*: HF's and transformers.js's entry points, picking the class from the
// config's model_type and the task the Auto class names (fromPretrained, also spelled from_pretrained).
import { join } from 'node:path';
import { readJsonFile, resolveModelPath, type HubOptions } from '../io/index.js';
import { MODEL_CLASSES, type BertArchitecture, type BertPreTrainedModel, type PretrainedOptions } from './bert.js';
import { BertConfig, ConfigError, MODEL_TYPES } from './config.js';
import type { ModelType } from './config.js';
import { resolveModelFolder } from './checkpoint.js';
import { BertTokenizer } from '../tokenizer/tokenizer.js';

/** Options of the Auto classes: the model options, plus a hub revision when the model is a hub id. */
export interface AutoPretrainedOptions extends Omit<PretrainedOptions, 'initWeights'> {
  /** Branch, tag or commit when `model` is a hub id (default main). */
  revision?: HubOptions['revision'];
}

const AUTO_OPTIONS = ['config', 'kernels', 'seed', 'warn', 'revision', 'dtype', 'unpad'];

function checkOptions(where: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).find((k) => !known.includes(k));
  if (unknown !== undefined) {
    throw new TypeError(`${where}: unknown option "${unknown}"; known: ${known.join(', ')}`);
  }
}

/**
 * The model folder and its config's model_type, checked as transformers' AutoConfig does: a config without
 * model_type, or with one bert-ts does not implement, is refused (HF: "Unrecognized model in DIR").
 */
async function resolveBert(
  where: string,
  model: string,
  options: AutoPretrainedOptions,
  known: readonly string[],
): Promise<{ dir: string; modelType: ModelType }> {
  if (typeof model !== 'string' || model === '') {
    throw new TypeError(`${where}: expected a model folder or hub id ("org/name"), got ${JSON.stringify(model)}`);
  }
  checkOptions(where, options, known);
  const dir = resolveModelFolder(await resolveModelPath(model, { revision: options.revision }));
  const path = join(dir, 'config.json');
  const json = readJsonFile(path, 'model config');
  const modelType =
    json !== null && typeof json === 'object' ? (json as { model_type?: unknown }).model_type : undefined;
  if (modelType === undefined || modelType === null) {
    throw new ConfigError(
      path,
      `no "model_type", so the model class cannot be chosen (Unrecognized model); add "model_type": "bert" if this is a BERT checkpoint`,
    );
  }
  if (typeof modelType !== 'string' || !MODEL_TYPES.includes(modelType as ModelType)) {
    throw new ConfigError(
      path,
      `model_type ${JSON.stringify(modelType)} is not supported by bert-ts (supported: ${MODEL_TYPES.join(', ')})`,
    );
  }
  return { dir, modelType: modelType as ModelType };
}

/** The class an Auto class loads for each supported model_type. */
type ModelClass<T> = { fromPretrained(dir: string, options?: PretrainedOptions): Promise<T>; name: string };

interface AutoModelClass<T> {
  /**
   * Loads `model` (a folder written by save_pretrained, or a hub id) as this Auto class's model for the config's
   * model_type, as HF does: the class follows the Auto class, not config.json's `architectures`, so a checkpoint
   * with another head loads its encoder plus this class's head, a head missing from the checkpoint newly
   * initialised with a warning (and checkpoint tensors this class does not use reported).
   */
  fromPretrained(model: string, options?: AutoPretrainedOptions): Promise<T>;
  /** The same as fromPretrained, in HF's and transformers.js's spelling. */
  from_pretrained(model: string, options?: AutoPretrainedOptions): Promise<T>;
}

/**
 * The Auto class `name` loading `architecture` (a Bert class: the one head code, configured by the checkpoint's
 * model_type, so a roberta folder loads as RobertaFor...), or the class `byType` names for a model_type whose head of
 * this task is another class (AutoModelForPreTraining: ElectraForPreTraining).
 */
function autoModel<A extends BertArchitecture, B extends BertArchitecture = A>(
  name: string,
  architecture: A,
  byType: Partial<Record<ModelType, B>> = {},
): AutoModelClass<InstanceType<(typeof MODEL_CLASSES)[A | B]>> {
  type T = InstanceType<(typeof MODEL_CLASSES)[A | B]>;
  const fromPretrained = async (model: string, options: AutoPretrainedOptions = {}): Promise<T> => {
    const { dir, modelType } = await resolveBert(`${name}.fromPretrained`, model, options, AUTO_OPTIONS);
    const { revision: _revision, ...modelOptions } = options;
    const cls = MODEL_CLASSES[byType[modelType] ?? architecture] as unknown as ModelClass<T>;
    return cls.fromPretrained(dir, modelOptions);
  };
  return { fromPretrained, from_pretrained: fromPretrained };
}

/** transformers' AutoConfig: the config of a model folder or hub id (model_type bert, roberta, ...). */
export const AutoConfig = {
  async fromPretrained(model: string, options: Pick<AutoPretrainedOptions, 'revision'> = {}): Promise<BertConfig> {
    const { dir } = await resolveBert('AutoConfig.fromPretrained', model, options, ['revision']);
    const path = join(dir, 'config.json');
    return BertConfig.fromJson(readJsonFile(path, 'model config'), path);
  },
  from_pretrained(model: string, options: Pick<AutoPretrainedOptions, 'revision'> = {}): Promise<BertConfig> {
    return AutoConfig.fromPretrained(model, options);
  },
};

/**
 * transformers' AutoTokenizer: the tokenizer of a model folder or hub id (tokenizer.json, or vocab.txt +
 * tokenizer_config.json; WordPiece, BPE and Unigram alike). The tokenizer is callable as in transformers.js:
 * ```ts
 * const tokenizer = await AutoTokenizer.from_pretrained('../shared/fixtures/hf-tiny/tokenizer');
 * tokenizer('Hello world!', { return_tensor: false }); // { input_ids: [9, 1193, 164, 172, 12, 10], ... }
 * ```
 */
export const AutoTokenizer = {
  async fromPretrained(model: string, options: Pick<AutoPretrainedOptions, 'revision'> = {}): Promise<BertTokenizer> {
    if (typeof model !== 'string' || model === '') {
      throw new TypeError(
        `AutoTokenizer.fromPretrained: expected a folder or hub id ("org/name"), got ${JSON.stringify(model)}`,
      );
    }
    checkOptions('AutoTokenizer.fromPretrained', options, ['revision']);
    return BertTokenizer.fromPretrained(resolveModelFolder(await resolveModelPath(model, options)));
  },
  from_pretrained(model: string, options: Pick<AutoPretrainedOptions, 'revision'> = {}): Promise<BertTokenizer> {
    return AutoTokenizer.fromPretrained(model, options);
  },
};

/** The encoder without a head (last_hidden_state, pooler_output). */
export const AutoModel = autoModel('AutoModel', 'BertModel');
export const AutoModelForSequenceClassification = autoModel(
  'AutoModelForSequenceClassification',
  'BertForSequenceClassification',
);
export const AutoModelForTokenClassification = autoModel(
  'AutoModelForTokenClassification',
  'BertForTokenClassification',
);
export const AutoModelForQuestionAnswering = autoModel('AutoModelForQuestionAnswering', 'BertForQuestionAnswering');
export const AutoModelForMaskedLM = autoModel('AutoModelForMaskedLM', 'BertForMaskedLM');
export const AutoModelForMultipleChoice = autoModel('AutoModelForMultipleChoice', 'BertForMultipleChoice');
/** transformers' MODEL_FOR_PRETRAINING_MAPPING: BERT's MLM + NSP, ELECTRA's discriminator, MLM for the others. */
export const AutoModelForPreTraining = autoModel('AutoModelForPreTraining', 'BertForPreTraining', {
  electra: 'ElectraForPreTraining',
  roberta: 'BertForMaskedLM',
  'xlm-roberta': 'BertForMaskedLM',
  distilbert: 'BertForMaskedLM',
});
export const AutoModelForNextSentencePrediction = autoModel(
  'AutoModelForNextSentencePrediction',
  'BertForNextSentencePrediction',
);
