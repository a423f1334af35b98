// ky with refresh-coordinator as its `fetch` (`ky.create({fetch: authFetch})`,
// the README's "ky" section), in Chromium against the reference backend in
// cookie mode: rotation with blacklisting, no grace window. The installed
// tarball and ky (pinned in www/test/apps) load in a plain page through its
// import map.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../browser.mjs';
import { APPS, EXPIRABLE, expireAccess, logInPage, refreshOutcomes, startBackend } from './harness.mjs';

const BURST = 20;
let backend;
let browser;
let page;

before(async () => {
  backend = await startBackend([...EXPIRABLE, '--static', APPS]);
  browser = await launch();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${backend.url}/plain.html#idle`);
  await logInPage(page);
  // The app's module: one coordinator, one ky instance on it.
  await page.evaluate(async () => {
    const [{ default: ky }, rc] = await Promise.all([import('ky'), import('refresh-coordinator')]);
    const authFetch = rc.createAuthFetch();
    window.app = { rc, authFetch, api: ky.create({ baseUrl: '/api/', fetch: authFetch }) };
  });
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

test("ky: an option ky does not know reaches the coordinator: skipAuthRefresh's 401 is ky's HTTPError, nothing refreshed", async () => {
  await expireAccess(backend, browser.context);
  const result = await page.evaluate(async () => {
    const error = await window.app.api.get('data/1/', { skipAuthRefresh: true }).then(() => null, (e) => e);
    return { name: error && error.name, status: error && error.response && error.response.status };
  });
  assert.deepEqual(result, { name: 'HTTPError', status: 401 });
  assert.deepEqual(refreshOutcomes(await backend.metrics()), {}, 'no refresh');
});

test(`ky: ${BURST} GETs and 5 JSON POSTs after the access token expired cause one refresh, and all succeed`, async () => {
  await expireAccess(backend, browser.context);
  const result = await page.evaluate(async (n) => {
    const { api, authFetch } = window.app;
    const calls = [
      ...Array.from({ length: n }, (_, i) => api.get(`data/${i + 1}/`).json()),
      ...Array.from({ length: 5 }, (_, i) => api.post(`data/${100 + i}/`, { json: { i } }).json()),
    ];
    const settled = await Promise.allSettled(calls);
    return {
      values: settled.map((s) => (s.status === 'fulfilled' ? s.value.n : `${s.reason.name}: ${s.reason.message}`)),
      state: authFetch.state(),
    };
  }, BURST);
  const expected = [...Array.from({ length: BURST }, (_, i) => i + 1), 100, 101, 102, 103, 104];
  assert.deepEqual(result.values, expected, 'every call answered with its own data');
  assert.equal(result.state.pending, 0);
  assert.equal(result.state.generation, 1, 'one refresh');
  const metrics = await backend.metrics();
  assert.deepEqual(refreshOutcomes(metrics), { success: 1 }, 'exactly one refresh, and it succeeded');
  assert.equal(metrics.blacklist_hits_total, 0);
});

test("ky: a refused refresh rejects ky's call with the coordinator's SessionExpiredError", async () => {
  // Revoked behind the page's back (a logout in another browser), then expired.
  const logout = await browser.context.request.post(`${backend.url}/api/auth/logout/`);
  assert.equal(logout.status(), 200);
  await backend.advanceClock(601);
  const result = await page.evaluate(async () => {
    const { api, rc, authFetch } = window.app;
    try {
      await api.get('data/1/').json();
      return { rejected: false };
    } catch (error) {
      return { rejected: true, expired: rc.isSessionExpiredError(error), name: error.name, session: authFetch.state().session };
    }
  });
  assert.deepEqual(result, { rejected: true, expired: true, name: 'SessionExpiredError', session: 'ended' });
});
