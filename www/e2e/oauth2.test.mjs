// End to end against Django OAuth Toolkit's refresh grant, as the reference
// backend speaks it (`/o/token/`, rotation, no grace window): the built
// package in headless Chromium with `dialect: 'oauth2'`, with the app's own
// `refresh` function, with an API that says "expired" with a 403 and
// `WWW-Authenticate: Bearer error="invalid_token"`, and with a server whose
// tokens cannot go in a header.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../test/browser.mjs';
import { outcome, refreshCount, startBackend } from './backend.mjs';

const CLIENT_ID = 'spa-client';
// Ten-minute access tokens, expired on purpose by the backend's clock.
const FLAGS = ['--oauth-client-id', CLIENT_ID, '--oauth-access-token-lifetime', '600s'];
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Runs `body` with a fresh backend, browser context and page set up as `kind`. */
async function scenario(kind, setupOptions, body) {
  const backend = await startBackend(FLAGS);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${backend.url}/e2e.html`);
    await page.waitForFunction(() => window.e2eReady === true);
    await page.evaluate(async () => {
      window.oauth2 = await import('/oauth2.js');
    });
    await page.evaluate(([k, o]) => window.oauth2.setup(k, o), [kind, setupOptions]);
    const run = (name, ...args) => page.evaluate(([n, a]) => window.oauth2[n](...a), [name, args]);
    const expire = () => backend.advanceClock(601);
    return await body({ backend, run, expire });
  } finally {
    await context.close();
    await backend.stop();
    assert.deepEqual(errors, [], 'no uncaught page errors');
  }
}

/** Uses the refresh token up from outside the page, as another client of the same grant would. */
async function useUp(backend, refresh) {
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: CLIENT_ID });
  const response = await fetch(`${backend.url}/o/token/`, { method: 'POST', body });
  assert.equal(response.status, 200, await response.text());
}

for (const kind of ['dialect', 'custom']) {
  const who = kind === 'dialect' ? "dialect: 'oauth2'" : 'a custom refresh';
  describe(who, () => {
    test('a burst of 50 after expiry: one refresh, 50 replays, all succeed; again at the next expiry', async () => {
      await scenario(kind, {}, async ({ backend, run, expire }) => {
        for (let cycle = 1; cycle <= 2; cycle += 1) {
          await expire();
          const summary = await run('burst', 50);
          const metrics = await backend.metrics();
          assert.equal(summary.ok, 50, JSON.stringify(summary));
          assert.equal(summary.replays, 50 * cycle);
          assert.equal(refreshCount(metrics), cycle, 'one refresh per expiry');
          // Rotation without a grace window: each refresh used the token the last one rotated.
          assert.equal(outcome(metrics, 'success'), cycle);
          assert.equal(summary.sessionExpired, 0);
          if (kind === 'custom') assert.equal(summary.refreshCalls, cycle, 'the function ran once per expiry');
        }
      });
    });

    test('a refresh token used up elsewhere ends the session once, every waiter with SessionExpiredError', async () => {
      await scenario(kind, {}, async ({ backend, run, expire }) => {
        await useUp(backend, (await run('heldTokens')).refresh);
        await expire();
        const summary = await run('burst', 20);
        assert.deepEqual(summary.errors, { SessionExpiredError: 20 }, JSON.stringify(summary));
        assert.equal(summary.sessionExpired, 1);
        assert.equal(summary.session, 'ended');
        const metrics = await backend.metrics();
        assert.equal(refreshCount(metrics), 2, "the other client's refresh and the page's one");
        if (kind === 'custom') {
          // The function's RefreshRefusedError is every waiter's cause.
          assert.deepEqual(summary.causes, { 'RefreshRefusedError: refresh refused: invalid_grant': 20 });
        }
        // Later 401s start no refresh.
        const later = await run('burst', 5);
        assert.deepEqual(later.errors, { SessionExpiredError: 5 });
        assert.equal(refreshCount(await backend.metrics()), 2);
        assert.equal(later.sessionExpired, 1);
      });
    });
  });
}

describe('a custom refresh that throws', () => {
  test('any error: retried, then every waiter fails with RefreshUnavailableError caused by it; the session is kept', async () => {
    await scenario('custom', {}, async ({ backend, run, expire }) => {
      await expire();
      await run('throwFromRefresh', false);
      const summary = await run('burst', 20);
      assert.deepEqual(summary.errors, { RefreshUnavailableError: 20 }, JSON.stringify(summary));
      assert.deepEqual(summary.causes, { 'Error: device locked': 20 });
      // The first try and one retry (retry.limit 1); a 401 that comes back
      // after the waiters were failed starts afresh, with its own retry.
      assert.ok(summary.refreshCalls >= 2 && summary.refreshCalls % 2 === 0, `${summary.refreshCalls} calls`);
      assert.equal(summary.sessionExpired, 0);
      assert.equal(summary.session, 'active');
      assert.equal(refreshCount(await backend.metrics()), 0, 'the function never reached the server');
    });
  });

  test('RefreshRefusedError: the session ends at once, no retry', async () => {
    await scenario('custom', {}, async ({ run, expire }) => {
      await expire();
      await run('throwFromRefresh', true);
      const summary = await run('burst', 20);
      assert.deepEqual(summary.errors, { SessionExpiredError: 20 }, JSON.stringify(summary));
      assert.deepEqual(summary.causes, { 'RefreshRefusedError: device revoked': 20 });
      assert.equal(summary.refreshCalls, 1);
      assert.equal(summary.sessionExpired, 1);
    });
  });
});

describe('expiredWhen', () => {
  test('a 403 with Bearer error="invalid_token" refreshes and replays with invalidTokenChallenge', async () => {
    await scenario('forbidding', {}, async ({ backend, run, expire }) => {
      await expire();
      const summary = await run('burst', 30);
      assert.equal(summary.ok, 30, JSON.stringify(summary));
      assert.equal(summary.replays, 30);
      assert.equal(refreshCount(await backend.metrics()), 1);
    });
  });

  test('without it, that 403 is a permission answer: returned as it is, no refresh', async () => {
    await scenario('forbidding', { expiredWhen: false }, async ({ backend, run, expire }) => {
      await expire();
      const summary = await run('burst', 10);
      assert.deepEqual(summary.statuses, { 403: 10 }, JSON.stringify(summary));
      assert.equal(summary.refreshStarts, 0);
      assert.equal(refreshCount(await backend.metrics()), 0);
    });
  });
});

describe("dialect: 'oauth2' across tabs, tokens in localStorage", () => {
  test('2 tabs × 50 after expiry at the same instant: one refresh, all succeed', async () => {
    const backend = await startBackend(FLAGS);
    const context = await browser.newContext();
    try {
      const pages = [];
      for (let i = 0; i < 2; i += 1) {
        const page = await context.newPage();
        await page.goto(`${backend.url}/e2e.html`);
        await page.waitForFunction(() => window.e2eReady === true);
        await page.evaluate(async (logIn) => {
          window.oauth2 = await import('/oauth2.js');
          await window.oauth2.setup('dialect', { shared: true, logIn });
        }, i === 0);
        pages.push(page);
      }
      await backend.advanceClock(601);
      const summaries = await Promise.all(pages.map((page) => page.evaluate(() => window.oauth2.burst(50))));
      for (const summary of summaries) assert.equal(summary.ok, 50, JSON.stringify(summary));
      const metrics = await backend.metrics();
      assert.equal(refreshCount(metrics), 1, 'one refresh across both tabs');
      assert.equal(outcome(metrics, 'success'), 1);
    } finally {
      await context.close();
      await backend.stop();
    }
  });
});

test("expires_in feeds refreshing ahead: the next expiry is refreshed before any request gets a 401", async () => {
  // 12 s tokens, a 4 s margin (a third of the lifetime, the most the core
  // takes): the expiry is known from the first refresh's expires_in, and the
  // visible page refreshes ahead of the second.
  const backend = await startBackend(['--oauth-client-id', CLIENT_ID, '--oauth-access-token-lifetime', '12s']);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${backend.url}/e2e.html`);
    await page.waitForFunction(() => window.e2eReady === true);
    await page.evaluate(async () => {
      window.oauth2 = await import('/oauth2.js');
      await window.oauth2.setup('dialect', { margin: 4_000 });
    });
    await backend.advanceClock(13);
    const first = await page.evaluate(() => window.oauth2.burst(5));
    assert.equal(first.ok, 5, JSON.stringify(first));
    const before = (await backend.metrics())['protected_requests_total{outcome="unauthorized"}'];
    await page.waitForFunction(() => window.oauth2.aheadStarts() >= 1 && window.oauth2.rotations() >= 2, null, {
      timeout: 60_000,
    });
    const after = await backend.metrics();
    assert.equal(after['protected_requests_total{outcome="unauthorized"}'], before, 'no 401 since the first refresh');
    assert.equal(refreshCount(after), 2);
    const statuses = await page.evaluate(() => window.oauth2.trickle(2_000, 100));
    assert.deepEqual(Object.keys(statuses), ['200'], JSON.stringify(statuses));
  } finally {
    await context.close();
    await backend.stop();
  }
});

test('a refresh answer whose access token cannot go in a header is a broken answer: typed errors, session kept', async () => {
  await scenario('unsafe', {}, async ({ backend, run, expire }) => {
    await expire();
    const summary = await run('burst', 10);
    assert.deepEqual(summary.errors, { RefreshUnavailableError: 10 }, JSON.stringify(summary));
    assert.equal(summary.session, 'active');
    assert.equal(summary.sessionExpired, 0);
    // The first try and one retry, both rotated by the server, both
    // unusable; the retry went with the refresh token the first one rotated.
    // (Again: a late 401 after the waiters failed starts afresh.) Every one
    // of them was a success at the server, none an invalid_grant.
    const metrics = await backend.metrics();
    const refreshes = refreshCount(metrics);
    assert.ok(refreshes >= 2 && refreshes % 2 === 0, `${refreshes} refreshes`);
    assert.equal(outcome(metrics, 'success'), refreshes, JSON.stringify(metrics));
  });
});
