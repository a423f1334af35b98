// authFetch.logout() against the reference backend in headless Chromium
// (issue 11): dj-rest-auth's logout in cookie mode, SimpleJWT's blacklist in
// bearer mode. The session ends here at once, the server revokes the token,
// a 401 afterwards starts no refresh and fails with LoggedOutError,
// onSessionExpired is not called, and a new login starts afresh.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { USER, refreshCount, startBackend } from './backend.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/**
 * A fresh backend and browser context, and a page whose `window.t` has the
 * package, a coordinator in `mode` made with `options`, and helpers.
 */
async function withPage(mode, options, body) {
  const backend = await startBackend();
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${backend.url}/e2e.html`);
    await page.evaluate(
      async ([m, o, user]) => {
        const pkg = await import('/pkg/index.js');
        const t = { pkg, expired: 0, events: [] };
        t.authFetch = pkg.createAuthFetch({
          mode: m,
          ...o,
          onSessionExpired: () => (t.expired += 1),
          onEvent: (event) => t.events.push(event.type),
        });
        t.logIn = async () => {
          const response = await t.authFetch(m === 'cookie' ? '/api/auth/login/' : '/api/token/', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(user),
          });
          if (!response.ok) throw new Error(`login: ${response.status}`);
          if (m === 'bearer') {
            t.tokens = await response.json();
            t.authFetch.setTokens(t.tokens);
          }
        };
        /** The status of a data request, or the code of the error it rejected with. */
        t.get = (n) =>
          t.authFetch(`/api/data/${n}/`).then(
            (response) => response.status,
            (error) => error.code || error.name,
          );
        window.t = t;
      },
      [mode, options, USER],
    );
    return await body({ page, context, backend, run: (f, arg) => page.evaluate(f, arg) });
  } finally {
    await context.close();
    await backend.stop();
    assert.deepEqual(errors, [], 'no uncaught page errors');
  }
}

test('cookie mode: logout() posts dj-rest-auth logout, the cookies go, a later 401 refreshes nothing', () =>
  withPage('cookie', {}, async ({ context, backend, run }) => {
    await run(() => window.t.logIn());
    assert.equal(await run(() => window.t.get(1)), 200);
    await run(() => window.t.authFetch.logout());
    assert.equal(await run(() => window.t.authFetch.state().session), 'logged-out');
    const metrics = await backend.metrics();
    assert.equal(metrics.logouts_total, 1);
    const names = (await context.cookies(backend.url)).map((cookie) => cookie.name);
    assert.ok(!names.includes('refresh') && !names.includes('access'), `cookies left: ${names}`);

    assert.equal(await run(() => window.t.get(2)), 'LOGGED_OUT');
    assert.equal(refreshCount(await backend.metrics()), 0, 'no refresh after the logout');
    assert.equal(await run(() => window.t.expired), 0, 'onSessionExpired not called');
    assert.deepEqual(await run(() => window.t.events), ['logged-out']);

    // A new login starts afresh: its expiry is refreshed again.
    await run(() => window.t.logIn());
    assert.equal(await run(() => window.t.authFetch.state().session), 'active');
    await context.clearCookies({ name: 'access' });
    assert.equal(await run(() => window.t.get(3)), 200);
    assert.equal(refreshCount(await backend.metrics()), 1);
  }));

test('bearer mode: logout() blacklists the refresh token and forgets both tokens', () =>
  withPage('bearer', {}, async ({ backend, run }) => {
    await run(() => window.t.logIn());
    const refresh = await run(() => window.t.tokens.refresh);
    await run(() => window.t.authFetch.logout());
    const state = await run(() => window.t.authFetch.state());
    assert.equal(state.session, 'logged-out');

    // The server took it: the refresh token is dead.
    const again = await fetch(`${backend.url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh }),
    });
    assert.equal(again.status, 401);
    assert.equal((await again.json()).detail, 'Token is blacklisted');

    // Nothing is sent with a token any more: a 401, and no refresh.
    assert.equal(await run(() => window.t.get(1)), 'LOGGED_OUT');
    assert.equal(refreshCount(await backend.metrics()), 1, 'only the check above was a refresh');
    assert.equal(await run(() => window.t.expired), 0);
  }));

