// Loading a checkpoint for fine-tuning under a new head: HF's from_pretrained(..., ignore_mismatched_sizes=True) for head tensors.
import { BertConfig, type ConfigJson } from '../model/config.js';
import { loadIntoStore, readConfig, readWeights } from '../model/checkpoint.js';
import type { BertPreTrainedModel, ModelOptions } from '../model/bert.js';

/** Head parameters that a new label count may resize (the backbone never is). */
const HEAD_PREFIXES = ['classifier.', 'qa_outputs.'];

/**
 * Builds `cls` from `dir` with config overrides (num_labels, id2label, ...). Head tensors whose shape no longer fits
 * (e.g. a 3-class classifier fine-tuned for 2 classes) are dropped and freshly initialised with a warning, as HF does
 * with ignore_mismatched_sizes; any other mismatch is an error, since it means the weights belong to another model.
 * `randomInit` ignores the weights (HF's from_config): the baseline a pre-trained start is compared with.
 */
export function loadForFinetuning<T extends BertPreTrainedModel>(
  cls: new (config: BertConfig, options?: ModelOptions) => T,
  dir: string,
  overrides: ConfigJson,
  options: ModelOptions & { randomInit?: boolean } = {},
): T {
  const base = readConfig(dir);
  const config = BertConfig.fromJson(
    { ...base.toJson(), ...overrides },
    `${dir}/config.json (with fine-tuning overrides)`,
  );
  // Random init first (seeded): whatever the checkpoint does not provide keeps HF's initialisation.
  const { randomInit, ...modelOptions } = options;
  const model = new cls(config, { ...modelOptions, initWeights: true });
  if (randomInit) return model;
  const { tensors, file } = readWeights(dir);
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const resized: string[] = [];
  for (const [key, t] of [...tensors]) {
    if (!HEAD_PREFIXES.some((p) => key.startsWith(p)) || !model.store.has(key)) continue;
    const want = model.store.shape(key);
    if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
      tensors.delete(key);
      resized.push(`${key}: checkpoint [${t.shape.join(', ')}] -> model [${want.join(', ')}]`);
    }
  }
  const report = loadIntoStore(model.store, model.prefix, tensors, file);
  if (resized.length > 0)
    warn(
      `Some weights of ${model.architecture} were re-initialized because their shapes did not match the checkpoint at ${dir}: ${resized.join('; ')}`,
    );
  const fresh = report.missing.filter((n) => !resized.some((r) => r.startsWith(`${n}:`)));
  if (fresh.length > 0)
    warn(
      `Some weights of ${model.architecture} were not in the checkpoint at ${dir} and are newly initialized: [${fresh.join(', ')}]`,
    );
  return model;
}
