// The training state (what a resume needs): weights, optimizer moments and the loop's counters in a step folder,
// published by an atomic pointer. Not a model folder: that is what `save` writes at the end of a run.
//
// Layout under <output>/checkpoints/:
//   step-000120/  model.safetensors  optimizer.safetensors  training_state.json   (each file temp + fsync + rename)
//   latest.json   {"dir": "step-000120", ...}   written last, atomically
// A crash (even SIGKILL) at any moment leaves latest.json naming a complete folder: the new folder only becomes
// visible through the pointer once all its files are durable, and the old folder is deleted only after that.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type WritableTensor } from '../io/safetensors.js';
import { readFloat32Tensors } from '../model/checkpoint.js';
import { readJsonFile, writeFileAtomic } from '../io/files.js';
import type { SamplerPosition } from '../data/samplers.js';

/** 2: one meaning per field for fine-tuning and pre-training alike (1 was written by two loops with two meanings). */
export const TRAINING_STATE_VERSION = 2;

export interface StateParameter {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Everything besides tensors that a resumed run needs to continue the same loss curve (the fields of nanoGPT's
 * checkpoint dict), written only by the Trainer.
 */
export interface TrainingState {
  version: number;
  /** Optimizer steps done. */
  step: number;
  /** Where the sampler continues: epoch in progress and what of it is consumed, in the sampler's unit. */
  position: SamplerPosition;
  /** Training forwards done; forward k (1-based) draws its dropout masks from k and the model's seed. */
  trainForwards: number;
  /** Adam's update counter (bias correction). */
  optimizerT: number;
  /** Best evaluated metric so far, the step it was reached, and evaluations since without improvement. */
  bestMetric: number | null;
  bestStep: number | null;
  evalsWithoutImprovement: number;
  /** Identity of the model: parameter names and shapes hashed, so the training state of another model is refused. */
  modelFingerprint: string;
  /** Settings that must not change on resume (batch size, lr, ...), compared on load. */
  settings: Record<string, unknown>;
  /** Loss / eval history, so the plot and log of a resumed run are complete. */
  history: {
    steps: { step: number; loss: number }[];
    evals: { step: number; epoch: number; metrics: Record<string, number> }[];
  };
}

/** sha256 over "name:shape" of every parameter, in order. */
export function modelFingerprint(params: readonly { name: string; shape: readonly number[] }[]): string {
  const h = createHash('sha256');
  for (const p of params) h.update(`${p.name}:${p.shape.join('x')};`);
  return h.digest('hex').slice(0, 16);
}

function toMap(params: readonly StateParameter[]): Map<string, WritableTensor> {
  return new Map(params.map((p) => [p.name, { dtype: 'F32', shape: p.shape, data: p.data }]));
}

/**
 * Writes the training state of `state.step` and publishes it as the latest; removes older step folders
 * (keeping `keep` newest). Returns the folder written.
 */
export function saveTrainingState(
  root: string,
  params: readonly StateParameter[],
  optimizer: { m: Float32Array; v: Float32Array },
  state: TrainingState,
  keep = 1,
  best: readonly StateParameter[] | null = null,
): string {
  const ckRoot = join(root, 'checkpoints');
  mkdirSync(ckRoot, { recursive: true });
  const name = `step-${String(state.step).padStart(7, '0')}`;
  const dir = join(ckRoot, name);
  // A folder with this name can only be a leftover of a crashed save at the same step: never published, safe to redo.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeSafetensors(join(dir, 'model.safetensors'), toMap(params), { format: 'pt' });
  writeSafetensors(
    join(dir, 'optimizer.safetensors'),
    new Map<string, WritableTensor>([
      ['exp_avg', { dtype: 'F32', shape: [optimizer.m.length], data: optimizer.m }],
      ['exp_avg_sq', { dtype: 'F32', shape: [optimizer.v.length], data: optimizer.v }],
    ]),
  );
  // The best weights so far travel with the training state so that a resumed run still ends with the best model.
  if (best) writeSafetensors(join(dir, 'best.safetensors'), toMap(best), { format: 'pt' });
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(state, null, 1) + '\n');
  writeFileAtomic(
    join(ckRoot, 'latest.json'),
    JSON.stringify({ dir: name, step: state.step, version: TRAINING_STATE_VERSION }) + '\n',
  );
  const steps = readdirSync(ckRoot)
    .filter((f) => /^step-\d+$/.test(f))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep)))
    if (old !== name) rmSync(join(ckRoot, old), { recursive: true, force: true });
  return dir;
}

