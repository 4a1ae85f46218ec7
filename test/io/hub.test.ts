// Hub download against a local fake hub (127.0.0.1): cache layout shared with huggingface_hub, resume, checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubError, downloadHubFile, hfCacheDir, readSafetensors, resolveModelPath } from '../../src/io/index.js';
import { FakeHub, gitBlobSha1, sha256, type FakeFile } from './helpers/fake-hub.js';

const FIX = '../shared/fixtures/hf-tiny';
const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = '0123456789abcdef0123456789abcdef01234567';
const weights = readFileSync(`${FIX}/seq_cls3/model.safetensors`);
const config = readFileSync(`${FIX}/seq_cls3/config.json`);
const bin = readFileSync(`${FIX}/pretraining_bin/pytorch_model.bin`);
const filesB: Record<string, FakeFile> = {
  'config.json': { content: config },
  'vocab.txt': { content: readFileSync(`${FIX}/tokenizer/vocab.txt`) },
  'tokenizer.json': { content: readFileSync(`${FIX}/tokenizer/tokenizer.json`) },
  'tokenizer_config.json': { content: readFileSync(`${FIX}/tokenizer/tokenizer_config.json`) },
  'model.safetensors': { content: weights, lfs: true },
};
const configA = Buffer.from(JSON.stringify({ ...JSON.parse(config.toString()), _note: 'revision v1' }));

const hub = new FakeHub();
let root = '';
let endpoint = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bert-ts-hub-'));
  endpoint = await hub.start();
  hub.repos.set('org/bert-tiny', {
    refs: { main: COMMIT_B, v1: COMMIT_A },
    commits: { [COMMIT_B]: filesB, [COMMIT_A]: { ...filesB, 'config.json': { content: configA } } },
  });
  hub.repos.set('org/private-bert', { refs: { main: COMMIT_B }, commits: { [COMMIT_B]: filesB }, token: 'hf_secret' });
  hub.repos.set('org/bin-only', {
    refs: { main: COMMIT_B },
    commits: { [COMMIT_B]: { 'config.json': { content: config }, 'pytorch_model.bin': { content: bin, lfs: true } } },
  });
  hub.repos.set('org/big', {
    refs: { main: COMMIT_B },
    commits: { [COMMIT_B]: { 'config.json': { content: config }, 'model.safetensors': { content: bin, lfs: true } } },
  });
  hub.repos.set('org/sharded', {
    refs: { main: COMMIT_B },
    commits: {
      [COMMIT_B]: {
        'config.json': { content: config },
        'model.safetensors.index.json': {
          content: Buffer.from(
            JSON.stringify({
              metadata: {},
              weight_map: {
                a: 'model-00001-of-00002.safetensors',
                b: 'model-00002-of-00002.safetensors',
                c: 'model-00001-of-00002.safetensors',
              },
            }),
          ),
        },
        'model-00001-of-00002.safetensors': { content: weights, lfs: true },
        'model-00002-of-00002.safetensors': { content: bin, lfs: true },
      },
    },
  });
  hub.renamed.set('old-org/bert-tiny', 'org/bert-tiny');
});

after(async () => {
  await hub.stop();
  rmSync(root, { recursive: true, force: true });
});

const cache = (name: string) => join(root, name);

test('fresh download: HF cache layout (blobs by etag/sha256, relative snapshot links, refs, .no_exist)', async () => {
  const cacheDir = cache('fresh');
  const folder = await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, token: '' });
  const repoDir = join(cacheDir, 'models--org--bert-tiny');
  assert.equal(folder, join(repoDir, 'snapshots', COMMIT_B));
  assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT_B, 'refs/main holds the commit, no newline');
  assert.deepEqual(readdirSync(folder).sort(), [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  const link = join(folder, 'model.safetensors');
  assert.ok(lstatSync(link).isSymbolicLink(), 'lstatSync(link).isSymbolicLink()');
  assert.equal(
    readlinkSync(link),
    join('..', '..', 'blobs', sha256(weights)),
    'LFS blob named by its sha256, linked relatively',
  );
  assert.equal(
    readlinkSync(join(folder, 'config.json')),
    join('..', '..', 'blobs', gitBlobSha1(config)),
    'regular blob named by its git ETag',
  );
  assert.ok(readFileSync(link).equals(weights), 'readFileSync(link).equals(weights)');
  assert.ok(
    existsSync(join(repoDir, '.no_exist', COMMIT_B, 'special_tokens_map.json')),
    'a missing optional file is recorded',
  );
  assert.equal(readSafetensors(link).tensors.get('classifier.weight')!.shape.join('x'), '3x32');
  assert.deepEqual(
    readdirSync(join(repoDir, 'blobs')).filter((n) => n.endsWith('.incomplete')),
    [],
  );
});