test('cookie mode: a refresh in flight at logout lands first; the logout then revokes the rotated token', () =>
  withPage('cookie', {}, async ({ context, backend, run }) => {
    await run(() => window.t.logIn());
    await context.clearCookies({ name: 'access' });
    await backend.faults({ delay_ms: 800 });
    const result = await run(async () => {
      const { authFetch } = window.t;
      const waiting = window.t.get(1);
      // Until the server holds the refresh: with tabs sharing the flight it
      // first waits for the lock, and a logout before it is sent stops it.
      for (let i = 0; i < 400; i += 1) {
        const metrics = await (await fetch('/metrics')).text();
        if (/injected_faults_total\{kind="delay"\} [1-9]/.test(metrics)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const logout = authFetch.logout();
      // The waiter fails at once; the logout waits for the refresh.
      const waiter = await waiting;
      await logout;
      return { waiter, session: authFetch.state().session };
    });
    assert.deepEqual(result, { waiter: 'LOGGED_OUT', session: 'logged-out' });
    const metrics = await backend.metrics();
    assert.equal(metrics['refresh_requests_total{outcome="success"}'], 1, 'the refresh was not cancelled');
    assert.equal(metrics.logouts_total, 1);
    const names = (await context.cookies(backend.url)).map((cookie) => cookie.name);
    assert.ok(!names.includes('refresh'), 'the rotated refresh cookie was revoked and deleted');
    assert.equal(await run(() => window.t.expired), 0);
  }));

test('bearer mode: a refresh in flight at logout lands first; the logout blacklists the rotated token', () =>
  withPage('bearer', {}, async ({ backend, run }) => {
    await run(() => window.t.logIn());
    await backend.faults({ delay_ms: 800 });
    const result = await run(async () => {
      const { tokens } = window.t;
      // Every token the coordinator stores, to learn the rotated one.
      const stored = [];
      const store = { value: null, get: () => store.value, set: (v) => stored.push((store.value = v)) };
      const t = window.t.pkg.createAuthFetch({ mode: 'bearer', tokenStore: store });
      t.setTokens({ access: 'expired', refresh: tokens.refresh });
      const waiting = t('/api/data/1/').then((r) => r.status, (e) => e.code);
      for (let i = 0; i < 400; i += 1) {
        const metrics = await (await fetch('/metrics')).text();
        if (/injected_faults_total\{kind="delay"\} [1-9]/.test(metrics)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const logout = t.logout();
      const waiter = await waiting;
      await logout;
      return { waiter, session: t.state().session, stored, left: store.value };
    });
    assert.equal(result.waiter, 'LOGGED_OUT');
    assert.equal(result.session, 'logged-out');
    assert.equal(result.left, null, 'the store is empty');
    const rotated = result.stored.find((tokens) => tokens && tokens.access !== 'expired');
    assert.ok(rotated && rotated.refresh, 'the refresh landed and was stored before the logout read it');
    const metrics = await backend.metrics();
    assert.equal(metrics['refresh_requests_total{outcome="success"}'], 1, 'the refresh was not cancelled');
    const again = await fetch(`${backend.url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh: rotated.refresh }),
    });
    assert.equal(again.status, 401, 'the rotated refresh token is dead');
    assert.equal((await again.json()).detail, 'Token is blacklisted');
  }));

test('a logout the server does not confirm rejects typed, and the session here has ended all the same', () =>
  withPage('cookie', { logoutUrl: '/api/no-such-logout/' }, async ({ backend, run }) => {
    await run(() => window.t.logIn());
    const result = await run(async () => {
      const { authFetch, pkg } = window.t;
      const error = await authFetch.logout().then(() => null, (e) => e);
      return {
        typed: pkg.isLogoutFailedError(error),
        reason: error && error.reason,
        status: error && error.status,
        session: authFetch.state().session,
      };
    });
    assert.deepEqual(result, { typed: true, reason: 'status', status: 404, session: 'logged-out' });
    assert.equal(await run(() => window.t.get(1)), 200, 'the cookies are still there: the server kept them');
    assert.equal(refreshCount(await backend.metrics()), 0);
  }));
