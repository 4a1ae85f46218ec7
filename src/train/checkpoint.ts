// Training checkpoints: weights, optimizer moments and trainer state in a step folder, published by an atomic pointer.
//
// Layout under <output>/checkpoints/:
//   step-000120/  model.safetensors  optimizer.safetensors  trainer_state.json   (each file temp + fsync + rename)
//   latest.json   {"dir": "step-000120", ...}   written last, atomically
// A crash (even SIGKILL) at any moment leaves latest.json naming a complete folder: the new folder only becomes
// visible through the pointer once all its files are durable, and the old folder is deleted only after that.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type WritableTensor } from '../io/safetensors.js';
import { readJsonFile, writeFileAtomic } from '../io/files.js';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointParameter {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** Everything besides tensors that a resumed run needs to continue the same loss curve. */
export interface TrainerState {
  version: number;
  /** Optimizer steps done. */
  step: number;
  /** Epoch in progress (0-based) and micro-batches of it already consumed: the data position. */
  epoch: number;
  batchInEpoch: number;
  /** Adam's update counter (bias correction). */
  optimizerT: number;
  /** The state of the trainer's random generator (dropout seeds). */
  rngState: number;
  seed: number;
  bestMetric: number | null;
  bestStep: number | null;
  evalsWithoutImprovement: number;
  /** Identity of the model: parameter names and shapes hashed, so a checkpoint of another model is refused. */
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

function toMap(params: readonly CheckpointParameter[]): Map<string, WritableTensor> {
  return new Map(params.map((p) => [p.name, { dtype: 'F32', shape: p.shape, data: p.data }]));
}

/**
 * Writes a checkpoint for `state.step` and publishes it as the latest; removes older step folders
 * (keeping `keep` newest). Returns the folder written.
 */
export function saveCheckpoint(
  root: string,
  params: readonly CheckpointParameter[],
  optimizer: { m: Float32Array; v: Float32Array },
  state: TrainerState,
  keep = 1,
  best: readonly CheckpointParameter[] | null = null,
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
  // The best weights so far travel with the checkpoint so that a resumed run still ends with the best model.
  if (best) writeSafetensors(join(dir, 'best.safetensors'), toMap(best), { format: 'pt' });
  writeFileAtomic(join(dir, 'trainer_state.json'), JSON.stringify(state, null, 1) + '\n');
  writeFileAtomic(
    join(ckRoot, 'latest.json'),
    JSON.stringify({ dir: name, step: state.step, version: CHECKPOINT_VERSION }) + '\n',
  );
  const steps = readdirSync(ckRoot)
    .filter((f) => /^step-\d+$/.test(f))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep)))
    if (old !== name) rmSync(join(ckRoot, old), { recursive: true, force: true });
  return dir;
}

export interface LoadedCheckpoint {
  dir: string;
  params: Map<string, Float32Array>;
  m: Float32Array;
  v: Float32Array;
  state: TrainerState;
  /** Best weights so far, when the run keeps a best model. */
  best: Map<string, Float32Array> | null;
}

/** The published checkpoint folder under `root` (an output folder), or null when there is none. */
export function latestCheckpointDir(root: string): string | null {
  const pointer = join(root, 'checkpoints', 'latest.json');
  if (!existsSync(pointer)) return null;
  const j = readJsonFile(pointer, 'checkpoint pointer') as { dir?: unknown };
  if (typeof j.dir !== 'string' || !/^step-\d+$/.test(j.dir))
    throw new Error(`${pointer}: malformed checkpoint pointer`);
  const dir = join(root, 'checkpoints', j.dir);
  if (!existsSync(dir)) throw new Error(`${pointer}: points at ${dir}, which does not exist`);
  return dir;
}

/**
 * Loads the latest checkpoint of `root` and checks it belongs to this model (fingerprint) and these settings.
 * Throws a specific error otherwise, before anything is modified.
 */
export function loadCheckpoint(
  root: string,
  expectedFingerprint: string,
  settings: Record<string, unknown>,
): LoadedCheckpoint {
  const dir = latestCheckpointDir(root);
  if (dir === null)
    throw new Error(
      `${root}: no checkpoint to resume from (expected ${join(root, 'checkpoints', 'latest.json')}); run without --resume`,
    );
  const state = readJsonFile(join(dir, 'trainer_state.json'), 'trainer state') as TrainerState;
  if (state.version !== CHECKPOINT_VERSION)
    throw new Error(`${dir}: checkpoint version ${state.version}, this bert-ts reads ${CHECKPOINT_VERSION}`);
  if (state.modelFingerprint !== expectedFingerprint) {
    throw new Error(
      `${dir}: checkpoint of another model (parameter names/shapes differ: ${state.modelFingerprint} vs ${expectedFingerprint}); use a fresh --output folder`,
    );
  }
  const diffs = Object.keys(settings).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(state.settings[k]));
  if (diffs.length > 0) {
    const d = diffs
      .map((k) => `${k}: checkpoint ${JSON.stringify(state.settings[k])}, now ${JSON.stringify(settings[k])}`)
      .join('; ');
    throw new Error(`${dir}: cannot resume with different settings (${d}); use the original flags or a fresh --output`);
  }
  const model = readSafetensors(join(dir, 'model.safetensors'));
  const params = new Map<string, Float32Array>();
  for (const [k, t] of model.tensors) params.set(k, t.data as Float32Array);
  const opt = readSafetensors(join(dir, 'optimizer.safetensors'));
  const m = opt.tensors.get('exp_avg')?.data;
  const v = opt.tensors.get('exp_avg_sq')?.data;
  if (!(m instanceof Float32Array) || !(v instanceof Float32Array))
    throw new Error(`${dir}/optimizer.safetensors: missing exp_avg / exp_avg_sq`);
  let best: Map<string, Float32Array> | null = null;
  if (existsSync(join(dir, 'best.safetensors'))) {
    best = new Map();
    for (const [k, t] of readSafetensors(join(dir, 'best.safetensors')).tensors) best.set(k, t.data as Float32Array);
  }
  return { dir, params, m, v, state, best };
}
