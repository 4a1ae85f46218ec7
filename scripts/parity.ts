// Parity harness: runs every head of a HF fixture folder (shared/fixtures format) and compares outputs, hidden
// states, attentions, losses, gradients, parameters after three AdamW steps and the .bin / F16 variants.
// Usage: npm run parity -- <fixtureDir> [--unpad]   (exit 0 only when every check is within tolerance)
// The fixtures are transformers' eager path, padding positions included, so ModernBERT runs padded (unpad: false);
// --unpad runs it unpadded instead (ModelOptions.unpad) and compares what that path keeps of the eager one: outputs at
// attended positions (zeros at padding), and the losses and gradients of every head whose loss reads attended
// positions only (all but question answering, whose loss spans every position).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readJsonFile, readSafetensors } from '../src/io/index.js';
import type { TensorEntry } from '../src/io/index.js';
import { MODEL_CLASSES } from '../src/model/bert.js';
import type { BertArchitecture, BertPreTrainedModel, PretrainedModelClass } from '../src/model/bert.js';
import type { BertInputs } from '../src/model/inputs.js';
import { getKernels } from '../src/native/index.js';
import type { Kernels } from '../src/tensor/kernels.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { clipGradNorm } from '../src/train/clip.js';
import { AdamW } from '../src/train/optim.js';
import { learningRateAt } from '../src/train/schedule.js';

/** Tolerances of shared/fixtures/README.md. */
export const TOL = { output: 1e-4, grad: 1e-4, param: 1e-4, loss: 1e-5 } as const;

interface AdamwInfo {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  warmup_steps: number;
  total_steps: number;
  clip_norm: number;
  losses: number[];
  grad_norms_before_clip: number[];
  lr_used: number[];
}
interface HeadInfo {
  dir: string;
  class: string;
  outputs: string[];
  loss?: number;
  adamw?: AdamwInfo;
}
interface Manifest {
  heads: Record<string, HeadInfo>;
  variants?: Record<string, string>;
}

export interface ParityResult {
  passed: number;
  total: number;
  lines: string[];
  failures: string[];
}

type AnyModel = BertPreTrainedModel & { forward(inputs: BertInputs, options?: object): Record<string, unknown> };

