// The built package (pkg/) in headless Chromium: it loads from a plain
// `<script type="module">`, its wasm instantiates after wasm-opt, and its
// exports behave as documented. The coordinator's rules are tested in depth
// by the wasm-pack browser tests; this checks what only the package adds.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './serve.mjs';
import { launch } from './browser.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
let server;
let browser;
let broken;
let page;

before(async () => {
  // The package without its .wasm, for the load-failure test.
  broken = await mkdtemp(join(tmpdir(), 'rc-broken-'));
  await cp(`${root}/pkg`, broken, { recursive: true });
  await rm(join(broken, 'refresh_coordinator_bg.wasm'));
  server = await serve({ '/pkg/': `${root}/pkg`, '/broken/': broken, '/': `${root}/www/test/pages` });
  browser = await launch();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${server.url}/package.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (broken) await rm(broken, { recursive: true, force: true });
});

test('createAuthFetch works right after import, before the wasm has loaded', async () => {
  const result = await page.evaluate(async () => {
    const { createAuthFetch } = await import('/pkg/index.js');
    let calls = 0;
    const fetch = async (request) => {
      calls += 1;
      return new Response('{}', { status: request.url.endsWith('/refresh/') || calls > 2 ? 200 : 401 });
    };
    const authFetch = createAuthFetch({ fetch, refreshUrl: '/refresh/' });
    const response = await authFetch('/api/data/1/');
    return { status: response.status, state: authFetch.state() };
  });
  assert.equal(result.status, 200);
  assert.equal(result.state.generation, 1, 'one refresh');
  assert.equal(result.state.pending, 0);
});

test('the exported error classes are the ones the coordinator throws', async () => {
  const result = await page.evaluate(async () => {
    const pkg = await import('/pkg/index.js');
    const expired = [];
    const fetch = async () => new Response('{}', { status: 401 });
    const authFetch = pkg.createAuthFetch({ fetch, onSessionExpired: (e) => expired.push(e) });
    const error = await authFetch('/api/data/1/').catch((e) => e);
    return {
      instance: error instanceof pkg.SessionExpiredError,
      base: error instanceof pkg.RefreshCoordinatorError,
      guard: pkg.isSessionExpiredError(error) && pkg.isRefreshCoordinatorError(error),
      otherGuard: pkg.isRefreshUnavailableError(error),
      name: error.name,
      code: error.code,
      callbacks: expired.length,
      callbackError: expired[0] instanceof pkg.SessionExpiredError,
    };
  });
  assert.deepEqual(result, {
    instance: true,
    base: true,
    guard: true,
    otherGuard: false,
    name: 'SessionExpiredError',
    code: 'SESSION_EXPIRED',
    callbacks: 1,
    callbackError: true,
  });
});

test('a bad option throws a TypeError naming it, at once', async () => {
  const result = await page.evaluate(async () => {
    const { createAuthFetch } = await import('/pkg/index.js');
    try {
      createAuthFetch({ mode: 'tokens' });
      return null;
    } catch (error) {
      return [error.name, error.message];
    }
  });
  assert.equal(result[0], 'TypeError');
  assert.match(result[1], /options\.mode/);
});

test('a wasm that cannot load rejects ready and every call, and leaves none pending', async () => {
  const result = await page.evaluate(async () => {
    // A copy of the package without its .wasm (a deploy that forgot it).
    const { createAuthFetch } = await import('/broken/index.js');
    const authFetch = createAuthFetch({ fetch: async () => new Response('{}') });
    const calls = await Promise.allSettled([authFetch('/api/data/1/'), authFetch('/api/data/2/'), authFetch.ready]);
    return calls.map((r) => r.status);
  });
  assert.deepEqual(result, ['rejected', 'rejected', 'rejected']);
});

test('setTokens called before the wasm loaded applies before the first request', async () => {
  const result = await page.evaluate(async () => {
    const { createAuthFetch } = await import('/pkg/index.js');
    const seen = [];
    const fetch = async (request) => {
      seen.push(request.headers.get('Authorization'));
      return new Response('{}', { status: 200 });
    };
    const authFetch = createAuthFetch({ mode: 'bearer', fetch });
    authFetch.setTokens({ access: 'a1', refresh: 'r1' });
    await authFetch('/api/data/1/');
    return seen;
  });
  assert.deepEqual(result, ['Bearer a1']);
});
