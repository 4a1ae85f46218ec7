// readJsonFile errors and writeFileAtomic's all-or-nothing behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointFormatError, readJsonFile, writeFileAtomic } from '../../src/io/index.js';
import { jsonErrorOffset } from '../../src/io/files.js';
import { seeded } from '../helpers/seeded.js';

test('readJsonFile: parses, and names the file, line and column of a syntax error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-json-'));
  try {
    const good = join(dir, 'config.json');
    writeFileSync(good, '\ufeff{"hidden_size": 32}');
    assert.deepEqual(readJsonFile(good, 'config.json'), { hidden_size: 32 });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{\n  "a": 1,\n  "b": ,\n}');
    assert.throws(
      () => readJsonFile(bad, 'config.json'),
      (err: unknown) => {
        assert.ok(err instanceof CheckpointFormatError, 'err instanceof CheckpointFormatError');
        assert.match(
          err.message,
          new RegExp(
            `^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: config\\.json is not valid JSON at line 3, column 8`,
          ),
        );
        return true;
      },
    );
    assert.throws(
      () => readJsonFile(join(dir, 'missing.json'), 'config.json'),
      /missing\.json: cannot read config\.json: file not found/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic: replaces the file whole; a failing write leaves the old file and no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bert-ts-atomic-'));
  try {
    const path = join(dir, 'ckpt.bin');
    writeFileAtomic(path, 'old');
    writeFileAtomic(path, [Buffer.from('new '), Buffer.from('content')]);
    assert.equal(readFileSync(path, 'utf8'), 'new content');
    function* failing(): Generator<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('disk full (simulated)');
    }
    assert.throws(() => writeFileAtomic(path, failing()), /disk full/);
    assert.equal(readFileSync(path, 'utf8'), 'new content');
    assert.deepEqual(readdirSync(dir), ['ckpt.bin']);
    assert.throws(() => writeFileAtomic(join(dir, 'no-such-dir', 'x'), 'x'), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jsonErrorOffset agrees with JSON.parse on mutated JSON (V8 is the reference)', () => {
  const base = JSON.stringify({ a: [1, -2.5e3, true, null, { b: 'x\\"\\u00e9\\n' }], c: {}, d: [], e: 'é' });
  const alphabet = '{}[],:" \\nu0123456789.eE+-tfalsrx';
  const rand = seeded(7);
  let invalid = 0;
  for (let k = 0; k < 3000; k++) {
    const chars = [...base];
    for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) {
      const p = Math.floor(rand() * chars.length);
      const r = rand();
      if (r < 0.4) chars[p] = alphabet[Math.floor(rand() * alphabet.length)]!;
      else if (r < 0.7) chars.splice(p, 1);
      else chars.splice(p, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
    }
    const text = chars.join('');
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
      invalid++;
    }
    assert.equal(jsonErrorOffset(text) === -1, parses, text);
  }
  assert.ok(invalid > 1000, 'invalid > 1000');
});
