// Loading with zero configuration: the packed tarball, installed in
// www/test/apps, in a Vite build and the Vite dev server, a webpack 5
// build, a plain <script type="module"> page, and Node (server-side
// rendering). No wasm plugin, no experiment flag, no config file.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { build, createServer } from 'vite';
import webpack from 'webpack';
import { launch } from '../browser.mjs';
import { APPS, serveStatic as serve } from './harness.mjs';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** Opens `url`, waits for the probe (see apps/src/probe.js) and returns its result. */
async function probe(url) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__probe, null, { timeout: 15_000 });
    const result = await page.evaluate(() => window.__probe);
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await page.close();
  }
}

function assertProbe(result) {
  assert.equal(result.error, undefined, result.error);
  assert.deepEqual(result.viaFetch, { pathname: '/api/data/1/' });
  assert.deepEqual(result.viaAxios, { pathname: '/api/data/2/' });
  assert.equal(result.refreshes, 1, 'fetch and Axios shared one refresh');
  assert.equal(result.guard, true);
  assert.equal(result.wasm.length, 1, 'the wasm came as its own file');
}

test('a Vite build emits the wasm as an asset and loads it', async () => {
  await build({ root: `${APPS}/vite`, logLevel: 'warn' });
  const assets = await readdir(`${APPS}/vite/dist/assets`);
  assert.ok(assets.some((name) => name.endsWith('.wasm')), `no .wasm among ${assets}`);
  const server = await serve({ '/': `${APPS}/vite/dist` });
  try {
    assertProbe(await probe(`${server.url}/index.html`));
  } finally {
    await server.close();
  }
});

test('the Vite dev server serves it, dependency pre-bundling included', async () => {
  const server = await createServer({
    root: `${APPS}/vite`,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  try {
    assertProbe(await probe(server.resolvedUrls.local[0]));
  } finally {
    await server.close();
  }
});

test('a webpack 5 build emits the wasm as an asset and loads it', async () => {
  const compiler = webpack({
    mode: 'production',
    context: `${APPS}/webpack`,
    entry: './index.js',
    output: { path: `${APPS}/webpack/dist`, clean: true },
  });
  const stats = await new Promise((resolve, reject) =>
    compiler.run((error, result) => (error ? reject(error) : resolve(result))),
  );
  await new Promise((resolve) => compiler.close(resolve));
  assert.equal(stats.hasErrors(), false, stats.toString('errors-only'));
  assert.equal(stats.hasWarnings(), false, stats.toString('errors-warnings'));
  const emitted = Object.keys(stats.compilation.assets);
  assert.ok(emitted.some((name) => name.endsWith('.wasm')), `no .wasm among ${emitted}`);
  const server = await serve({ '/': `${APPS}/webpack/dist`, '/index.html': `${APPS}/webpack/index.html` });
  try {
    assertProbe(await probe(`${server.url}/index.html`));
  } finally {
    await server.close();
  }
});

test('a plain <script type="module"> page loads it from node_modules', async () => {
  const server = await serve({ '/': APPS });
  try {
    assertProbe(await probe(`${server.url}/plain.html`));
  } finally {
    await server.close();
  }
});

test('Node imports it without touching window or document (server-side rendering)', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['src/ssr.mjs'], {
    cwd: APPS,
    timeout: 30_000,
  });
  assert.equal(stderr, '');
  const result = JSON.parse(stdout);
  assert.deepEqual(result.touchedAtImport, [], 'import and creation read a DOM global');
  assert.deepEqual(result.touchedInUse, [], 'using it on the server read a DOM global');
  assert.equal(result.quietAtImport, true, 'nothing logged or thrown at import and creation');
  assert.deepEqual(result.statuses, [200, 200]);
  assert.equal(result.refreshes, 1);
  // A relative URL on the server fails the call as fetch itself would.
  assert.match(result.misuse, /^TypeError: /);
  assert.ok(result.exports.includes('createAuthFetch') && result.exports.includes('isSessionExpiredError'));
});
