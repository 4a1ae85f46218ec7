// Question answering on a RoBERTa: the windows (<s> question </s></s> context </s>, every type 0, overflowing with a
// stride) equal those HF tokenizers makes, the model's logits equal transformers', and the pipeline's answers are
// the ones decoded from transformers' logits. Fixture: scripts/fixtures/roberta_qa.py.
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerQuestions, type QaWindow } from '../../src/data/qa-spans.js';
import { AutoModelForQuestionAnswering } from '../../src/model/auto.js';
import { pipeline } from '../../src/pipelines/index.js';
import { loadPipelineTokenizer } from '../../src/pipelines/tokenizer.js';
import { pipelineFolders } from '../tokenizer/helpers/oracle.js';

const DIR = 'test/pipelines/fixtures/roberta-qa';
/** The model's tokenizer: test/tokenizer/fixtures/bpe-roberta.json (RobertaProcessing), as a folder. */
const TOKENIZER = pipelineFolders()['bpe-roberta']!;
interface Case {
  question: string;
  context: string;
  max_seq_len: number;
  doc_stride: number;
  windows: { input_ids: number[]; p_mask: number[]; start_logits: number[]; end_logits: number[] }[];
}
const CASES = JSON.parse(readFileSync(`${DIR}/expected.json`, 'utf8')) as Case[];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('RoBERTa QA: windows as HF tokenizers, logits as transformers, answers as decoded from those logits', async () => {
  const tok = await loadPipelineTokenizer(TOKENIZER);
  const model = await AutoModelForQuestionAnswering.fromPretrained(DIR);
  const qa = await pipeline('question-answering', DIR, { tokenizer: TOKENIZER });
  assert.ok(
    CASES.some((c) => c.windows.length > 4),
    'a context of several windows',
  );
  for (const c of CASES) {
    const options = { maxSeqLen: c.max_seq_len, docStride: c.doc_stride, maxAnswerLen: 15, topK: 3 };
    const seen: QaWindow[] = [];
    const fromHf = answerQuestions(tok, [c], { ...options, batchSize: 64, handleImpossibleAnswer: true }, (windows) => {
      seen.push(...windows);
      return c.windows.map((w) => ({ start: w.start_logits, end: w.end_logits }));
    })[0]!;
    assert.deepEqual(
      seen.map((w) => w.inputIds),
      c.windows.map((w) => w.input_ids),
      c.question,
    );
    assert.deepEqual(
      seen.map((w) => w.pMask),
      c.windows.map((w) => w.p_mask),
    );
    assert.ok(seen.every((w) => w.tokenTypeIds.every((t) => t === 0)));
    for (const [i, w] of seen.entries()) {
      const shape = [1, w.inputIds.length];
      const out = model.forward({ inputIds: { data: Int32Array.from(w.inputIds), shape } }, { grad: false });
      assert.ok(maxDiff(out.startLogits.data, c.windows[i]!.start_logits) < 1e-4, `${c.question} window ${i} start`);
      assert.ok(maxDiff(out.endLogits.data, c.windows[i]!.end_logits) < 1e-4, `${c.question} window ${i} end`);
    }
    const answers = (await qa(c.question, c.context, { ...options, handleImpossibleAnswer: true })) as typeof fromHf;
    assert.deepEqual(
      answers.map((a) => [a.start, a.end, a.answer]),
      fromHf.map((a) => [a.start, a.end, a.answer]),
    );
    answers.forEach((a, i) =>
      assert.ok(Math.abs(a.score - fromHf[i]!.score) < 1e-5, `${a.score} vs ${fromHf[i]!.score}`),
    );
  }
});
