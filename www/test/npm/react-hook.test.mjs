// `refresh-coordinator/react` from the packed tarball: `useSession` in
// Chromium under StrictMode (a development build, where StrictMode doubles
// effects), with React 18 and with React 19, against the reference backend
// in cookie mode (rotation with blacklisting, no grace window). One page per
// version goes through an expiry, a refusal and a logout, and the statuses
// it committed are checked in order; on the server the hook renders the
// server snapshot.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { launch } from '../browser.mjs';
import { APPS, refreshOutcomes, startBackend, waitFor } from './harness.mjs';

const PAGE = `${APPS}/react`;
const REACT_18 = `${APPS}/react18/node_modules`;

/** Builds the page for one React version into `dist-<major>/`, served under `/r<major>/`. */
async function buildPage(major) {
  // React 18 lives in apps/react18; every import of react and react-dom,
  // the package's own included, goes there.
  const alias =
    major === 18 ? [{ find: /^(react|react-dom)(\/.*)?$/, replacement: `${REACT_18}/$1$2` }] : [];
  await build({
    root: PAGE,
    base: `/r${major}/`,
    mode: 'development',
    logLevel: 'warn',
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    resolve: { alias },
    build: { outDir: `dist-${major}`, emptyOutDir: true, minify: false },
  });
}

let backend;
let browser;

before(async () => {
  await buildPage(18);
  await buildPage(19);
  backend = await startBackend([
    '--test-hooks',
    '--static', `/r18=${PAGE}/dist-18`,
    '--static', `/r19=${PAGE}/dist-19`,
  ]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/** Playwright's text of the status output, once it reads `status`. */
async function statusBecomes(page, status) {
  await page.waitForFunction(
    (expected) => document.querySelector('[data-testid=status]')?.textContent === expected,
    status,
    { timeout: 15_000 },
  );
}

for (const major of [18, 19]) {
  describe(`React ${major}`, () => {
    let page;

    before(async () => {
      page = await browser.context.newPage();
      page.on('pageerror', (error) => console.error('page error:', error.message));
      await browser.context.clearCookies();
      await page.goto(`${backend.url}/r${major}/`);
      await statusBecomes(page, 'active');
    });

    after(async () => {
      await page?.close();
    });

    test('the page runs this React, under StrictMode in development', async () => {
      const { react, effects } = await page.evaluate(() => ({ react: window.app.react, effects: window.app.effects }));
      assert.equal(Number(react.split('.')[0]), major);
      assert.equal(effects, 2, 'StrictMode ran the mount effect twice');
    });

    test('an expiry shows refreshing, then active with the next generation, and loses nothing', async () => {
      assert.equal(await page.evaluate(() => window.app.logIn()), 200);
      const before = await backend.metrics();
      const generation = Number(await page.textContent('[data-testid=generation]'));
      // The access cookie goes, as the browser drops it when its Max-Age runs
      // out; the refresh is held on the server long enough to be seen.
      await browser.context.clearCookies({ name: 'access' });
      await backend.faults({ delay_ms: 1000 });
      const burst = page.evaluate(() => window.app.burst(5));
      await statusBecomes(page, 'refreshing');
      assert.deepEqual(await burst, [200, 200, 200, 200, 200]);
      await backend.faults({});
      await statusBecomes(page, 'active');
      assert.equal(Number(await page.textContent('[data-testid=generation]')), generation + 1);
      const metrics = await backend.metrics();
      assert.equal(
        (refreshOutcomes(metrics).success ?? 0) - (refreshOutcomes(before).success ?? 0),
        1,
        'one refresh for the burst',
      );
    });

    test('a refusal shows ended and the login view, told once', async () => {
      // The refresh token is revoked behind the page's back, as a logout in
      // another browser would.
      const revoked = await browser.context.request.post(`${backend.url}/api/auth/logout/`);
      assert.equal(revoked.status(), 200);
      assert.deepEqual(await page.evaluate(() => window.app.burst(3)), ['SESSION_EXPIRED', 'SESSION_EXPIRED', 'SESSION_EXPIRED']);
      await statusBecomes(page, 'ended');
      assert.equal(await page.textContent('[data-testid=login]'), 'Session expired');
      assert.equal(await page.evaluate(() => window.app.expiredCallbacks), 1);
    });

    test('a login, then logout(): logged-out at once, no refresh after it, no expiry callback', async () => {
      assert.equal(await page.evaluate(() => window.app.logIn()), 200);
      await statusBecomes(page, 'active');
      const before = await backend.metrics();
      const shownAtOnce = await page.evaluate(() => {
        const done = window.app.authFetch.logout();
        const status = window.app.authFetch.getSnapshot().status;
        return done.then(() => status);
      });
      assert.equal(shownAtOnce, 'logged-out', 'the snapshot changed before the server answered');
      await statusBecomes(page, 'logged-out');
      assert.equal(await page.textContent('[data-testid=login]'), 'Logged out');
      assert.deepEqual(await page.evaluate(() => window.app.burst(2)), ['LOGGED_OUT', 'LOGGED_OUT']);
      const metrics = await backend.metrics();
      assert.equal(metrics.logouts_total - before.logouts_total, 1);
      assert.deepEqual(refreshOutcomes(metrics), refreshOutcomes(before), 'no refresh after the logout');
      assert.equal(await page.evaluate(() => window.app.expiredCallbacks), 1, 'onSessionExpired not called');
      const events = await page.evaluate(() => window.app.events.filter((type) => type === 'logged-out').length);
      assert.equal(events, 1);
    });

    test('the statuses it committed, in order', async () => {
      const statuses = await page.evaluate(() => window.app.statuses);
      // The wasm may load before React's first render.
      if (statuses[0] === 'loading') statuses.shift();
      assert.deepEqual(statuses, ['active', 'refreshing', 'active', 'refreshing', 'ended', 'active', 'logged-out']);
    });
  });
}

test('on the server the hook renders the server snapshot (React 19)', async () => {
  // Resolved as the apps resolve them, where the tarball is installed.
  const require = createRequire(`${APPS}/package.json`);
  const { createElement: h } = require('react');
  const { renderToString } = require('react-dom/server');
  const load = (name) => import(pathToFileURL(require.resolve(name)).href);
  const { createAuthFetch } = await load('refresh-coordinator');
  const { useSession } = await load('refresh-coordinator/react');
  const authFetch = createAuthFetch();
  function Status() {
    return h('p', null, useSession(authFetch).status);
  }
  assert.equal(renderToString(h(Status)), '<p>loading</p>');
  assert.throws(() => renderToString(h(() => useSession(fetch))), {
    name: 'TypeError',
    message: 'refresh-coordinator: useSession(authFetch) takes a function made by createAuthFetch',
  });
});
