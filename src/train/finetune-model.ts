// A checkpoint under a new head for fine-tuning: fromPretrained with HF's ignore_mismatched_sizes, or (randomInit) only its config.
import { BertConfig, type ConfigJson } from '../model/config.js';
import { readConfig } from '../model/checkpoint.js';
import type { BertPreTrainedModel, ModelOptions, PretrainedModelClass } from '../model/bert.js';

/**
 * Builds `cls` from `dir` with config overrides (num_labels, id2label, ...) through the one loader, fromPretrained:
 * head tensors whose shape no longer fits (a 3-class classifier fine-tuned for 2 classes) are initialised afresh
 * and reported, as HF does with ignore_mismatched_sizes; any other mismatch is an error. `randomInit` takes only
 * the config (HF's from_config, seeded): the baseline a pre-trained start is compared with.
 */
export async function loadForFinetuning<T extends BertPreTrainedModel>(
  cls: PretrainedModelClass<T>,
  dir: string,
  overrides: ConfigJson,
  options: ModelOptions & { randomInit?: boolean } = {},
): Promise<T> {
  const { randomInit, ...modelOptions } = options;
  if (randomInit) {
    const config = BertConfig.fromJson(
      { ...readConfig(dir).toJson(), ...overrides },
      `${dir}/config.json (with fine-tuning overrides)`,
    );
    return new cls(config, { ...modelOptions, initWeights: true });
  }
  return cls.fromPretrained(dir, { ...modelOptions, config: overrides, ignoreMismatchedSizes: true });
}