test('cache hit: only metadata requests, no content downloaded again; a pinned commit needs no network', async () => {
  const cacheDir = cache('fresh');
  const before = hub.log.length;
  const folder = await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, token: '' });
  const requests = hub.log.slice(before);
  assert.ok(requests.length > 0, 'requests.length > 0');
  assert.deepEqual(
    requests.filter((r) => r.method !== 'HEAD'),
    [],
    'nothing but HEAD requests',
  );
  assert.equal(folder, join(cacheDir, 'models--org--bert-tiny', 'snapshots', COMMIT_B));
  const n = hub.log.length;
  assert.equal(await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, revision: COMMIT_B, token: '' }), folder);
  assert.equal(hub.log.length, n, 'a cached commit hash is immutable: no request at all');
});

test('revision pinning: a tag resolves to its own commit and snapshot', async () => {
  const cacheDir = cache('fresh');
  const folder = await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, revision: 'v1', token: '' });
  assert.equal(folder, join(cacheDir, 'models--org--bert-tiny', 'snapshots', COMMIT_A));
  assert.equal(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'))._note, 'revision v1');
  assert.equal(readFileSync(join(cacheDir, 'models--org--bert-tiny', 'refs', 'v1'), 'utf8'), COMMIT_A);
  // Identical files share one blob between the two commits.
  assert.equal(
    statSync(join(folder, 'model.safetensors')).ino,
    statSync(join(cacheDir, 'models--org--bert-tiny', 'snapshots', COMMIT_B, 'model.safetensors')).ino,
  );
  await assert.rejects(
    resolveModelPath('org/bert-tiny', { endpoint, cacheDir, revision: 'v9', token: '' }),
    (err: unknown) =>
      err instanceof HubError &&
      /org\/bert-tiny\/config\.json at revision "v9": revision "v9" not found \(HTTP 404\)/.test(err.message),
  );
});

test('redirect: a renamed repo answers with a relative redirect, which is followed', async () => {
  const cacheDir = cache('renamed');
  const folder = await resolveModelPath('old-org/bert-tiny', { endpoint, cacheDir, token: '' });
  assert.ok(
    readFileSync(join(folder, 'model.safetensors')).equals(weights),
    "readFileSync(join(folder, 'model.safetensors')).equals(weights)",
  );
  assert.ok(folder.includes('models--old-org--bert-tiny'), "folder.includes('models--old-org--bert-tiny')");
});

test('interrupted download: resumed with Range, automatically and across calls', async () => {
  const sha = sha256(weights);
  // Across calls: no retries, the first call fails and leaves the partial file, the second resumes.
  const cacheDir = cache('resume');
  hub.cutAfter.set(sha, 100_000);
  await assert.rejects(
    downloadHubFile('org/bert-tiny', 'model.safetensors', { endpoint, cacheDir, retries: 0, token: '' }),
    (err: unknown) =>
      err instanceof HubError && /interrupted after 100000 of \d+ bytes.*run again to resume/.test(err.message),
  );
  const incomplete = join(cacheDir, 'models--org--bert-tiny', 'blobs', `${sha}.incomplete`);
  assert.equal(statSync(incomplete).size, 100_000);
  const before = hub.log.length;
  const path = await downloadHubFile('org/bert-tiny', 'model.safetensors', { endpoint, cacheDir, token: '' });
  assert.ok(readFileSync(path).equals(weights), 'readFileSync(path).equals(weights)');
  assert.deepEqual(
    hub.log
      .slice(before)
      .filter((r) => r.path.startsWith('/cdn/'))
      .map((r) => r.range),
    ['bytes=100000-'],
  );
  assert.equal(existsSync(incomplete), false);
  // Within one call: the default retries resume by themselves.
  const cacheDir2 = cache('resume2');
  hub.cutAfter.set(sha, 50_000);
  const before2 = hub.log.length;
  const path2 = await downloadHubFile('org/bert-tiny', 'model.safetensors', {
    endpoint,
    cacheDir: cacheDir2,
    token: '',
  });
  assert.ok(readFileSync(path2).equals(weights), 'readFileSync(path2).equals(weights)');
  assert.deepEqual(
    hub.log
      .slice(before2)
      .filter((r) => r.path.startsWith('/cdn/'))
      .map((r) => r.range),
    [undefined, 'bytes=50000-'],
  );
});

