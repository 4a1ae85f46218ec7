// A model folder that changes while fromPretrained reads it: files replaced, truncated, rewritten or deleted and the
// folder renamed or its symlink swapped at chosen moments (a hook on fs.openSync), and writers racing the loader in a
// loop. Every load must give a model equal to one whole version of the folder, or a typed error naming a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CheckpointFormatError, encodeSafetensors, readSafetensors, type WritableTensor } from '../../src/io/index.js';
import { ConfigError } from '../../src/model/config.js';
import { BertForSequenceClassification } from '../../src/model/bert.js';
import { BertTokenizer, TokenizerError } from '../../src/tokenizer/index.js';
import { pipeline } from '../../src/pipelines/index.js';
import { jsKernels } from '../../src/tensor/js-kernels.js';
import { tempDir } from '../helpers/temp.js';

const TINY = '../shared/fixtures/hf-tiny';
const root = tempDir('race');
const configA = JSON.parse(readFileSync(join(TINY, 'seq_cls3/config.json'), 'utf8')) as Record<string, unknown>;
const weightsA = readFileSync(join(TINY, 'seq_cls3/model.safetensors'));

/** Version B: same shapes, every weight + 1, labels renamed; "wide": a config and weights of hidden size 64. */
function weightsPlusOne(): Uint8Array {
  const tensors = new Map<string, WritableTensor>();
  for (const [name, t] of readSafetensors(join(TINY, 'seq_cls3/model.safetensors')).tensors) {
    tensors.set(name, { dtype: 'F32', shape: t.shape, data: (t.data as Float32Array).map((v) => v + 1) });
  }
  return encodeSafetensors(tensors, { format: 'pt' });
}
const configB = {
  ...configA,
  id2label: { 0: 'B-negative', 1: 'B-neutral', 2: 'B-positive' },
  label2id: { 'B-negative': 0, 'B-neutral': 1, 'B-positive': 2 },
};
const weightsB = weightsPlusOne();
const configWide = { ...configA, hidden_size: 64 };
const weightsWide = encodeSafetensors(
  new Map<string, WritableTensor>([
    ['bert.embeddings.word_embeddings.weight', { dtype: 'F32', shape: [1881, 64], data: new Float32Array(1881 * 64) }],
  ]),
);

/** Writes a complete model + tokenizer folder of version A or B. */
function writeVersion(dir: string, version: 'A' | 'B'): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(version === 'A' ? configA : configB));
  writeFileSync(join(dir, 'model.safetensors'), version === 'A' ? weightsA : weightsB);
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    writeFileSync(join(dir, f), readFileSync(join(TINY, 'tokenizer', f)));
  return dir;
}

