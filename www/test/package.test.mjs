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

test('subscribe is told of every change of the snapshot, which keeps its identity in between', async () => {
  const result = await page.evaluate(async () => {
    const { createAuthFetch } = await import('/pkg/index.js');
    let refreshed = false;
    let release;
    const held = new Promise((resolve) => (release = resolve));
    const fetch = async (request) => {
      if (request.url.endsWith('/refresh/')) {
        await held;
        refreshed = true;
        return new Response('{}');
      }
      return new Response('{}', { status: refreshed ? 200 : 401 });
    };
    const authFetch = createAuthFetch({ fetch, refreshUrl: '/refresh/' });
    const seen = [];
    const unsubscribe = authFetch.subscribe(() => seen.push(authFetch.getSnapshot()));
    await authFetch.ready;
    const calls = [1, 2, 3].map((n) => authFetch(`/api/data/${n}/`));
    while (authFetch.getSnapshot().status !== 'refreshing') await new Promise((r) => setTimeout(r, 0));
    const during = [authFetch.getSnapshot(), authFetch.getSnapshot()];
    release();
    await Promise.all(calls);
    const after = authFetch.getSnapshot();
    await authFetch('/api/data/4/'); // a request alone changes nothing
    const unchanged = authFetch.getSnapshot() === after;
    unsubscribe();
    authFetch.sessionStarted();
    return {
      statuses: seen.map((s) => `${s.status}/${s.generation}`),
      stable: during[0] === during[1] && Object.isFrozen(during[0]),
      unchanged,
      afterUnsubscribe: seen.length,
      state: authFetch.state(),
    };
  });
  assert.deepEqual(result.statuses, ['active/0', 'refreshing/0', 'active/1']);
  assert.equal(result.stable, true, 'the same frozen object between changes');
  assert.equal(result.unchanged, true);
  assert.equal(result.afterUnsubscribe, 3, 'not called after unsubscribing');
  assert.deepEqual(result.state, {
    status: 'active',
    generation: 2,
    refreshing: false,
    faulted: false,
    session: 'active',
    waiting: 0,
    pending: 0,
  });
});

test("cookie mode honours the caller's credentials; a request sent without cookies is not coordinated", async () => {
  const result = await page.evaluate(async () => {
    const { createAuthFetch } = await import('/pkg/index.js');
    const sent = [];
    const fetch = async (request) => {
      sent.push([new URL(request.url).pathname, request.credentials]);
      return new Response('{}', { status: request.url.endsWith('/refresh/') ? 200 : 401 });
    };
    // A refresh URL of its own: the coordinators of the tests before live
    // on in this page, and one with the same URL shares the flight and its
    // refresh note (one that was just answered could make this one wait).
    const authFetch = createAuthFetch({
      fetch,
      refreshUrl: '/credentials/refresh/',
      allowedOrigins: [location.origin, 'https://api.example'],
      retry: { limit: 0 },
    });
    const omitted = (await authFetch('/api/omit/', { credentials: 'omit' })).status;
    const included = (await authFetch(new Request('/api/include/', { credentials: 'include' }))).status;
    const api = (await authFetch('https://api.example/api/data/', { credentials: 'same-origin' })).status;
    return { omitted, included, api, sent };
  });
  assert.deepEqual(result, {
    omitted: 401,
    included: 401,
    api: 401,
    sent: [
      // Without cookies: sent as written, its 401 returned, no refresh.
      ['/api/omit/', 'omit'],
      // 'include' kept; its 401 is refreshed, the replay's 401 returned.
      ['/api/include/', 'include'],
      ['/credentials/refresh/', 'same-origin'],
      ['/api/include/', 'include'],
      // 'same-origin' to another origin carries no cookie: not coordinated.
      ['/api/data/', 'same-origin'],
    ],
  });
});
