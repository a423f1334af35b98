// The packed tarball (`make pkg`): its manifest, its contents, and an
// offline install from the file alone, with an empty npm cache.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TARBALL } from './harness.mjs';

const run = promisify(execFile);
let dir;
let installed;
let manifest;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rc-install-'));
  await writeFile(join(dir, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
  // An empty cache and --offline: nothing may come from a registry.
  await run(
    'npm',
    ['install', '--offline', '--cache', join(dir, '.cache'), '--no-audit', '--no-fund', TARBALL],
    { cwd: dir, timeout: 120_000 },
  );
  installed = join(dir, 'node_modules/refresh-coordinator');
  manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the tarball installs offline from its file and imports in Node', async () => {
  const script = `
    const main = await import('refresh-coordinator');
    console.log(JSON.stringify({ create: typeof main.createAuthFetch, guard: typeof main.isSessionExpiredError }));
  `;
  // Without axios installed, only the main entry can load; that is what
  // "optional peer dependency" promises.
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), { create: 'function', guard: 'function' });
});

test('the manifest has the fields the npm registry and bundlers read', () => {
  assert.equal(manifest.name, 'refresh-coordinator');
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.sideEffects, false);
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
  assert.match(manifest.repository.url, /^git\+https:\/\//);
  assert.ok(manifest.keywords.includes('axios') && manifest.keywords.includes('fetch'));
  for (const entry of ['.', './axios', './react']) {
    const conditions = manifest.exports[entry];
    const keys = Object.keys(conditions);
    assert.equal(keys[0], 'types', `${entry}: types first, as TypeScript requires`);
    assert.equal(keys.at(-1), 'default', `${entry}: default last`);
  }
  assert.match(manifest.peerDependencies.axios, /^\^1\./);
  assert.equal(manifest.peerDependencies.react, '>=18', 'useSyncExternalStore came with React 18');
  assert.deepEqual(manifest.peerDependenciesMeta, { axios: { optional: true }, react: { optional: true } });
  assert.deepEqual(manifest.dependencies, undefined, 'no runtime dependencies');
});

test('the tarball holds every file the exports name, the README and the licenses, and nothing else', async () => {
  const { stdout } = await run('tar', ['-tzf', TARBALL]);
  const files = stdout.trim().split('\n').map((line) => line.replace(/^package\//, '')).sort();
  const named = new Set(
    Object.values(manifest.exports).flatMap((entry) =>
      typeof entry === 'string' ? [entry] : Object.values(entry),
    ),
  );
  for (const file of named) assert.ok(files.includes(file.replace(/^\.\//, '')), `${file} is missing`);
  for (const file of ['README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'refresh_coordinator_bg.wasm', 'coordinator.js']) {
    assert.ok(files.includes(file), `${file} is missing`);
  }
  const unexpected = files.filter(
    (file) =>
      !/^(README\.md|LICENSE-(MIT|APACHE)|package\.json|(index|node|axios|react|coordinator|options|errors|tabs|token-stores|dialects|refresh_coordinator)\.js|(index|axios|react)\.d\.ts|refresh_coordinator_bg\.wasm)$/.test(file),
  );
  assert.deepEqual(unexpected, []);
});

test('what a browser downloads, gzip -9', async (t) => {
  const files = ['refresh_coordinator_bg.wasm', 'refresh_coordinator.js', 'index.js', 'coordinator.js', 'options.js', 'errors.js', 'tabs.js', 'token-stores.js', 'dialects.js'];
  let raw = 0;
  let gzip = 0;
  for (const file of [...files, 'axios.js']) {
    const bytes = await readFile(join(installed, file));
    const { stdout: packedBytes } = await run('gzip', ['-9', '-c', join(installed, file)], { encoding: 'buffer' });
    const packed = packedBytes.length;
    t.diagnostic(`${file}: ${bytes.length} bytes, ${packed} gzip`);
    if (file !== 'axios.js') {
      raw += bytes.length;
      gzip += packed;
    }
  }
  t.diagnostic(`createAuthFetch total: ${raw} bytes, ${gzip} gzip (axios.js comes on top)`);
  assert.ok(gzip > 0);
});
