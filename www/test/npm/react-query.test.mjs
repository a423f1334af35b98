// TanStack Query in the React example (www/examples/react, built by `make
// test-npm`): ten queries whose fetcher is `authFetch`, in Chromium against
// the reference backend (rotation with blacklisting, no grace window). After
// the access token expired (the backend's clock put past it), refetching all
// of them at once costs one refresh, and every query succeeds.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { launch } from '../browser.mjs';
import { EXAMPLE, EXPIRABLE, expireAccess, refreshOutcomes, startBackend, waitFor } from './harness.mjs';

const QUERIED = Array.from({ length: 10 }, (_, i) => 201 + i).join(', ');
let backend;
let browser;
let page;

before(async () => {
  assert.ok(existsSync(`${EXAMPLE}/dist/index.html`), 'build the example first: make test-npm');
  backend = await startBackend([...EXPIRABLE, '--static', `${EXAMPLE}/dist`]);
  browser = await launch();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

test('ten TanStack queries refetched after the access token expired cost one refresh, and all succeed', async () => {
  await page.goto(`${backend.url}/`);
  await page.fill('input[name=password]', 'secret');
  await page.click('button[type=submit]');
  assert.equal(await page.textContent('[data-testid=queries]'), QUERIED, 'the queries loaded with the login');
  await page.waitForSelector('[data-testid=list] li >> nth=4');
  assert.deepEqual(refreshOutcomes(await backend.metrics()), {}, 'no refresh before the expiry');

  await expireAccess(backend, browser.context);
  await page.click('text=Refetch queries');
  // Invalidated: each query fetches again, meets a 401, waits behind the
  // one refresh and is replayed; the list shows once none is fetching.
  await waitFor('the refresh', async () => refreshOutcomes(await backend.metrics()).success === 1);
  assert.equal(await page.textContent('[data-testid=queries]'), QUERIED);

  assert.equal(await page.locator('[role=alert]').count(), 0, 'no query failed');
  assert.equal(await page.locator('[data-testid=dashboard]').count(), 1, 'still logged in');
  assert.equal(await page.textContent('[data-testid=generation]'), '2', 'the login and one refresh');
  assert.equal(await page.textContent('[data-testid=status]'), 'active');
  const metrics = await backend.metrics();
  assert.deepEqual(refreshOutcomes(metrics), { success: 1 }, 'exactly one refresh, and it succeeded');
  assert.equal(metrics.blacklist_hits_total, 0);
});
