// Memory of a q8 model: BERT-base (random weights) loaded from its fp32 folder in fp32 and in q8 (quantized on load,
// fp32 weights kept), and from the q8 folder `bert quantize` writes (no fp32 copy of the int8 linears). Each load
// runs in its own child process: RSS after load + one 8x128 forward, and the process's peak RSS.
// Usage: node --import tsx bench/quantized-folder.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BertModel } from '../src/model/bert.js';
import { quantizeFolder } from '../src/model/quantize-folder.js';
import type { ModelDtype } from '../src/model/linear-dtype.js';
import { BERT_BASE_CONFIG, maxRssMiB } from './bert-base.js';

const B = 8,
  T = 128;

async function child(dir: string, dtype: ModelDtype): Promise<void> {
  const model = await BertModel.fromPretrained(dir, { dtype, warn: () => {} });
  const inputIds = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 131 + t * 7) % 30000));
  const out = model.forward({ inputIds }, { grad: false }).lastHiddenState.data;
  const checksum = out.reduce((a, v) => a + v, 0);
  const mb = (bytes: number): number => Math.round(bytes / 1e6);
  console.log(
    JSON.stringify({
      rssMB: mb(process.memoryUsage().rss),
      peakMB: mb(maxRssMiB() * 2 ** 20),
      checksum,
    }),
  );
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bench-q8-folder-'));
  try {
    const fp32 = join(work, 'fp32');
    const q8 = join(work, 'q8');
    const model = new BertModel({ ...BERT_BASE_CONFIG, architectures: ['BertModel'] }, { seed: 1 });
    await model.save(fp32);
    await quantizeFolder(fp32, q8, { warn: () => {} });
    const size = (d: string): number => Math.round(statSync(join(d, 'model.safetensors')).size / 1e6);
    const runs: Record<string, unknown>[] = [];
    for (const [label, dir, dtype] of [
      ['fp32 folder, fp32', fp32, 'fp32'],
      ['fp32 folder, q8 (quantized on load)', fp32, 'q8'],
      ['q8 folder, q8', q8, 'q8'],
    ] as const) {
      const self = fileURLToPath(import.meta.url);
      const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', dir, dtype], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${label}: ${r.stderr}`);
      runs.push({ load: label, fileMB: size(dir), ...JSON.parse(r.stdout.trim().split('\n').pop()!) });
    }
    console.table(runs);
    console.log(JSON.stringify({ bench: 'quantized-folder', batch: B, seq: T, runs }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf('--child');
if (at > 0) await child(process.argv[at + 1]!, process.argv[at + 2] as ModelDtype);
else await main();