const STATE_FILE = 'training_state.json';

export interface LoadedTrainingState {
  dir: string;
  params: Map<string, Float32Array>;
  m: Float32Array;
  v: Float32Array;
  state: TrainingState;
  /** Best weights so far, when the run keeps a best model. */
  best: Map<string, Float32Array> | null;
}

/** The published training-state folder under `root` (an output folder), or null when there is none. */
export function latestTrainingStateDir(root: string): string | null {
  const pointer = join(root, 'checkpoints', 'latest.json');
  if (!existsSync(pointer)) return null;
  const j = readJsonFile(pointer, 'training-state pointer') as { dir?: unknown };
  if (typeof j.dir !== 'string' || !/^step-\d+$/.test(j.dir))
    throw new Error(
      `${pointer}: malformed training-state pointer (expected {"dir": "step-NNNNNNN"}); delete the checkpoints folder to start afresh`,
    );
  const dir = join(root, 'checkpoints', j.dir);
  if (!existsSync(dir)) throw new Error(`${pointer}: points at ${dir}, which does not exist`);
  return dir;
}

/**
 * Loads the latest training state of `root` and checks it belongs to this model (fingerprint) and these settings.
 * Throws a specific error otherwise, before anything is modified.
 */
export function loadTrainingState(
  root: string,
  expectedFingerprint: string,
  settings: Record<string, unknown>,
): LoadedTrainingState {
  const dir = latestTrainingStateDir(root);
  if (dir === null)
    throw new Error(
      `${root}: no training state to resume from (expected ${join(root, 'checkpoints', 'latest.json')}); start without resuming`,
    );
  if (!existsSync(join(dir, STATE_FILE)))
    throw new Error(
      `${dir}: no ${STATE_FILE} (written by an older bert-ts, whose training state this one does not read); start without resuming, in a fresh output folder`,
    );
  const state = readJsonFile(join(dir, STATE_FILE), 'training state') as TrainingState;
  if (state.version !== TRAINING_STATE_VERSION)
    throw new Error(
      `${dir}/${STATE_FILE}: training state version ${state.version}, this bert-ts reads ${TRAINING_STATE_VERSION}; start without resuming`,
    );
  if (state.modelFingerprint !== expectedFingerprint) {
    throw new Error(
      `${dir}: training state of another model (parameter names/shapes differ: ${state.modelFingerprint} vs ${expectedFingerprint}); use a fresh output folder`,
    );
  }
  const diffs = Object.keys(settings).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(state.settings[k]));
  if (diffs.length > 0) {
    const d = diffs
      .map((k) => `${k}: checkpoint ${JSON.stringify(state.settings[k])}, now ${JSON.stringify(settings[k])}`)
      .join('; ');
    throw new Error(
      `${dir}: cannot resume with different settings (${d}); use the original settings or a fresh output folder`,
    );
  }
  const params = readFloat32Tensors(join(dir, 'model.safetensors'));
  const opt = readFloat32Tensors(join(dir, 'optimizer.safetensors'));
  const m = opt.get('exp_avg');
  const v = opt.get('exp_avg_sq');
  if (!m || !v) throw new Error(`${dir}/optimizer.safetensors: missing exp_avg / exp_avg_sq`);
  const best = existsSync(join(dir, 'best.safetensors')) ? readFloat32Tensors(join(dir, 'best.safetensors')) : null;
  return { dir, params, m, v, state, best };
}