/** Replaces `path` atomically (write a temporary file, rename it over), as writeFileAtomic and HF's hub cache do. */
function replaceFile(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.new`, data);
  renameSync(`${path}.new`, path);
}

let fresh = 0;
const folder = (version: 'A' | 'B' = 'A') => writeVersion(join(root, `m${fresh++}`), version);

const load = (dir: string) => BertForSequenceClassification.fromPretrained(dir, { kernels: jsKernels, warn: () => {} });
const reference = {
  A: await load(writeVersion(join(root, 'refA'), 'A')),
  B: await load(writeVersion(join(root, 'refB'), 'B')),
};

/** 'A' or 'B' when the model's config and every weight are exactly that version's; 'mixed' otherwise. */
function versionOf(model: BertForSequenceClassification): 'A' | 'B' | 'mixed' {
  const byConfig = model.config.id2label[0] === 'B-negative' ? 'B' : 'A';
  const ref = reference[byConfig].store.data;
  const data = model.store.data;
  if (data.length !== ref.length) return 'mixed';
  for (let i = 0; i < data.length; i++) if (data[i] !== ref[i]) return 'mixed';
  return byConfig;
}

const isTyped = (err: unknown) =>
  err instanceof CheckpointFormatError || err instanceof ConfigError || err instanceof TokenizerError;

/** Runs `action` once, just before (or just after) the first fs.openSync of a file named `name`. */
function onOpen(name: string, when: 'before' | 'after', action: () => void): () => void {
  const original = fs.openSync;
  let fired = false;
  const hooked = ((path: fs.PathLike, ...rest: unknown[]) => {
    const hit = !fired && basename(String(path)) === name;
    if (hit && when === 'before') ((fired = true), action());
    const fd = (original as (...a: unknown[]) => number)(path, ...rest);
    if (hit && when === 'after') ((fired = true), action());
    return fd;
  }) as typeof fs.openSync;
  fs.openSync = hooked;
  syncBuiltinESMExports();
  return () => {
    fs.openSync = original;
    syncBuiltinESMExports();
    assert.ok(fired, `the hook on ${name} never fired`);
  };
}

/** Runs `action` once, just after the first fs.readSync from a descriptor opened on a file named `name`. */
function onFirstRead(name: string, action: () => void): () => void {
  const [open, read] = [fs.openSync, fs.readSync];
  let fd = -1;
  let fired = false;
  fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const opened = (open as (...a: unknown[]) => number)(path, ...rest);
    if (fd < 0 && basename(String(path)) === name) fd = opened;
    return opened;
  }) as typeof fs.openSync;
  fs.readSync = ((handle: number, ...rest: unknown[]) => {
    const n = (read as (...a: unknown[]) => number)(handle, ...rest);
    if (!fired && handle === fd) ((fired = true), action());
    return n;
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  return () => {
    [fs.openSync, fs.readSync] = [open, read];
    syncBuiltinESMExports();
    assert.ok(fired, `the hook on reading ${name} never fired`);
  };
}

/** Loads with the hook installed; the outcome must be a whole version or a typed error (whose message is checked). */
async function loadDuring(
  dir: string,
  name: string,
  when: 'before' | 'after' | 'first read',
  action: () => void,
): Promise<'A' | 'B' | Error> {
  const unhook = when === 'first read' ? onFirstRead(name, action) : onOpen(name, when, action);
  try {
    const version = versionOf(await load(dir));
    assert.notEqual(version, 'mixed', 'a model mixing two versions was returned');
    return version as 'A' | 'B';
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(isTyped(err), `only typed errors may escape, got ${err instanceof Error ? err.stack : String(err)}`);
    return err as Error;
  } finally {
    unhook();
  }
}

function assertTypedError(outcome: 'A' | 'B' | Error, message: RegExp): void {
  assert.ok(outcome instanceof Error, `expected a typed error, got a model of version ${String(outcome)}`);
  assert.match(outcome.message, message);
}

test('model.safetensors swapped for a truncated copy between the config read and the weights read: typed error', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'before', () =>
    replaceFile(join(dir, 'model.safetensors'), weightsA.subarray(0, weightsA.length - 1000)),
  );
  assertTypedError(outcome, /model\.safetensors: .*outside the data section.*truncated/);
});

test('model.safetensors swapped for weights of another hidden size before it is opened: typed error', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'before', () =>
    replaceFile(join(dir, 'model.safetensors'), weightsWide),
  );
  assertTypedError(
    outcome,
    /model\.safetensors: tensor "bert\.embeddings\.word_embeddings\.weight" has shape \[1881, 64\] but the config expects \[1881, 32\]/,
  );
});

test('config.json replaced (other hidden size) after the weights were opened: typed error, not a mix', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'after', () =>
    replaceFile(join(dir, 'config.json'), JSON.stringify(configWide)),
  );
  assertTypedError(outcome, /config\.json: was replaced while the folder was being loaded/);
});

test('config.json replaced by version B before the weights are opened: typed error, not config B with weights A', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'before', () =>
    replaceFile(join(dir, 'config.json'), JSON.stringify(configB)),
  );
  assertTypedError(outcome, /config\.json: was replaced while the folder was being loaded/);
});

// A change between the open and the first read is indistinguishable from one before the open (the reader then sees
// one whole version of the file, as the folder holds it); these hooks fire after the reader has read the header length.
test('model.safetensors truncated in place while it is read: typed error', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'first read', () =>
    truncateSync(join(dir, 'model.safetensors'), 5000),
  );
  assertTypedError(outcome, /model\.safetensors: .*(shrank while being read|written to while being read)/);
});

test('model.safetensors rewritten in place with version B bytes while it is read: typed error', async () => {
  const dir = folder();
  const outcome = await loadDuring(dir, 'model.safetensors', 'first read', () => {
    const fd = fs.openSync(join(dir, 'model.safetensors'), 'r+');
    fs.writeSync(fd, weightsB, 0, weightsB.length, 0);
    fs.closeSync(fd);
  });
  assertTypedError(
    outcome,
    /model\.safetensors: (the file was written to while being read|was rewritten while the folder was being loaded)/,
  );
});

test('model.safetensors deleted, or replaced by version B, after it was opened: typed error', async () => {
  let dir = folder();
  assertTypedError(
    await loadDuring(dir, 'model.safetensors', 'after', () => unlinkSync(join(dir, 'model.safetensors'))),
    /model\.safetensors: was deleted or renamed away/,
  );
  dir = folder();
  assertTypedError(
    await loadDuring(dir, 'model.safetensors', 'after', () => replaceFile(join(dir, 'model.safetensors'), weightsB)),
    /model\.safetensors: was replaced/,
  );
});

test('the folder renamed away after config.json is read, or while the weights are read: typed error naming it', async () => {
  let dir = folder();
  assertTypedError(
    await loadDuring(dir, 'config.json', 'after', () => renameSync(dir, `${dir}.away`)),
    /no weights file|config\.json: was deleted or renamed away/,
  );
  dir = folder();
  assertTypedError(
    await loadDuring(dir, 'model.safetensors', 'after', () => renameSync(dir, `${dir}.away`)),
    /config\.json: was deleted or renamed away/,
  );
});

test('nothing changes: the model equals the reference; a folder symlink swapped mid-load is read whole from one version', async () => {
  assert.equal(versionOf(await load(folder())), 'A');
  const a = folder('A'),
    b = folder('B');
  const link = join(root, 'current');
  symlinkSync(a, link);
  const outcome = await loadDuring(link, 'model.safetensors', 'before', () => {
    symlinkSync(b, `${link}.new`);
    renameSync(`${link}.new`, link);
  });
  assert.equal(outcome, 'A', 'resolved once: all of version A');
  assert.equal(versionOf(await load(link)), 'B', 'the next load sees version B');
});

test('tokenizer folder: tokenizer_config.json replaced or tokenizer.json truncated mid-read gives a TokenizerError', () => {
  let dir = folder();
  let unhook = onOpen('tokenizer.json', 'after', () =>
    replaceFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false })),
  );
  assert.throws(
    () => BertTokenizer.fromPretrained(dir),
    (e: unknown) =>
      e instanceof TokenizerError &&
      /tokenizer_config\.json: replaced, changed or deleted while the tokenizer folder was being read/.test(e.message),
  );
  unhook();
  dir = folder();
  unhook = onOpen('tokenizer.json', 'after', () => truncateSync(join(dir, 'tokenizer.json'), 100));
  assert.throws(
    () => BertTokenizer.fromPretrained(dir),
    (e: unknown) =>
      e instanceof TokenizerError &&
      /tokenizer\.json: (the file changed while being read|not valid JSON)/.test(e.message),
  );
  unhook();
});

test('pipeline(): a folder symlink swapped between the tokenizer and the model load still gives one version', async () => {
  const a = folder('A'),
    b = folder('B');
  const link = join(root, 'pipeline-current');
  symlinkSync(a, link);
  const unhook = onOpen('config.json', 'before', () => {
    symlinkSync(b, `${link}.new`);
    renameSync(`${link}.new`, link);
  });
  const pipe = await pipeline('text-classification', link, { kernels: jsKernels, warn: () => {} });
  unhook();
  assert.equal(pipe.config.id2label[0], 'negative', 'model of version A, as the tokenizer');
});

/** A writer thread looping `script` (CommonJS, `d` = workerData) until stopped; returns the stop function and its count. */
function racingWriter(script: string, data: Record<string, unknown>): { stop: () => Promise<number> } {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const fs = require('node:fs'); const { workerData: d } = require('node:worker_threads'); const c = new Int32Array(d.control);
     while (Atomics.load(c, 0) === 0) { try { ${script} } catch {} Atomics.add(c, 1, 1); }`,
    { eval: true, workerData: { ...data, control: control.buffer } },
  );
  return {
    stop: async () => {
      Atomics.store(control, 0, 1);
      await new Promise((resolve) => worker.once('exit', resolve));
      return Atomics.load(control, 1);
    },
  };
}

