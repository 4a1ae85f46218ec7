// `bert demo --browser`: the static server prints the page's URL and serves the page, the bundle, the wasm module and
// the assets from 127.0.0.1 with the cross-origin isolation headers, and nothing outside its folders (no browser
// needed: plain HTTP requests).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

/** GET with the path sent as is (fetch would normalise '..' away). */
function get(base: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(base);
  return new Promise((ok, fail) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test(
  'bert demo --browser serves the page, the bundle, the wasm kernels and the assets',
  { timeout: 120_000 },
  async () => {
    const built = spawnSync(process.execPath, ['scripts/build-browser.mjs'], { cwd: root, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--browser', '--port', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const pageUrl = await new Promise<string>((ok, fail) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = out.match(/open (http:\/\/127\.0\.0\.1:\d+\/examples\/browser\/index\.html)/);
          if (m) ok(m[1]!);
        });
        child.on('exit', (code) => fail(new Error(`bert demo --browser exited ${code} before printing a URL: ${out}`)));
      });
      const base = new URL('/', pageUrl).href;
      const page = await get(base, '/examples/browser/index.html');
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.match(page.body, /<script type="module" src="\.\/app\.js"><\/script>/);
      const root302 = await get(base, '/');
      assert.equal(root302.status, 302);
      assert.equal(root302.headers.location, '/examples/browser/index.html');
      const bundle = await get(base, '/dist/browser/bert-ts.js');
      assert.equal(bundle.status, 200);
      assert.match(String(bundle.headers['content-type']), /^text\/javascript/);
      assert.match(bundle.body, /export \{/);
      assert.doesNotMatch(bundle.body, /from "node:/, 'no Node built-in left in the bundle');
      for (const name of [
        'bert_kernels.wasm',
        'bert_kernels_threads.wasm',
        'bert_gemm_relaxed.wasm',
        'bert_gemm_relaxed_threads.wasm',
      ]) {
        if (!existsSync(`${root}wasm/build/${name}`)) continue;
        const wasm = await get(base, `/dist/browser/${name}`);
        assert.equal(wasm.status, 200, name);
        assert.equal(wasm.headers['content-type'], 'application/wasm');
        assert.equal(wasm.body.slice(0, 4), '\0asm');
        // The threaded module's SharedArrayBuffer needs the page cross-origin isolated.
        assert.equal(wasm.headers['cross-origin-embedder-policy'], 'require-corp');
        assert.equal(wasm.headers['cross-origin-opener-policy'], 'same-origin');
      }
      const config = await get(base, '/assets/default-model/config.json');
      assert.equal(config.status, 200);
      assert.equal((JSON.parse(config.body) as { model_type: string }).model_type, 'roberta');
      assert.equal((await get(base, '/assets/imdb-sample/train.jsonl.gz')).status, 200);
      for (const outside of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/src/index.ts', '/nope'])
        assert.equal((await get(base, outside)).status, 404, outside);
    } finally {
      child.kill('SIGTERM');
    }
  },
);
