// Corpus readers: the original BERT text format (blank lines between documents), JSONL(.gz), formats and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detectCorpusFormat, readCorpusDocuments, readCorpusTexts } from '../../src/data/pretraining-input.js';

const dir = mkdtempSync(join(tmpdir(), 'bert-ts-input-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

async function all<T>(g: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

test('plain text: a sentence a line, blank lines (any number, CRLF, spaces) end documents', async () => {
  const p = join(dir, 'c.txt');
  writeFileSync(
    p,
    '\ufeffFirst doc, one.\r\nFirst doc, two.\r\n\r\n\r\n   \nSecond doc.\n\nThird doc a.\nThird doc b.',
  );
  const docs = await all(readCorpusDocuments([p]));
  assert.deepEqual(
    docs.map((d) => d.sentences),
    [['First doc, one.', 'First doc, two.'], ['Second doc.'], ['Third doc a.', 'Third doc b.']],
  );
  assert.equal(docs[1]!.source, `${p}:6`);
  assert.deepEqual(await all(readCorpusTexts([p])), [
    'First doc, one.',
    'First doc, two.',
    'Second doc.',
    'Third doc a.',
    'Third doc b.',
  ]);
  // Several files: a file boundary also ends a document.
  const q = join(dir, 'd.txt.gz');
  writeFileSync(q, gzipSync('Gz doc.\n'));
  assert.deepEqual(
    (await all(readCorpusDocuments([p, q]))).map((d) => d.sentences.length),
    [2, 1, 2, 1],
  );
});

test('JSONL(.gz): each text a document split into sentences; <br /> removed for vocabulary counting', async () => {
  const p = join(dir, 'r.jsonl.gz');
  writeFileSync(
    p,
    gzipSync('{"text": "Great film. Loved it!<br /><br />Would watch again."}\n\n{"text": ""}\n{"text": "Second."}\n'),
  );
  const docs = await all(readCorpusDocuments([p]));
  assert.deepEqual(
    docs.map((d) => d.sentences),
    [['Great film.', 'Loved it!', 'Would watch again.'], ['Second.']],
  );
  assert.deepEqual(await all(readCorpusTexts([p])), ['Great film. Loved it!  Would watch again.', '', 'Second.']);
  const f = join(dir, 'f.jsonl');
  writeFileSync(f, '{"review": "Other field."}\n');
  assert.deepEqual((await all(readCorpusDocuments([f], { textField: 'review' })))[0]!.sentences, ['Other field.']);
  await assert.rejects(all(readCorpusDocuments([f])), /f\.jsonl:1: no string field "text" \(fields: review\)/);
  writeFileSync(f, '{"text": "ok"}\n{oops\n');
  await assert.rejects(all(readCorpusDocuments([f])), /f\.jsonl:2: not valid JSON/);
  await assert.rejects(all(readCorpusDocuments([join(dir, 'missing.txt')])), /missing\.txt: file not found/);
});

test('format from the file name', () => {
  assert.equal(detectCorpusFormat('a/train.jsonl.gz'), 'jsonl');
  assert.equal(detectCorpusFormat('x.NDJSON'), 'jsonl');
  assert.equal(detectCorpusFormat('wiki.txt'), 'text');
  assert.equal(detectCorpusFormat('corpus'), 'text');
});