/** Per-head accumulator of checks and their largest errors by category. */
class HeadReport {
  passed = 0;
  total = 0;
  maxErr: Record<string, number> = {};
  counts: Record<string, number> = {};
  failures: string[] = [];
  constructor(readonly head: string) {}
  add(category: string, what: string, err: number, tol: number): void {
    this.total++;
    this.counts[category] = (this.counts[category] ?? 0) + 1;
    const e = Number.isNaN(err) ? Infinity : err;
    this.maxErr[category] = Math.max(this.maxErr[category] ?? 0, e);
    if (e <= tol) this.passed++;
    else this.failures.push(`${this.head}: ${category} ${what}: error ${err.toExponential(2)} > ${tol}`);
  }
  fail(category: string, what: string, why: string): void {
    this.total++;
    this.counts[category] = (this.counts[category] ?? 0) + 1;
    this.maxErr[category] = Infinity;
    this.failures.push(`${this.head}: ${category} ${what}: ${why}`);
  }
  line(): string {
    const parts = Object.keys(this.counts).map((c) => `${c} ${fmt(this.maxErr[c]!)} (${this.counts[c]})`);
    return `${this.head.padEnd(18)} ${parts.join('  ')}  => ${this.passed}/${this.total} ok`;
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : 'FAIL';
}

function shapeEq(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** max |a - r| / max(1, |r|), elementwise (outputs, hidden states). */
function outputError(a: Float32Array, r: Float32Array): number {
  let m = 0;
  for (let i = 0; i < r.length; i++) {
    const e = Math.abs(a[i]! - r[i]!) / Math.max(1, Math.abs(r[i]!));
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : e;
  }
  return m;
}

/**
 * Gradient round-off floor: entries of a gradient are sums of float32 terms of the O(1) loss, so their round-off is
 * about 1e-7 absolute whatever the result. A tensor whose true gradient is zero (attention key biases, as softmax is
 * shift-invariant; the QA and multiple-choice output biases, as softmax - onehot sums to zero) holds only that
 * round-off, in the reference and here alike; relative to its own max it would be noise over noise.
 */
export const GRAD_ZERO_FLOOR = 1e-3; // scale floor: 1e-4 * 1e-3 = 1e-7 absolute

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

function maxDiff(a: Float32Array, r: Float32Array): number {
  let m = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(a[i]! - r[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** max |a - r| / max(max |r|, floor) over the tensor (gradients, parameters): the README's rule, with a floor. */
export function tensorError(a: Float32Array, r: Float32Array, floor = 0): number {
  const scale = Math.max(maxAbs(r), floor);
  const m = maxDiff(a, r);
  return scale > 0 ? m / scale : m;
}

function relError(a: number, r: number): number {
  return Math.abs(a - r) / Math.max(Math.abs(r), 1e-12);
}

function floatData(e: TensorEntry, key: string): Float32Array {
  if (!(e.data instanceof Float32Array)) throw new Error(`reference ${key}: expected a float tensor, found ${e.dtype}`);
  return e.data;
}

/**
 * Inputs and labels of a head, from the reference tensors, by the head class's task (as gen_fixtures.py and
 * scripts/fixtures/family_fixtures.py pair them): RobertaForMaskedLM reads what BertForMaskedLM reads.
 */
function headInputs(
  architecture: string,
  config: { numLabels: number; problemType: string | null },
  ref: Map<string, TensorEntry>,
): BertInputs {
  const get = (k: string): TensorEntry => {
    const e = ref.get(k);
    if (!e) throw new Error(`reference.safetensors has no tensor "${k}"`);
    return e;
  };
  const shaped = (k: string) => ({ data: get(k).data, shape: get(k).shape });
  // ElectraForPreTraining is the discriminator; BertForPreTraining keeps its name.
  const cls =
    architecture === 'ElectraForPreTraining' ? 'Discriminator' : architecture.replace(/^.*?(For|Model$)/, 'Bert$1');
  const pre = cls === 'BertForMultipleChoice' ? 'input.mc.' : 'input.';
  const inputs: BertInputs = {
    inputIds: shaped(`${pre}input_ids`),
    attentionMask: shaped(`${pre}attention_mask`),
  };
  // DistilBERT fixtures have no token types.
  if (ref.has(`${pre}token_type_ids`)) inputs.tokenTypeIds = shaped(`${pre}token_type_ids`);
  const firstKey = (stem: string, preferred: string): string => {
    if (ref.has(preferred)) return preferred;
    const k = [...ref.keys()].find((x) => x.startsWith(stem));
    if (!k) throw new Error(`reference.safetensors has no labels "${stem}*"`);
    return k;
  };
  switch (cls) {
    case 'BertForPreTraining':
      return { ...inputs, labels: shaped('labels.mlm'), nextSentenceLabel: shaped('labels.nsp') };
    case 'BertForMaskedLM':
      return { ...inputs, labels: shaped('labels.mlm') };
    case 'BertForNextSentencePrediction':
      return { ...inputs, labels: shaped('labels.nsp') };
    case 'BertForSequenceClassification':
      if (config.problemType === 'regression' || config.numLabels === 1)
        return { ...inputs, labels: shaped('labels.regression') };
      if (config.problemType === 'multi_label_classification')
        return { ...inputs, labels: shaped('labels.multi_label') };
      return { ...inputs, labels: shaped(firstKey('labels.cls', `labels.cls${config.numLabels}`)) };
    case 'BertForTokenClassification':
      return { ...inputs, labels: shaped(firstKey('labels.token', `labels.token${config.numLabels}`)) };
    case 'BertForQuestionAnswering':
      return {
        ...inputs,
        startPositions: shaped('labels.start_positions'),
        endPositions: shaped('labels.end_positions'),
      };
    case 'BertForMultipleChoice':
      return { ...inputs, labels: shaped('labels.mc') };
    case 'Discriminator':
      return { ...inputs, labels: shaped('labels.rtd') };
    default:
      return inputs;
  }
}

const OUTPUT_FIELDS: Record<string, string> = {
  logits: 'logits',
  prediction_logits: 'predictionLogits',
  seq_relationship_logits: 'seqRelationshipLogits',
  start_logits: 'startLogits',
  end_logits: 'endLogits',
  last_hidden_state: 'lastHiddenState',
  pooler_output: 'poolerOutput',
};

function pickOutput(out: Record<string, unknown>, name: string): Tensor | number | undefined {
  if (name === 'loss') return out.loss as number | undefined;
  const m = /^(hidden_states|attentions)\.(\d+)$/.exec(name);
  if (m) {
    const list = out[m[1] === 'hidden_states' ? 'hiddenStates' : 'attentions'] as Tensor[] | undefined;
    return list?.[Number(m[2])];
  }
  const f = OUTPUT_FIELDS[name];
  return f ? (out[f] as Tensor | undefined) : undefined;
}

async function loadModel(
  cls: string,
  dir: string,
  kernels: Kernels,
  warnings: string[],
  unpad = false,
): Promise<AnyModel> {
  const C: PretrainedModelClass | undefined = MODEL_CLASSES[cls as BertArchitecture];
  if (!C) throw new Error(`unknown model class ${cls}`);
  return (await C.fromPretrained(dir, { kernels, unpad, warn: (m) => warnings.push(m) })) as unknown as AnyModel;
}

/** An attention mask as the fixtures hold it. */
type MaskInput = { data: ArrayLike<number | bigint>; shape: readonly number[] };

/**
 * The attended entries of an output of an unpadded forward, by the input's mask [R, T]: a per-token output [R, T, ...]
 * keeps the rows t of each r with mask 1; attentions [R, heads, T, T] keep the query rows with mask 1. `padding`:
 * the entries of the per-token rows with mask 0 (empty for attentions and per-sequence outputs).
 */
function attendedEntries(
  name: string,
  shape: readonly number[],
  mask: MaskInput,
): { keep: (i: number) => boolean; padding: (i: number) => boolean } | null {
  const T = mask.shape[mask.shape.length - 1]!,
    R = mask.data.length / T;
  const attended = (r: number, t: number): boolean => Number(mask.data[r * T + t]) !== 0;
  if (name.startsWith('attentions.')) {
    const heads = shape[1]!;
    const keep = (i: number): boolean => attended(Math.floor(i / (heads * T * T)), Math.floor(i / T) % T);
    return { keep, padding: () => false };
  }
  if (shape.length < 2 || shape[0] !== R || shape[1] !== T) return null;
  const inner = shape.slice(2).reduce((n, d) => n * d, 1);
  const keep = (i: number): boolean => attended(Math.floor(i / (T * inner)), Math.floor(i / inner) % T);
  return { keep, padding: (i) => !keep(i) };
}

function compareOutput(
  rep: HeadReport,
  out: Record<string, unknown>,
  name: string,
  ref: TensorEntry | undefined,
  refKey: string,
  unpaddedMask: MaskInput | null = null,
): void {
  if (!ref) return rep.fail('outputs', name, `reference ${refKey} missing`);
  const got = pickOutput(out, name);
  if (name === 'loss') {
    if (typeof got !== 'number') return rep.fail('loss', name, 'no loss computed');
    return rep.add('loss', name, relError(got, floatData(ref, refKey)[0]!), TOL.loss);
  }
  if (got === undefined || typeof got === 'number') return rep.fail('outputs', name, 'output not produced');
  if (!shapeEq(got.shape, ref.shape))
    return rep.fail('outputs', name, `shape [${got.shape}] vs reference [${ref.shape}]`);
  const entries = unpaddedMask ? attendedEntries(name, got.shape, unpaddedMask) : null;
  if (!entries) return rep.add('outputs', name, outputError(got.data, floatData(ref, refKey)), TOL.output);
  const r = floatData(ref, refKey),
    ours: number[] = [],
    theirs: number[] = [];
  let padding = 0;
  for (let i = 0; i < r.length; i++) {
    if (entries.keep(i)) {
      ours.push(got.data[i] as number);
      theirs.push(r[i]!);
    } else if (entries.padding(i)) padding = Math.max(padding, Math.abs(got.data[i] as number));
  }
  rep.add('outputs', `${name} (attended)`, outputError(Float32Array.from(ours), Float32Array.from(theirs)), TOL.output);
  // Hidden states at padding are zero after unpadding (transformers' _pad_modernbert_output); heads' outputs are not.
  if (/^(hidden_states\.\d+|last_hidden_state)$/.test(name)) rep.add('padding', `${name} zero`, padding, 0);
}

/**
 * Runs every check of one fixture folder. `unpad`: load ModernBERT unpadded (see the header); the fixtures are
 * eager, so by default it runs padded.
 */
export async function runParity(
  dir: string,
  options: { kernels?: Kernels; unpad?: boolean } = {},
): Promise<ParityResult> {
  const kernels = options.kernels ?? getKernels();
  const unpad = options.unpad ?? false;
  const manifest = readJsonFile(join(dir, 'manifest.json'), 'fixture manifest') as Manifest;
  const ref = readSafetensors(join(dir, 'reference.safetensors')).tensors;
  const lines: string[] = [];
  const failures: string[] = [];
  let passed = 0,
    total = 0;
  const finish = (rep: HeadReport): void => {
    lines.push(rep.line());
    failures.push(...rep.failures);
    passed += rep.passed;
    total += rep.total;
  };

  for (const [head, info] of Object.entries(manifest.heads)) {
    const rep = new HeadReport(head);
    try {
      const warnings: string[] = [];
      const modelDir = join(dir, info.dir);
      const model = await loadModel(info.class, modelDir, kernels, warnings, unpad);
      if (warnings.length) rep.fail('load', 'warnings', warnings.join(' | '));
      const inputs = headInputs(info.class, model.config, ref);
      model.zeroGrad();
      const out = model.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
      // A question-answering loss spans every position, padding included: not the eager one once unpadded.
      const wholeSequenceLoss = unpad && /QuestionAnswering$/.test(info.class);
      for (const key of info.outputs) {
        const name = key.slice(`${head}.out.`.length);
        if (wholeSequenceLoss && name === 'loss') continue;
        compareOutput(rep, out, name, ref.get(key), key, unpad ? (inputs.attentionMask as MaskInput) : null);
      }
      const gradKeys = wholeSequenceLoss ? [] : [...ref.keys()].filter((k) => k.startsWith(`${head}.grad.`));
      if (gradKeys.length > 0) {
        model.backward();
        // A tied weight is listed under whichever of its names torch yields first (XLM-R: lm_head.decoder.weight).
        const names = new Set(gradKeys.map((k) => model.store.resolve(k.slice(`${head}.grad.`.length)) ?? k));
        const ours = model.parameters().map((p) => p.name);
        const extra = ours.filter((n) => !names.has(n));
        const missing = [...names].filter((n) => !model.store.has(n));
        if (extra.length || missing.length)
          rep.fail('names', 'parameters', `ours not in reference: [${extra}], reference not ours: [${missing}]`);
        else rep.add('names', 'parameters', 0, 0);
        for (const k of gradKeys) {
          const name = k.slice(`${head}.grad.`.length);
          if (!model.store.has(name)) continue;
          rep.add(
            'grads',
            name,
            tensorError(model.store.gradView(name), floatData(ref.get(k)!, k), GRAD_ZERO_FLOOR),
            TOL.grad,
          );
        }
      }
      if (info.adamw && !wholeSequenceLoss) await replayAdamW(rep, head, info, modelDir, inputs, ref, kernels, unpad);
    } catch (err) {
      rep.fail('run', 'error', (err as Error).message);
    }
    finish(rep);
  }

  // Other encodings of the pre-training checkpoint.
  for (const variant of Object.keys(manifest.variants ?? {})) {
    const rep = new HeadReport(variant);
    try {
      const vdir = join(dir, variant);
      const cfg = readJsonFile(join(vdir, 'config.json'), 'model config') as { architectures?: string[] };
      const cls = cfg.architectures?.[0] ?? 'BertForPreTraining';
      const warnings: string[] = [];
      const model = await loadModel(cls, vdir, kernels, warnings);
      if (warnings.length) rep.fail('load', 'warnings', warnings.join(' | '));
      const inputs = headInputs(cls, model.config, ref);
      const out = model.forward(inputs, {});
      // The F16 variant has its own expected logits; the .bin one reproduces the F32 model of the same class.
      const own = [...ref.keys()].filter((k) => k.startsWith(`${variant}.out.`));
      const baseHead = Object.entries(manifest.heads).find(([, h]) => h.class === cls)?.[0];
      const keys =
        own.length > 0
          ? own
          : [...ref.keys()].filter(
              (k) => baseHead && k.startsWith(`${baseHead}.out.`) && !/\.(hidden_states|attentions)\./.test(k),
            );
      if (keys.length === 0) rep.fail('outputs', variant, 'no reference outputs for this variant');
      for (const key of keys) {
        const name = key.slice(key.indexOf('.out.') + 5);
        compareOutput(rep, out, name, ref.get(key), key);
      }
    } catch (err) {
      rep.fail('run', 'error', (err as Error).message);
    }
    finish(rep);
  }
  lines.push(`parity: ${passed} of ${total} checks within tolerance`);
  return { passed, total, lines, failures };
}

/** Three optimizer steps exactly as gen_fixtures.py: eval-mode loss, clip, AdamW, linear warmup/decay. */
async function replayAdamW(
  rep: HeadReport,
  head: string,
  info: HeadInfo,
  modelDir: string,
  inputs: BertInputs,
  ref: Map<string, TensorEntry>,
  kernels: Kernels,
  unpad: boolean,
): Promise<void> {
  const a = info.adamw!;
  const model = await loadModel(info.class, modelDir, kernels, [], unpad);
  const params = model.parameters();
  const opt = new AdamW(
    params,
    { name: 'adamw', betas: [a.betas[0], a.betas[1]], eps: a.eps, weightDecay: a.weight_decay },
    kernels,
  );
  for (let step = 0; step < a.losses.length; step++) {
    model.zeroGrad();
    const out = model.forward(inputs, {});
    model.backward();
    const norm = clipGradNorm(params, a.clip_norm, kernels);
    const lr = learningRateAt(
      { name: 'linear', lr: a.lr, warmupSteps: a.warmup_steps, totalSteps: a.total_steps },
      step,
    );
    rep.add('steps', `loss ${step}`, relError(out.loss as number, a.losses[step]!), TOL.loss);
    rep.add('steps', `grad norm ${step}`, relError(norm, a.grad_norms_before_clip[step]!), TOL.grad);
    rep.add('steps', `lr ${step}`, Math.abs(lr - a.lr_used[step]!), 1e-12);
    opt.step(lr);
  }
  // Adam normalises the step: a parameter whose true gradient is zero moves by round-off / (round-off + eps), up to
  // lr per step, in the reference and here independently. Such parameters may differ by at most the sum of the lrs.
  const lrSum = a.lr_used.reduce((x, y) => x + y, 0);
  // The reference's name of each parameter (a tied weight may be stored under another of its names).
  const refName = new Map<string, string>();
  for (const k of ref.keys()) {
    if (!k.startsWith(`${head}.after3.`)) continue;
    const name = k.slice(`${head}.after3.`.length);
    refName.set(model.store.resolve(name) ?? name, name);
  }
  for (const p of params) {
    const name = refName.get(p.name) ?? p.name;
    const key = `${head}.after3.${name}`;
    const r = ref.get(key);
    const g = ref.get(`${head}.grad.${name}`);
    if (!r) rep.fail('after3', p.name, `reference ${key} missing`);
    else if (g && maxAbs(floatData(g, p.name)) <= TOL.grad * GRAD_ZERO_FLOOR) {
      rep.add(
        'after3',
        `${p.name} (zero gradient)`,
        (maxDiff(p.data, floatData(r, key)) / Math.max(lrSum, 1e-12)) * TOL.param,
        TOL.param,
      );
    } else rep.add('after3', p.name, tensorError(p.data, floatData(r, key)), TOL.param);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unpad = args.includes('--unpad');
  const dir = args.find((a) => a !== '--unpad');
  if (!dir || args.length > (unpad ? 2 : 1)) {
    console.error(
      'usage: npm run parity -- <fixtureDir> [--unpad]   (a folder with manifest.json and reference.safetensors)',
    );
    process.exit(2);
  }
  const abs = resolve(dir);
  if (!existsSync(join(abs, 'manifest.json'))) {
    console.error(`${abs}: no manifest.json; give a fixture folder such as ../shared/fixtures/hf-tiny`);
    process.exit(2);
  }
  const kernels = getKernels();
  console.log(`parity ${abs} (kernels: ${kernels.name}${unpad ? ', unpadded' : ''})`);
  const result = await runParity(abs, { kernels, unpad });
  for (const l of result.lines.slice(0, -1)) console.log(l);
  for (const f of result.failures.slice(0, 40)) console.log(`  FAIL ${f}`);
  if (result.failures.length > 40) console.log(`  ... ${result.failures.length - 40} more failures`);
  console.log(result.lines[result.lines.length - 1]);
  process.exit(result.passed === result.total ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(`parity: ${(err as Error).message}`);
    process.exit(2);
  });
}
