// Sentence-transformers models and cross-encoders by hub id, from a local fake hub (127.0.0.1): every file
// sentence-transformers reads is downloaded (modules.json, module configs, Dense weights, a transformer in a module
// folder, config_sentence_transformers.json), and the outputs equal sentence-transformers' own.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { CrossEncoder, SentenceTransformer } from '../../src/model/sentence/index.js';
import { createModelServer } from '../../src/server/model-server.js';
import { FakeHub, type FakeFile } from '../io/helpers/fake-hub.js';
import { request } from '../server/helpers.js';

const DIR = new URL('../fixtures/sentence-transformers/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  texts: string[];
  models: Record<string, { embeddings: number[][] }>;
  cross_encoders: {
    query: string;
    documents: string[];
    models: Record<string, { scores: number[]; logits: number[] }>;
  };
};
const COMMIT = 'c'.repeat(40);

/** Every file under a fixture folder, weights stored with LFS as on the hub. */
function repoFiles(folder: string): Record<string, FakeFile> {
  const files: Record<string, FakeFile> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(folder, path)] = { content: readFileSync(path), lfs: name.endsWith('.safetensors') };
    }
  };
  walk(folder);
  return files;
}

/** mean_legacy with its transformer moved into 0_Transformer/, as older sentence-transformers saved it. */
function transformerInSubfolder(): Record<string, FakeFile> {
  const files = repoFiles(join(DIR, 'mean_legacy'));
  const moved: Record<string, FakeFile> = {};
  const inner = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
  for (const [path, file] of Object.entries(files))
    moved[inner.includes(path) || path === 'sentence_bert_config.json' ? `0_Transformer/${path}` : path] = file;
  const modules = JSON.parse(files['modules.json']!.content.toString()) as { path: string }[];
  modules[0]!.path = '0_Transformer';
  moved['modules.json'] = { content: Buffer.from(JSON.stringify(modules)) };
  return moved;
}

/** cross_encoder (>= 5.4 layout) with activation_fn Identity in config_sentence_transformers.json: raw logits. */
function identityCrossEncoder(): Record<string, FakeFile> {
  const files = repoFiles(join(DIR, 'cross_encoder'));
  const settings = JSON.parse(files['config_sentence_transformers.json']!.content.toString()) as Record<
    string,
    unknown
  >;
  settings['activation_fn'] = 'torch.nn.modules.linear.Identity';
  return { ...files, 'config_sentence_transformers.json': { content: Buffer.from(JSON.stringify(settings)) } };
}

const hub = new FakeHub();
let cache = '';

before(async () => {
  const repos: Record<string, Record<string, FakeFile>> = {
    'org/st-dense': repoFiles(join(DIR, 'cls_dense_tanh')),
    'org/st-legacy': repoFiles(join(DIR, 'multi_legacy')),
    'org/st-subfolder': transformerInSubfolder(),
    'org/ce': repoFiles(join(DIR, 'cross_encoder')),
    'org/ce-legacy': repoFiles(join(DIR, 'cross_encoder_identity')),
    'org/ce-identity': identityCrossEncoder(),
  };
  for (const [id, files] of Object.entries(repos))
    hub.repos.set(id, { refs: { main: COMMIT }, commits: { [COMMIT]: files } });
  process.env['HF_ENDPOINT'] = await hub.start();
  cache = mkdtempSync(join(tmpdir(), 'bert-st-hub-'));
  process.env['HF_HUB_CACHE'] = cache;
  process.env['HF_TOKEN'] = 'unused';
});

after(async () => {
  await hub.stop();
  rmSync(cache, { recursive: true, force: true });
});

function maxDiff(a: readonly ArrayLike<number>[], b: readonly number[][]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  b.forEach((row, i) => row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - a[i]![k]!)))));
  return worst;
}

test('SentenceTransformer.fromPretrained(hub id) downloads its modules and equals sentence-transformers', async () => {
  for (const [id, name] of [
    ['org/st-dense', 'cls_dense_tanh'],
    ['org/st-legacy', 'multi_legacy'],
    ['org/st-subfolder', 'mean_legacy'],
  ] as const) {
    const model = await SentenceTransformer.fromPretrained(id, { warn: () => {} });
    assert.ok(maxDiff(model.encode(expected.texts), expected.models[name]!.embeddings) <= 1e-4, id);
  }
  const requested = new Set(hub.log.map((r) => r.path.replace(/^\/[^/]+\/[^/]+\/resolve\/[^/]+\//, '')));
  for (const file of ['modules.json', 'config_sentence_transformers.json', '1_Pooling/config.json'])
    assert.ok(requested.has(file), file);
  for (const file of ['2_Dense/model.safetensors', '0_Transformer/model.safetensors', '0_Transformer/tokenizer.json'])
    assert.ok(requested.has(file), `${file} in ${[...requested].join(', ')}`);
});

test('CrossEncoder.fromPretrained(hub id) reads the activation of either layout', async () => {
  const { query, documents, models } = expected.cross_encoders;
  for (const [id, name] of [
    ['org/ce', 'cross_encoder'],
    ['org/ce-legacy', 'cross_encoder_identity'],
  ] as const) {
    const ce = await CrossEncoder.fromPretrained(id, { warn: () => {} });
    const scores = ce.predict(documents.map((d) => [query, d] as const)) as number[];
    assert.ok(maxDiff([scores], [models[name]!.scores]) <= 1e-4, id);
  }
  // The activation is read from the downloaded config_sentence_transformers.json.
  const identity = await CrossEncoder.fromPretrained('org/ce-identity', { warn: () => {} });
  assert.equal(identity.activation, 'identity');
  const logits = identity.predict(documents.map((d) => [query, d] as const)) as number[];
  assert.ok(maxDiff([logits], [models['cross_encoder']!.logits]) <= 1e-4);
});

test('a model server given a hub id picks its route from the downloaded folder', async () => {
  const server = await createModelServer({ model: 'org/ce' });
  try {
    assert.equal(server.task, 'text-ranking');
    const { port } = await server.listen(0, '127.0.0.1');
    const body = { query: expected.cross_encoders.query, documents: expected.cross_encoders.documents };
    const reply = await request(port, 'POST', '/rerank', JSON.stringify(body));
    assert.equal(reply.status, 200, reply.body);
    const top = (reply.json() as { corpus_id: number; score: number }[])[0]!;
    const scores = expected.cross_encoders.models['cross_encoder']!.scores;
    assert.ok(Math.abs(top.score - Math.max(...scores)) <= 1e-4);
  } finally {
    await server.close();
  }
});
