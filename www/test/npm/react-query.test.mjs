// TanStack Query in the React example (www/examples/react, built by `make
// test-npm`): ten queries whose fetcher is `authFetch`, in Chromium against
// the reference backend (rotation with blacklisting, no grace window). After
// the access token expired (the backend's clock put past it), refetching all
// of them at once costs one refresh, and every query succeeds.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPIRABLE, expireAccess, logInExample, openExample, refreshOutcomes, waitFor } from './harness.mjs';

const QUERIED = Array.from({ length: 10 }, (_, i) => 201 + i).join(', ');
let backend;
let browser;
let page;

before(async () => {
  ({ backend, browser, page } = await openExample(EXPIRABLE));
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

test('ten TanStack queries refetched after the access token expired cost one refresh, and all succeed', async () => {
  await logInExample(page, backend);
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
