// The README's "A separate API origin", end to end: the page on one origin,
// the reference backend on another (`--cors-origin` for the page), the
// coordinator told with `allowedOrigins` and absolute endpoints, cookie
// mode. Login, an expiry, a logout: the cookies travel to the API origin
// (credentials: 'include' there), one refresh, and the logout deletes them.
// Both origins are on 127.0.0.1, so they are one site and the backend's
// SameSite=Lax cookies may go; another site would need SameSite=None.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { serve } from '../test/serve.mjs';
import { ROOT, USER, refreshCount, startBackend } from './backend.mjs';

let site;
let api;
let browser;

before(async () => {
  site = await serve({ '/pkg/': `${ROOT}pkg`, '/': `${ROOT}www/e2e/pages` });
  api = await startBackend(['--cors-origin', site.url]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await api?.stop();
  await site?.close();
});

test('cookie mode against an API on another origin: login, expiry, logout', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${site.url}/e2e.html`);
    const run = (f, arg) => page.evaluate(f, arg);
    await run(
      async ([API, user]) => {
        const { createAuthFetch } = await import('/pkg/index.js');
        const authFetch = createAuthFetch({
          allowedOrigins: [API],
          refreshUrl: `${API}/api/auth/token/refresh/`,
          loginUrl: `${API}/api/auth/login/`,
          logoutUrl: `${API}/api/auth/logout/`,
        });
        const response = await authFetch(`${API}/api/auth/login/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(user),
        });
        if (!response.ok) throw new Error(`login: ${response.status}`);
        window.t = {
          authFetch,
          get: (n) => authFetch(`${API}/api/data/${n}/`).then((r) => r.status, (e) => e.code || e.message),
        };
      },
      [api.url, USER],
    );
    assert.equal(await run(() => window.t.get(1)), 200, 'the access cookie went to the API origin');
    await context.clearCookies({ name: 'access' });
    assert.deepEqual(await run(() => Promise.all([2, 3, 4].map((n) => window.t.get(n)))), [200, 200, 200]);
    assert.equal(refreshCount(await api.metrics()), 1, 'one refresh, with the refresh cookie');
    await run(() => window.t.authFetch.logout());
    assert.equal((await api.metrics()).logouts_total, 1);
    const names = (await context.cookies(api.url)).map((cookie) => cookie.name);
    assert.ok(!names.includes('refresh'), `the API deleted its cookies: ${names}`);
    assert.equal(await run(() => window.t.get(5)), 'LOGGED_OUT');
  } finally {
    await context.close();
  }
});