test('corrupted download: sha256 mismatch detected, nothing kept', async () => {
  const cacheDir = cache('corrupt');
  const sha = sha256(weights);
  hub.corrupt.add(sha);
  try {
    await assert.rejects(
      resolveModelPath('org/bert-tiny', { endpoint, cacheDir, token: '' }),
      (err: unknown) =>
        err instanceof HubError &&
        new RegExp(
          `model\\.safetensors at revision "main": downloaded file is corrupted \\(sha256 [0-9a-f]{64}, expected ${sha}\\)`,
        ).test(err.message),
    );
  } finally {
    hub.corrupt.delete(sha);
  }
  const repoDir = join(cacheDir, 'models--org--bert-tiny');
  assert.deepEqual(
    readdirSync(join(repoDir, 'blobs')).filter((n) => n.startsWith(sha)),
    [],
  );
  assert.equal(existsSync(join(repoDir, 'snapshots', COMMIT_B, 'model.safetensors')), false);
  // A damaged cached blob (wrong size) is fetched again.
  const folder = await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, token: '' });
  writeFileSync(join(repoDir, 'blobs', sha), 'truncated');
  await resolveModelPath('org/bert-tiny', { endpoint, cacheDir, token: '' });
  assert.ok(
    readFileSync(join(folder, 'model.safetensors')).equals(weights),
    "readFileSync(join(folder, 'model.safetensors')).equals(weights)",
  );
});

test('offline mode uses only the cache; an uncached repo is a clear error; HF_HUB_OFFLINE is honoured', async () => {
  const cacheDir = cache('fresh');
  const n = hub.log.length;
  const folder = await resolveModelPath('org/bert-tiny', { cacheDir, offline: true, endpoint: 'http://127.0.0.1:9' });
  assert.equal(folder, join(cacheDir, 'models--org--bert-tiny', 'snapshots', COMMIT_B));
  assert.equal(hub.log.length, n, 'no request in offline mode');
  await assert.rejects(
    resolveModelPath('org/other', { cacheDir, offline: true }),
    (err: unknown) =>
      err instanceof HubError &&
      /org\/other\/config\.json at revision "main": offline mode \(HF_HUB_OFFLINE\) and the file is not in the cache/.test(
        err.message,
      ),
  );
  const saved = process.env['HF_HUB_OFFLINE'];
  process.env['HF_HUB_OFFLINE'] = '1';
  try {
    assert.equal(await resolveModelPath('org/bert-tiny', { cacheDir, endpoint }), folder);
    assert.equal(hub.log.length, n);
  } finally {
    if (saved === undefined) delete process.env['HF_HUB_OFFLINE'];
    else process.env['HF_HUB_OFFLINE'] = saved;
  }
  // Hub unreachable (not offline mode): the cached revision is used, as huggingface_hub does.
  assert.equal(
    await resolveModelPath('org/bert-tiny', { cacheDir, endpoint: 'http://127.0.0.1:9', token: '' }),
    folder,
  );
});

