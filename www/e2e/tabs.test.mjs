// End to end across tabs (rule 9): several pages of one browser context
// (one cookie jar, one localStorage, one lock manager) against the reference
// backend with rotation, blacklist after rotation and no grace window. In
// bearer mode the pages share a localStorage token store. The refresh counts
// come from the backend's /metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { outcome, refreshCount, startBackend } from './backend.mjs';

const LONG = ['--access-token-lifetime', '10m'];
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/**
 * `tabs` pages of one context on a fresh backend, the first one logged in,
 * each with a coordinator (`options`; `init` runs before any page script).
 */
async function withTabs({ tabs, mode, options = {}, init }, body) {
  const backend = await startBackend(LONG);
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const errors = [];
  try {
    const pages = [];
    for (let i = 0; i < tabs; i++) {
      const page = await context.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${backend.url}/e2e.html`);
      await page.waitForFunction(() => window.e2eReady === true);
      await page.evaluate(
        ([m, o, logIn]) => window.e2e.setup('coordinator', m, o, { logIn, tabs: true }),
        [mode, options, i === 0],
      );
      pages.push(page);
    }
    const run = (page, name, ...args) => page.evaluate(([n, a]) => window.e2e[n](...a), [name, args]);
    return await body({ pages, backend, run });
  } finally {
    await context.close();
    await backend.stop();
    assert.deepEqual(errors, [], 'no uncaught page errors');
  }
}

for (const mode of ['cookie', 'bearer']) {
  describe(`${mode} mode, several tabs`, () => {
    for (const tabs of [2, 4]) {
      test(`${tabs} tabs × 50 requests after one expiry, at once: one refresh in the browser, nothing fails`, async () => {
        await withTabs({ tabs, mode }, async ({ pages, backend, run }) => {
          await run(pages[0], 'expireAccess');
          const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 50)));
          const metrics = await backend.metrics();
          for (const summary of summaries) {
            assert.equal(summary.ok, 50, JSON.stringify(summary));
            assert.equal(summary.sessionExpired, 0);
          }
          assert.equal(refreshCount(metrics), 1, 'one refresh for every tab');
          assert.equal(outcome(metrics, 'success'), 1);
          const events = await Promise.all(pages.map((page) => run(page, 'events')));
          assert.equal(events.filter((e) => e.includes('refresh-start')).length, 1, 'one tab refreshed');
          assert.equal(events.filter((e) => e.includes('adopted')).length, tabs - 1, 'the others adopted');
        });
      });
    }

    test('a refused refresh in one tab ends the session in every tab once; a login in one starts them all again', async () => {
      await withTabs({ tabs: 3, mode }, async ({ pages, backend, run }) => {
        const { first } = await run(pages[0], 'refused', 4);
        assert.deepEqual(first.errors, { SessionExpiredError: 4 }, JSON.stringify(first));
        for (const page of pages) {
          await page.waitForFunction(() => window.e2e.tally.get('sessionExpired') >= 1);
        }
        const ended = await Promise.all(pages.map((page) => run(page, 'burst', 2)));
        for (const summary of ended) assert.deepEqual(summary.errors, { SessionExpiredError: 2 }, JSON.stringify(summary));
        const told = await Promise.all(pages.map((page) => page.evaluate(() => window.e2e.tally.get('sessionExpired'))));
        // sessionStorage tallies are per page: each tab was told exactly once.
        assert.deepEqual(told, [1, 1, 1]);
        assert.equal(refreshCount(await backend.metrics()), 1, 'no tab refreshed after the refusal');

        await run(pages[2], 'logInAgain');
        await run(pages[0], 'expireAccess');
        const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 10)));
        for (const summary of summaries) assert.equal(summary.ok, 10, JSON.stringify(summary));
        assert.equal(refreshCount(await backend.metrics()), 2, 'one more refresh, for the new session');
      });
    });

    test('without Web Locks each tab refreshes on its own, says so once, and nothing hangs or logs out', async () => {
      const init = () => {
        Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
      };
      await withTabs({ tabs: 2, mode, init }, async ({ pages, backend, run }) => {
        await run(pages[0], 'expireAccess');
        const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 20)));
        for (const summary of summaries) {
          assert.equal(summary.ok, 20, JSON.stringify(summary));
          assert.equal(summary.sessionExpired, 0, 'a lost race is confirmed, not a logout');
        }
        const events = await Promise.all(pages.map((page) => run(page, 'events')));
        for (const e of events) assert.equal(e.filter((t) => t === 'cross-tab-unavailable').length, 1);
        assert.ok(refreshCount(await backend.metrics()) <= 2, 'at most one per tab');
      });
    });

    test('authFetch called from onEvent and onSessionExpired settles (no lock is held in callbacks)', async () => {
      await withTabs({ tabs: 2, mode, options: { reenter: true } }, async ({ pages, backend, run }) => {
        await run(pages[0], 'expireAccess');
        const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 5)));
        for (const summary of summaries) assert.equal(summary.ok, 5, JSON.stringify(summary));
        const reentered = await Promise.all(pages.map((page) => page.evaluate(() => window.e2e.reentered())));
        for (const r of reentered) assert.ok(r.settled >= 1 && r.pending === 0, JSON.stringify(r));
        assert.equal(refreshCount(await backend.metrics()), 1);
      });
    });
  });
}
