// Builds the native kernels (native/) with node-gyp at install time: probes oneDNN, then CBLAS, then the
// portable kernel; never fails the install (bert-ts falls back to the TypeScript kernels and says so once).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const logPath = join(nativeDir, 'build', 'build-native.log');
const log = [];

function say(line) {
  process.stdout.write(`bert-ts: ${line}\n`);
}

function giveUp(reason) {
  try {
    mkdirSync(dirname(logPath), { recursive: true });
    writeFileSync(logPath, log.join('\n'));
  } catch {
    // the log is a courtesy; the message below is what matters
  }
  say(
    `native addon not built (${reason}; details in native/build/build-native.log); bert-ts will use the TypeScript kernels`,
  );
  process.exit(0);
}

if (process.env.BERT_SKIP_NATIVE === '1') {
  say('BERT_SKIP_NATIVE=1: skipping the native addon; bert-ts will use the TypeScript kernels');
  process.exit(0);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  log.push(`$ ${cmd} ${args.join(' ')}`, r.stdout ?? '', r.stderr ?? '', r.error ? String(r.error) : '');
  return r.status === 0;
}

// Does a small program using the library compile and link here?
function probe(source, flags) {
  const cxx = process.env.CXX || 'c++';
  const dir = mkdtempSync(join(tmpdir(), 'bert-native-probe-'));
  try {
    writeFileSync(join(dir, 'probe.cc'), source);
    return run(cxx, [join(dir, 'probe.cc'), '-o', join(dir, 'probe'), ...flags]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const probes = {
  dnnl: () =>
    probe(
      "#include <oneapi/dnnl/dnnl.h>\nint main(){float a=1,b=1,c=0;return dnnl_sgemm('N','N',1,1,1,1.f,&a,1,&b,1,0.f,&c,1)!=dnnl_success;}\n",
      ['-ldnnl'],
    ),
  openblas: () =>
    probe(
      '#include <cblas.h>\nint main(){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1);return c!=1.f;}\n',
      ['-lopenblas'],
    ),
  accelerate: () => process.platform === 'darwin',
  builtin: () => true,
};

function simdLevel() {
  if (process.env.BERT_NATIVE_SIMD) return process.env.BERT_NATIVE_SIMD;
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'none';
  try {
    const flags =
      readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        .split(/\s+/) ?? [];
    return flags.includes('avx2') && flags.includes('fma') && flags.includes('f16c') ? 'avx2' : 'none';
  } catch {
    return 'none';
  }
}

// Open MPI (or another MPI with Open MPI's `mpicxx --showme` wrapper): optional, like the GEMM libraries.
function mpiAvailable() {
  if (process.env.BERT_NATIVE_MPI === '0') return false;
  const flags = ['compile', 'link'].map((what) => spawnSync('mpicxx', [`--showme:${what}`], { encoding: 'utf8' }));
  if (flags.some((r) => r.status !== 0)) return false;
  const args = flags.flatMap((r) => r.stdout.trim().split(/\s+/).filter(Boolean));
  return probe('#include <mpi.h>\nint main(){int v=0,s=0;return MPI_Get_version(&v,&s);}\n', args);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency; npm bundles one
  }
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  return candidates.find((p) => existsSync(p));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) giveUp('node-gyp not found');

// Use the headers installed beside this node when present, so the build works offline.
const prefix = dirname(dirname(process.execPath));
const nodedirArgs = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];

const wanted = process.env.BERT_NATIVE_BACKEND;
const order = wanted ? [wanted] : ['dnnl', 'openblas', 'accelerate', 'builtin'];
const simd = simdLevel();
let mpi = mpiAvailable();
if (!mpi)
  say(
    process.env.BERT_NATIVE_MPI === '0'
      ? 'BERT_NATIVE_MPI=0: building without MPI (no data-parallel training under mpirun)'
      : 'MPI not found (Debian: openmpi-bin libopenmpi-dev): no data-parallel training under mpirun',
  );
for (const backend of order) {
  if (!(backend in probes))
    giveUp(`unknown BERT_NATIVE_BACKEND=${backend} (use dnnl, openblas, accelerate or builtin)`);
  if (!probes[backend]()) continue;
  const build = () =>
    run(process.execPath, [nodeGyp, 'rebuild', '--directory', nativeDir, '-j', '2', ...nodedirArgs], {
      env: { ...process.env, BERT_NATIVE_BACKEND: backend, BERT_NATIVE_SIMD: simd, BERT_NATIVE_MPI: mpi ? '1' : '0' },
      cwd: root,
    });
  let ok = build();
  if (!ok && mpi) {
    // MPI is optional: a build that fails with it is retried without it.
    mpi = false;
    say('the native build with MPI failed (see native/build/build-native.log); building without MPI');
    ok = build();
  }
  if (!ok) continue;
  const addon = join(nativeDir, 'build', 'Release', 'bert_native.node');
  const check = spawnSync(
    process.execPath,
    ['-e', `console.log(JSON.stringify(require(${JSON.stringify(addon)}).info()))`],
    { encoding: 'utf8' },
  );
  if (check.status !== 0) {
    log.push(`load check failed for ${backend}:`, check.stderr);
    continue;
  }
  const info = JSON.parse(check.stdout);
  say(
    `native addon built with ${info.library} (${simd === 'avx2' ? 'AVX2/FMA fused kernels' : 'portable fused kernels'}, ${info.threads} threads${mpi ? ', MPI' : ''})`,
  );
  process.exit(0);
}
giveUp(wanted ? `the ${wanted} build failed` : 'no backend built');
