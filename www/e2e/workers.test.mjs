// End to end in workers: `createAuthFetch` in a dedicated module worker and
// in a module service worker (no document, no sessionStorage, no
// localStorage), against the reference backend with rotation, blacklist
// after rotation and no grace window. The wasm loads from the worker's own
// `import.meta.url`; bearer mode keeps the tokens in the worker's memory. A
// page and a dedicated worker of one origin share one refresh flight in
// cookie mode (Web Locks and BroadcastChannel exist in workers; the shared
// state every side can read is kept in IndexedDB, see src/web/tabs.js).
// The refresh counts come from the backend's /metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { outcome, refreshCount, startBackend } from './backend.mjs';
import { LONG, rotationHeld } from './tabs.mjs';
import { expireAccess } from '../test/npm/harness.mjs';

const BURST = 20;
/** What a worker's global lacks, and has: what `setup` answers there. */
const WORKER_GLOBAL = { document: 'undefined', localStorage: 'undefined', sessionStorage: 'undefined', locks: true, channel: 'function' };

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Opens the end-to-end page (the page scenarios as `e2e`, `workers.js` as `workers`) in `context`. */
async function openPage(context, backend, errors) {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${backend.url}/e2e.html`);
  await page.waitForFunction(() => window.e2eReady === true);
  await page.evaluate(async () => {
    window.workers = await import('/workers.js');
  });
  return page;
}

/**
 * A page of a new context (its own cookie jar and storage) on a fresh
 * backend with 10-minute access tokens and `flags`; `open()` opens
 * another page of the context.
 */
async function withPage(body, flags = []) {
  const backend = await startBackend([...LONG, ...flags]);
  const context = await browser.newContext();
  const errors = [];
  try {
    const open = () => openPage(context, backend, errors);
    return await body({ page: await open(), backend, context, open });
  } finally {
    await context.close();
    await backend.stop();
    assert.deepEqual(errors, [], 'no uncaught page errors');
  }
}

/** A dedicated worker in `page`, as `window.worker`, with a coordinator in `mode`. */
const startWorker = (page, mode) =>
  page.evaluate((m) => {
    window.worker = window.workers.dedicated();
    return window.worker.call('setup', m);
  }, mode);

/** Logs in with the page's raw fetch (cookie mode: the jar the worker shares). */
const logInCookies = (page) => page.evaluate(() => import('/clients.js').then((clients) => clients.login('cookie')));


for (const mode of ['cookie', 'bearer']) {
  describe(`${mode} mode in workers`, () => {
    test(`a dedicated worker: ${BURST} requests after the access token expired cause one refresh, and all succeed`, async () => {
      await withPage(async ({ page, backend, context }) => {
        if (mode === 'cookie') await logInCookies(page);
        const global = await startWorker(page, mode);
        assert.deepEqual(global, WORKER_GLOBAL, 'a worker: no document, no storage, Web Locks and BroadcastChannel');
        // The backend's clock goes past the token's life; in cookie mode a request
        // with the context's cookies (from Node, past any service worker) is refused.
        await expireAccess(backend, context);
        const summary = await page.evaluate((n) => window.worker.call('burst', n), BURST);
        const metrics = await backend.metrics();
        assert.equal(summary.ok, BURST, JSON.stringify(summary));
        assert.equal(summary.settled, BURST);
        assert.equal(summary.sessionEnds, 0);
        assert.equal(summary.events.filter((type) => type === 'refresh-start').length, 1, JSON.stringify(summary.events));
        assert.equal(summary.state.pending, 0, 'nothing left pending');
        assert.equal(refreshCount(metrics), 1, 'one refresh');
        assert.equal(outcome(metrics, 'success'), 1);
        assert.deepEqual(await page.evaluate(() => window.worker.errors), []);
      });
    });

    test(`a module service worker: the page's ${BURST} requests after expiry go through the worker's coordinator, one refresh, all succeed`, async () => {
      await withPage(async ({ page, backend, context }) => {
        if (mode === 'cookie') await logInCookies(page);
        const global = await page.evaluate(async (m) => {
          window.sw = await window.workers.serviceWorker(m);
          return window.sw.call('setup', m);
        }, mode);
        assert.deepEqual(global, WORKER_GLOBAL, 'a service worker: no document, no storage, Web Locks and BroadcastChannel');
        // The backend's clock goes past the token's life; in cookie mode a request
        // with the context's cookies (from Node, past any service worker) is refused.
        await expireAccess(backend, context);
        // The page's own fetch, no coordinator in the page: the worker adds
        // the credential (bearer) and handles the 401s.
        const summary = await page.evaluate((n) => window.workers.pageBurst(n), BURST);
        const seen = await page.evaluate(() => window.sw.call('seen'));
        const metrics = await backend.metrics();
        assert.equal(summary.ok, BURST, JSON.stringify(summary));
        assert.equal(seen.sessionEnds, 0);
        assert.equal(seen.events.filter((type) => type === 'refresh-start').length, 1, JSON.stringify(seen.events));
        assert.ok(seen.events.filter((type) => type === 'replay').length > 0, 'the 401s were replayed in the worker');
        assert.equal(seen.state.pending, 0);
        assert.equal(refreshCount(metrics), 1, 'one refresh');
        assert.equal(outcome(metrics, 'success'), 1);
        await page.evaluate(() => window.sw.unregister());
      });
    });
  });
}

test(`a page and a dedicated worker, each firing ${BURST} requests after one expiry (cookie mode): one refresh between them, every round`, async () => {
  const ROUNDS = 5;
  await withPage(async ({ page, backend }) => {
    await page.evaluate(() => window.e2e.setup('coordinator', 'cookie', {}, { logIn: true, tabs: true }));
    await startWorker(page, 'cookie');
    for (let round = 1; round <= ROUNDS; round += 1) {
      await page.evaluate(() => window.e2e.expireAccess());
      // Both bursts start in one page task; which side asks for the lock
      // first varies, so alternate which one is started first.
      const [inPage, inWorker] = await page.evaluate(
        async ([n, round, workerFirst]) => {
          const inWorker = () => window.worker.call('burst', n, round * 1000);
          const inPage = () => window.e2e.burst(n);
          if (workerFirst) {
            const worker = inWorker();
            return Promise.all([inPage(), worker]);
          }
          const own = inPage();
          return Promise.all([own, inWorker()]);
        },
        [BURST, round, round % 2 === 0],
      );
      const metrics = await backend.metrics();
      const detail = JSON.stringify({ round, inPage, inWorker });
      assert.equal(inPage.ok, BURST, detail);
      assert.equal(inWorker.ok, BURST, detail);
      assert.equal(inPage.sessionExpired + inWorker.sessionEnds, 0, detail);
      assert.equal(refreshCount(metrics), round, `one refresh per expiry, for page and worker together: ${detail}`);
      assert.equal(outcome(metrics, 'success'), round);
    }
    const pageEvents = await page.evaluate(() => window.e2e.events());
    const workerEvents = (await page.evaluate(() => window.worker.call('seen'))).events;
    const starts = [...pageEvents, ...workerEvents].filter((type) => type === 'refresh-start').length;
    const adopted = [...pageEvents, ...workerEvents].filter((type) => type === 'adopted').length;
    assert.equal(starts, ROUNDS, 'one side refreshed each round');
    assert.ok(adopted >= ROUNDS, 'and the other adopted its rotation');
  });
});

describe('cookie mode, a holder of the lock that goes away mid-refresh (its rotation committed, its answer held 2 s)', () => {
  test("a page closed: another page's worker waits for the page's keepalive refresh to land instead of refreshing", async () => {
    await withPage(async ({ page: holder, backend, open }) => {
      await holder.evaluate(() => window.e2e.setup('coordinator', 'cookie', {}, { logIn: true, tabs: true }));
      const other = await open();
      await startWorker(other, 'cookie');
      await holder.evaluate(() => window.e2e.expireAccess());
      await backend.faults({ delay_after_ms: 2000 });
      const closing = holder.evaluate(() => window.e2e.burst(5)).catch(() => 'closed');
      await rotationHeld(backend);
      await holder.close();
      await closing;
      // The page's refresh note is in localStorage, which the worker cannot
      // read, and in IndexedDB, which it can.
      const summary = await other.evaluate(() => window.worker.call('burst', 10));
      const metrics = await backend.metrics();
      assert.equal(summary.ok, 10, JSON.stringify(summary));
      assert.equal(summary.sessionEnds, 0, 'not logged out');
      assert.equal(summary.events.filter((type) => type === 'refresh-start').length, 0, 'no refresh with the token the page rotated');
      assert.equal(refreshCount(metrics), 1, JSON.stringify(metrics));
      assert.equal(outcome(metrics, 'success'), 1);
    });
  });

  // A worker's refresh does not outlive the worker: Chromium cancels a
  // terminated worker's fetches, keepalive or not, so its rotated cookie
  // never lands (measured while writing this: the jar's refresh cookie was
  // the same 3 s after the termination, past the held answer). What is left
  // is a refresh token the server replaced: as for bearer mode across a
  // reload, only a grace window keeps that session. These pin what happens.
  for (const [flags, expect] of [
    [[], 'ends cleanly: every request fails with SessionExpiredError, once'],
    [['--rotation-grace', '10'], 'is kept with a grace window: the page gets the same successor'],
  ]) {
    test(`a dedicated worker terminated: the session ${expect}`, async () => {
      await withPage(async ({ page, backend }) => {
        await page.evaluate(() => window.e2e.setup('coordinator', 'cookie', {}, { logIn: true, tabs: true }));
        await startWorker(page, 'cookie');
        await page.evaluate(() => window.e2e.expireAccess());
        await backend.faults({ delay_after_ms: 2000 });
        await page.evaluate(() => {
          window.workerBurst = window.worker.call('burst', 5).catch(() => 'terminated');
        });
        await rotationHeld(backend);
        await page.evaluate(() => window.worker.terminate());
        const summary = await page.evaluate(() => window.e2e.burst(10));
        assert.equal(summary.settled, 10);
        if (flags.length === 0) {
          assert.deepEqual(summary.errors, { SessionExpiredError: 10 }, JSON.stringify(summary));
          assert.equal(summary.sessionExpired, 1, 'onSessionExpired once');
        } else {
          assert.equal(summary.ok, 10, JSON.stringify(summary));
          assert.equal(outcome(await backend.metrics(), 'grace_reuse'), 1);
        }
      }, flags);
    });
  }
});
