// End to end across tabs (rule 9): several pages of one browser context
// (one cookie jar, one localStorage, one lock manager) against the reference
// backend with rotation, blacklist after rotation and no grace window. In
// bearer mode the pages share a localStorage token store. The refresh counts
// come from the backend's /metrics.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { launchBrowser } from '../test/browser.mjs';
import { outcome, refreshCount, ROOT, startBackend } from './backend.mjs';

const LONG = ['--access-token-lifetime', '10m'];
let browser;
const report = [];

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (report.length === 0) return;
  const lines = [
    '| scenario | mode | refresh-coordinator | hand-written interceptor |',
    '|---|---|---|---|',
    ...report.map((r) => `| ${r.name} | ${r.mode} | ${r.coordinator ?? 'n/a'} | ${r.naive ?? 'n/a'} |`),
  ];
  const text = `Across tabs: refresh requests / failed requests / session ends.\n\n${lines.join('\n')}\n`;
  await mkdir(`${ROOT}target`, { recursive: true });
  await writeFile(`${ROOT}target/e2e-tabs-report.md`, text);
  console.log(`\n${text}`);
});

/** Notes one cell of the report. */
function record(name, mode, kind, cell) {
  let row = report.find((r) => r.name === name && r.mode === mode);
  if (!row) report.push((row = { name, mode }));
  row[kind] = cell;
}

/**
 * `tabs` pages of one context on a fresh backend, the first one logged in,
 * each with a coordinator (`options`; `init` runs before any page script).
 */
async function withTabs({ tabs, mode, kind = 'coordinator', options = {}, init }, body) {
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
        ([k, m, o, logIn]) => window.e2e.setup(k, m, o, { logIn, tabs: true }),
        [kind, mode, options, i === 0],
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
      test(`${tabs} tabs × 50 requests after one expiry with the hand-written interceptor (reported, not asserted)`, async () => {
        await withTabs({ tabs, mode, kind: 'naive' }, async ({ pages, backend, run }) => {
          await run(pages[0], 'expireAccess');
          const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 50)));
          const failed = summaries.reduce((n, s) => n + s.failed, 0);
          const ends = summaries.reduce((n, s) => n + s.sessionExpired, 0);
          record(`${tabs} tabs × 50 after one expiry`, mode, 'naive', `${refreshCount(await backend.metrics())} / ${failed} / ${ends}`);
        });
      });

      test(`${tabs} tabs × 50 requests after one expiry, at once: one refresh in the browser, nothing fails`, async () => {
        await withTabs({ tabs, mode }, async ({ pages, backend, run }) => {
          await run(pages[0], 'expireAccess');
          const summaries = await Promise.all(pages.map((page) => run(page, 'burst', 50)));
          const metrics = await backend.metrics();
          record(`${tabs} tabs × 50 after one expiry`, mode, 'coordinator', `${refreshCount(metrics)} / ${summaries.reduce((n, s) => n + s.failed, 0)} / 0`);
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

    test('logout() in one tab logs every tab out once, with no refresh and no expiry', async () => {
      await withTabs({ tabs: 3, mode }, async ({ pages, backend, run }) => {
        assert.equal(await run(pages[0], 'logOut'), 'logged-out');
        for (const page of pages) {
          await page.waitForFunction(() => window.e2e.session() === 'logged-out');
        }
        await run(pages[1], 'expireAccess');
        const after = await run(pages[1], 'burst', 3);
        assert.deepEqual(after.errors, { LoggedOutError: 3 }, JSON.stringify(after));
        const events = await Promise.all(pages.map((page) => run(page, 'events')));
        for (const e of events) {
          assert.equal(e.filter((t) => t === 'logged-out').length, 1, 'told once in each tab');
          assert.equal(e.filter((t) => t === 'session-expired').length, 0, 'a logout is no expiry');
        }
        const metrics = await backend.metrics();
        assert.equal(refreshCount(metrics), 0, 'no refresh after the logout');
        if (mode === 'cookie') assert.equal(metrics.logouts_total, 1, 'one logout request, from the tab that logged out');
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
