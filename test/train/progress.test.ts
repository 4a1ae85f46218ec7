// Progress output: bar text on a TTY, JSON lines otherwise and in the log file, and a well-formed SVG curve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProgressReporter, formatBar, formatDuration, trainingCurveSvg } from '../../src/train/progress.js';
import { tempDir } from '../helpers/temp.js';

const rec = (step: number, loss: number) => ({
  step,
  totalSteps: 10,
  epoch: step / 5,
  loss,
  lr: 5e-5,
  examplesPerSecond: 8,
  etaSeconds: 65,
});

test('formatDuration and formatBar', () => {
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3720), '1h02m');
  const bar = formatBar(rec(5, 0.69314), 10);
  assert.equal(bar, '[#####.....] step 5/10 ep 1.00 loss 0.6931 lr 5.0e-5 8.0 ex/s ETA 1m05s');
});

test('non-TTY: JSON lines to the stream (throttled) and every step to the log file', () => {
  const out: string[] = [];
  const log = join(tempDir('prog'), 'sub', 'train.jsonl');
  const p = new ProgressReporter({
    stream: { write: (s) => (out.push(s), true), isTTY: false },
    logFile: log,
    intervalMs: 1e9,
  });
  for (let s = 1; s <= 10; s++) p.step(rec(s, 1 / s));
  p.evaluation({ step: 10, epoch: 2, metrics: { accuracy: 0.75 } });
  // First step (interval starts at 0) and the last step are drawn; the rest are throttled.
  const streamed = out.map((l) => JSON.parse(l) as { event: string; step?: number });
  assert.deepEqual(
    streamed.map((l) => [l.event, l.step]),
    [
      ['step', 1],
      ['step', 10],
      ['eval', 10],
    ],
  );
  const lines = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; loss?: number });
  assert.equal(lines.filter((l) => l.event === 'step').length, 10);
  assert.equal(lines[1]!.loss, 0.5);
});

test('TTY: carriage-return bar, messages on their own line', () => {
  const out: string[] = [];
  const p = new ProgressReporter({ stream: { write: (s) => (out.push(s), true) }, tty: true, intervalMs: 0 });
  p.step(rec(1, 0.7));
  p.message('checkpoint saved');
  p.finish();
  assert.match(out[0]!, /^\r\x1b\[2K\[#/);
  assert.equal(out[1], '\r\x1b[2Kcheckpoint saved\n');
});

test('trainingCurveSvg is self-contained and plots loss and metrics', () => {
  const svg = trainingCurveSvg(
    [rec(1, 0.9), rec(2, Number.NaN), rec(3, 0.4)],
    [{ step: 3, epoch: 1, metrics: { accuracy: 0.8, examples: 10 } }],
    'a <b> & c',
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.ok(svg.includes('a &lt;b&gt; &amp; c'));
  assert.ok(!/<script|href=/.test(svg));
  assert.equal((svg.match(/<circle/g) ?? []).length, 1); // one eval point, 'examples' not plotted
  assert.match(svg, /<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/); // NaN step dropped: two loss points
});