test('404: missing repo and missing file are errors naming repo, file and revision', async () => {
  const cacheDir = cache('404');
  await assert.rejects(
    resolveModelPath('org/no-such-model', { endpoint, cacheDir, token: '' }),
    (err: unknown) =>
      err instanceof HubError &&
      /^org\/no-such-model\/config\.json at revision "main": repository not found \(HTTP 404\) \(Repository not found\)/.test(
        err.message,
      ),
  );
  await assert.rejects(
    downloadHubFile('org/bert-tiny', 'nope.txt', { endpoint, cacheDir, token: '' }),
    (err: unknown) =>
      err instanceof HubError &&
      /^org\/bert-tiny\/nope\.txt at revision "main": not found \(HTTP 404\)/.test(err.message),
  );
  await assert.rejects(
    resolveModelPath('org/../../etc', { endpoint, cacheDir }),
    /does not exist|not a valid hub repo id/,
  );
  await assert.rejects(downloadHubFile('org/bert-tiny', '../secret', { endpoint, cacheDir }), /invalid file name/);
});

test('token: sent as Bearer to the hub only, never to the CDN; missing token is a clear error', async () => {
  const cacheDir = cache('private');
  await assert.rejects(
    resolveModelPath('org/private-bert', { endpoint, cacheDir, token: '' }),
    (err: unknown) => err instanceof HubError && /access denied \(HTTP 401\).*set HF_TOKEN/.test(err.message),
  );
  const before = hub.log.length;
  const saved = process.env['HF_TOKEN'];
  process.env['HF_TOKEN'] = 'hf_secret';
  try {
    const folder = await resolveModelPath('org/private-bert', { endpoint, cacheDir });
    assert.ok(
      readFileSync(join(folder, 'model.safetensors')).equals(weights),
      "readFileSync(join(folder, 'model.safetensors')).equals(weights)",
    );
  } finally {
    if (saved === undefined) delete process.env['HF_TOKEN'];
    else process.env['HF_TOKEN'] = saved;
  }
  const requests = hub.log.slice(before);
  assert.ok(
    requests.filter((r) => r.path.includes('/resolve/')).every((r) => r.authorization === 'Bearer hf_secret'),
    "requests.filter((r) => r.path.includes('/resolve/')).every((r) => r.authorization === 'Bearer hf_secret')",
  );
  const cdn = requests.filter((r) => r.path.startsWith('/cdn/'));
  assert.ok(
    cdn.length > 0 && cdn.every((r) => r.authorization === undefined),
    'cdn.length > 0 && cdn.every((r) => r.authorization === undefined)',
  );
});

test('weights fallback to sharded safetensors and pytorch_model.bin; a local folder is used as is', async () => {
  const cacheDir = cache('bin');
  const folder = await resolveModelPath('org/bin-only', { endpoint, cacheDir, token: '' });
  assert.ok(
    readFileSync(join(folder, 'pytorch_model.bin')).equals(bin),
    "readFileSync(join(folder, 'pytorch_model.bin')).equals(bin)",
  );
  assert.equal(existsSync(join(folder, 'model.safetensors')), false);
  assert.equal(await resolveModelPath(`${FIX}/seq_cls3`), join(process.cwd(), FIX, 'seq_cls3'));
  await assert.rejects(resolveModelPath('./no/such/folder'), /model folder \.\/no\/such\/folder does not exist/);
  const sharded = await resolveModelPath('org/sharded', { endpoint, cacheDir, token: '' });
  assert.deepEqual(
    readdirSync(sharded).sort(),
    [
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ],
    'index and both shards',
  );
  hub.repos.set('org/config-only', {
    refs: { main: COMMIT_B },
    commits: { [COMMIT_B]: { 'config.json': { content: config } } },
  });
  await assert.rejects(
    resolveModelPath('org/config-only', { endpoint, cacheDir, token: '' }),
    /^HubError: org\/config-only at revision "main" has no weights: none of model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin found/,
  );
});

test('cache location follows HF_HUB_CACHE, then HF_HOME/hub, then XDG / ~/.cache', () => {
  assert.equal(hfCacheDir({ HF_HUB_CACHE: '/x/hub', HF_HOME: '/y' }), '/x/hub');
  assert.equal(hfCacheDir({ HF_HOME: '/y' }), join('/y', 'hub'));
  assert.equal(hfCacheDir({ XDG_CACHE_HOME: '/z' }), join('/z', 'huggingface', 'hub'));
  mkdirSync(join(root, 'unused'), { recursive: true });
});
