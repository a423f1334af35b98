// End to end, refresh ahead of expiry (rule 8): pages of one browser context
// against the reference backend with 15 s access tokens, no grace window.
// The token lifetimes are real time here (refreshing ahead runs on the
// browser's clock), so they are sized for a loaded machine: a tab refreshes
// from two thirds of the token's life on (about 9.3 s after the refresh was
// sent, its timer by 11.7 s), which leaves over 3 s before the token dies
// for one refresh on loopback. The counts come from the backend's /metrics
// and from what the server answered the pages' own requests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { outcome, refreshCount } from './backend.mjs';
import { withTabs } from './tabs.mjs';

const SHORT = ['--access-token-lifetime', '15s'];
/** One cycle: the earliest a tab refreshes ahead (two thirds of 14 s) and the latest its timer does. */
const EARLIEST_MS = 9_300;
const LATEST_MS = 11_700;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Makes a page's `Date` run `shiftMs` off the machine's clock (an init script). */
function shiftedClock(shiftMs) {
  return `(() => {
    const Real = Date;
    const shift = ${shiftMs};
    class Shifted extends Real {
      constructor(...args) { if (args.length === 0) super(Real.now() + shift); else super(...args); }
      static now() { return Real.now() + shift; }
    }
    globalThis.Date = Shifted;
  })();`;
}

/** Every page reports itself hidden, as a background tab does. */
const hidden = () => {
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => 'hidden', configurable: true });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => true, configurable: true });
};

/**
 * Expires the login's token with the clock hook, and lets tab 0 refresh
 * after the 401s: from then on the lifetime is known, and every tab has it.
 */
async function firstRefresh({ pages, backend, run }) {
  await run(pages[0], 'expireAccess');
  const first = await run(pages[0], 'burst', 3);
  assert.equal(first.ok, 3, JSON.stringify(first));
  assert.equal(refreshCount(await backend.metrics()), 1);
}

/**
 * Steady traffic in every tab for `forMs`: no request is answered 401, none
 * fails, no session ends, and the refreshes stay within one per cycle.
 */
async function steadyTraffic(t, setup, forMs) {
  await withTabs(browser, setup, async (tabs) => {
    const { pages, backend, run } = tabs;
    await firstRefresh(tabs);
    const summaries = await Promise.all(pages.map((page) => run(page, 'steady', forMs, 250)));
    const metrics = await backend.metrics();
    const refreshes = refreshCount(metrics) - 1;
    t.diagnostic(`${refreshes} refreshes ahead in ${forMs / 1000} s; per tab: ${JSON.stringify(summaries.map((s) => s.answered))}`);
    for (const summary of summaries) {
      assert.equal(summary.failed, 0, JSON.stringify(summary));
      assert.equal(summary.answered[401] ?? 0, 0, `no request answered 401: ${JSON.stringify(summary.answered)} ${JSON.stringify(summary.trace)}`);
      assert.equal(summary.sessionExpired, 0);
      assert.equal(summary.replays, 0, 'nothing needed replaying');
    }
    assert.equal(outcome(metrics, 'success'), refreshes + 1, 'every refresh rotated');
    assert.equal(summaries.reduce((n, s) => n + s.aheadStarts, 0), refreshes, 'each one ahead of expiry, by one tab');
    assert.ok(refreshes >= Math.floor(forMs / LATEST_MS), `at least one per cycle (${refreshes})`);
    assert.ok(refreshes <= Math.ceil(forMs / EARLIEST_MS), `at most one per cycle (${refreshes})`);
  });
}

for (const mode of ['cookie', 'bearer']) {
  describe(`${mode} mode, refresh ahead of expiry`, () => {
    test('steady traffic in 3 tabs over 5 expiries: no request answered 401, one refresh per expiry', { timeout: 180_000 }, async (t) => {
      await steadyTraffic(t, { tabs: 3, mode, backendArgs: SHORT }, 5 * 12_000);
    });

    const shift = mode === 'cookie' ? 10 : -10;
    test(`a page clock ${shift > 0 ? '+' : ''}${shift} minutes off still refreshes once per expiry, ahead of it`, { timeout: 120_000 }, async (t) => {
      await steadyTraffic(t, { tabs: 3, mode, backendArgs: SHORT, init: shiftedClock(shift * 60_000) }, 2 * 12_000);
    });
  });
}

test('hidden tabs refresh ahead only when they send: no timer refresh, and a request still meets no 401', { timeout: 120_000 }, async () => {
  await withTabs(browser, { tabs: 3, mode: 'cookie', backendArgs: SHORT, init: hidden }, async (tabs) => {
    const { pages, backend, run } = tabs;
    await firstRefresh(tabs);
    // Past the latest moment a visible tab's timer would have refreshed.
    await pages[1].waitForTimeout(LATEST_MS + 1_000);
    assert.equal(refreshCount(await backend.metrics()), 1, 'no hidden tab refreshed by itself');
    const summary = await run(pages[1], 'steady', 1, 1);
    assert.equal(summary.ok, 1, JSON.stringify(summary));
    assert.deepEqual(summary.answered, { 200: 1 }, 'sent once, after the refresh ahead');
    assert.equal(summary.aheadStarts, 1);
    assert.equal(refreshCount(await backend.metrics()), 2);
  });
});
