// The React example (www/examples/react, built by `make test-npm` with
// `vite build` from the packed tarball) in Chromium against the reference
// backend: rotation with blacklisting, no grace window. Log in, drop the
// access cookie (as the browser does when its Max-Age runs out), load the
// Axios list and ten fetches at once: one refresh, no session end. Then a
// refused refresh sends the user back to the login view, and so does a
// logout, without the expiry notice.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { logInExample, openExample, refreshOutcomes, waitFor } from './harness.mjs';

let backend;
let browser;
let page;

before(async () => {
  ({ backend, browser, page } = await openExample());
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

test('an expiry burst through Axios and fetch costs one refresh and no session end', async () => {
  await logInExample(page, backend);
  await page.waitForSelector('[data-testid=list] li >> nth=4');

  assert.equal(await page.textContent('[data-testid=generation]'), '1', 'the login started a session');
  await browser.context.clearCookies({ name: 'access' });
  assert.deepEqual(refreshOutcomes(await backend.metrics()), {}, 'no refresh before the burst');

  // Fifteen requests with the expired credential: the Axios list (5) and
  // the ten fetches, started in the same task.
  await page.evaluate(() => {
    const buttons = [...document.querySelectorAll('button')];
    buttons.find((b) => b.textContent === 'Reload').click();
    buttons.find((b) => b.textContent === 'Load ten').click();
  });
  await page.waitForSelector('[data-testid=ten]');
  await page.waitForSelector('[data-testid=list] li >> nth=4');

  const ten = await page.textContent('[data-testid=ten]');
  assert.equal(ten, '101, 102, 103, 104, 105, 106, 107, 108, 109, 110');
  assert.equal(await page.locator('[role=alert]').count(), 0, 'no request failed');
  assert.equal(await page.locator('[data-testid=dashboard]').count(), 1, 'still logged in');
  assert.equal(await page.textContent('[data-testid=generation]'), '2', 'one refresh');
  assert.equal(await page.textContent('[data-testid=status]'), 'active');
  const metrics = await backend.metrics();
  assert.deepEqual(refreshOutcomes(metrics), { success: 1 }, 'exactly one refresh, and it succeeded');
  assert.equal(metrics.blacklist_hits_total, 0);
  assert.equal(metrics.logins_total, 1);
});

test('a refused refresh sends the user to the login view', async () => {
  // The refresh token is revoked behind the page's back (as a logout in
  // another browser would): the next 401 ends the session.
  const logout = await browser.context.request.post(`${backend.url}/api/auth/logout/`);
  assert.equal(logout.status(), 200);
  await page.click('text=Reload');
  await page.waitForSelector('[data-testid=login]');
  assert.equal(await page.textContent('[data-testid=notice]'), 'Your session expired. Please log in again.');
  assert.equal(await page.locator('[role=alert]').count(), 0, 'the session end is not shown as an error');

  // And logging in again works straight away.
  await page.fill('input[name=password]', 'secret');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=list] li >> nth=4');
  assert.equal((await backend.metrics()).logins_total, 2);
});

test('logging out shows the login view without the expiry notice, and refreshes nothing', async () => {
  await page.click('text=Log out');
  await page.waitForSelector('[data-testid=login]');
  assert.equal(await page.textContent('[data-testid=status]'), 'logged-out');
  assert.equal(await page.locator('[data-testid=notice]').count(), 0);
  await waitFor('the logout to reach the server', async () => (await backend.metrics()).logouts_total === 2);
  const cookies = await browser.context.cookies(backend.url);
  assert.ok(!cookies.some((cookie) => cookie.name === 'refresh'), 'the server deleted the cookies');
  assert.deepEqual(refreshOutcomes(await backend.metrics()), { success: 1, missing: 1 }, 'no refresh since');
});