/** Loads `dir` `n` times while the writer runs; counts the outcomes and fails on a mixed model or a foreign error. */
async function raceLoads(
  dir: string,
  n: number,
  writer: { stop: () => Promise<number> },
): Promise<Record<string, number>> {
  const counts: Record<string, number> = { A: 0, B: 0, typedError: 0 };
  try {
    for (let i = 0; i < n; i++) {
      try {
        const version = versionOf(await load(dir));
        assert.notEqual(version, 'mixed', `load ${i} returned a model mixing two versions`);
        counts[version]!++;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(
          isTyped(err),
          `load ${i}: only typed errors may escape, got ${err instanceof Error ? err.stack : String(err)}`,
        );
        counts.typedError!++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    counts.writes = await writer.stop();
  }
  return counts;
}

test(
  'racing writers: symlink swaps A/B, in-place truncate + rewrite, folder renamed back and forth (100 loads each)',
  { timeout: 120_000 },
  async (t) => {
    const a = folder('A'),
      b = folder('B');
    const link = join(root, 'race-current');
    symlinkSync(a, link);
    const swaps = await raceLoads(
      link,
      100,
      racingWriter(
        `fs.symlinkSync(d.n % 2 ? d.b : d.a, d.link + '.new'); fs.renameSync(d.link + '.new', d.link); d.n++;`,
        { a, b, link, n: 0 },
      ),
    );
    t.diagnostic(`symlink swaps: ${JSON.stringify(swaps)}`);
    assert.equal(swaps.typedError, 0, 'a swapped symlink is resolved once: every load succeeds');

    const dir = folder('A');
    const weights = join(dir, 'model.safetensors');
    const rewrites = await raceLoads(
      dir,
      100,
      racingWriter(
        `fs.truncateSync(d.weights, 4000); const fd = fs.openSync(d.weights, 'r+'); fs.writeSync(fd, d.bytes, 0, d.bytes.length, 0); fs.closeSync(fd);`,
        { weights, bytes: weightsA },
      ),
    );
    t.diagnostic(`in-place truncate + rewrite: ${JSON.stringify(rewrites)}`);
    assert.equal(rewrites.B, 0, 'only version A is ever written');

    const moved = folder('A');
    const renames = await raceLoads(
      moved,
      100,
      racingWriter(`fs.renameSync(d.dir, d.dir + '.away'); fs.renameSync(d.dir + '.away', d.dir);`, { dir: moved }),
    );
    t.diagnostic(`folder renamed away and back: ${JSON.stringify(renames)}`);
    assert.equal(renames.B, 0, 'only version A exists');
  },
);
