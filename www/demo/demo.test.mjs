// The demo page in headless Chromium against its two backends (free
// loopback ports, 15 s access tokens as in `make demo`): log in through the
// page, wait for the countdown to run out, fire a burst, and read the
// panels. The coordinator refreshes once and keeps the session; the naive
// interceptor refreshes once per 401. Every wait is a bounded wait on a
// condition.
//
// The countdown is real time, so the token lifetime is a real wait; it is
// sized so that the burst (50 requests, the "slow" network's 60 ms per
// answer, six connections) drains well within the fresh token's life on a
// loaded machine. With 2 s tokens the last replays outlived the fresh token
// one run in three: the coordinator then rightly refreshes a second time,
// and "one refresh" would have measured the machine's speed.
//
//   node --test www/demo/demo.test.mjs   (after `make build` and
//                                         `cargo build --profile server -p refresh-backend`)

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launch } from '../test/browser.mjs';
import { refreshCount } from '../test/backend.mjs';
import { CLUSTER_INSTANCES, startDemo } from './backends.mjs';

const BURST = 50;

/** What a panel shows: its counters, its session line, its backend line. */
function readPanel(page, name) {
  return page.evaluate((name) => {
    const el = document.querySelector(`[data-panel="${name}"]`);
    const counter = (c) => Number(el.querySelector(`dd[data-counter="${c}"]`).textContent);
    const detail = el.querySelector('[data-counter="detail"]').textContent;
    const number = (re) => Number((re.exec(detail) || [0, 0])[1]);
    return {
      requests: counter('requests'),
      ok: number(/(\d+) ok/),
      failed: number(/(\d+) failed/),
      refreshes: counter('refreshes'),
      replays: counter('replays'),
      sessionEnds: counter('sessionEnds'),
      session: el.dataset.session,
      server: el.querySelector('.server').textContent,
    };
  }, name);
}

const panelsAre = (page, condition, arg, timeout = 15_000) =>
  page.waitForFunction(condition, arg, { timeout, polling: 50 });

// Once as `make demo` runs it, once as `make demo-cluster` does: each panel's
// backend 3 instances on one throw-away PostgreSQL behind a round-robin proxy.
for (const cluster of [false, true]) {
  const where = cluster ? ` (${CLUSTER_INSTANCES} instances on one PostgreSQL behind a proxy)` : '';
  test(`a burst after expiry: the coordinator panel refreshes once, the naive panel many times${where}`, { timeout: 120_000 }, async (t) => {
    const demo = await startDemo({ accessLifetime: '15s', cluster });
    t.after(() => demo.stop());
    const browser = await launch();
    t.after(() => browser.close());

    const page = await browser.context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error));
    await page.goto(demo.demoUrl);
    await page.waitForFunction(() => window.demoReady === true, null, { timeout: 15_000 });
    // The page found the naive backend in its query.
    assert.match(await page.textContent('[data-panel="naive"] .backend'), new RegExp(demo.naiveUrl));
    await page.evaluate(() => window.demo.networkApplied);
    assert.equal(await page.inputValue('#network'), 'slow');
    await page.selectOption('#count', String(BURST));

    await page.click('[data-action="login"]');
    await panelsAre(page, () =>
      [...document.querySelectorAll('[data-panel]')].every((p) => p.dataset.session === 'in'),
    );
    // The countdown runs out (15 s tokens).
    await panelsAre(
      page,
      () => [...document.querySelectorAll('[data-panel]')].every((p) => p.dataset.expired === 'true'),
      null,
      40_000,
    );
    assert.match(await page.textContent('#hint'), /expired: fire now/);

    await page.click('[data-action="fire"]');
    await panelsAre(
      page,
      (n) =>
        [...document.querySelectorAll('[data-panel]')].every(
          (p) => p.dataset.pending === '0' && p.querySelector('dd[data-counter="requests"]').textContent === String(n),
        ),
      BURST,
      60_000,
    );

    const coordinator = await readPanel(page, 'coordinator');
    const naive = await readPanel(page, 'naive');
    t.diagnostic(`coordinator: ${JSON.stringify(coordinator)}`);
    t.diagnostic(`naive: ${JSON.stringify(naive)}`);

    assert.equal(coordinator.requests, BURST);
    assert.equal(coordinator.ok, BURST, 'every request of the coordinator succeeds');
    assert.equal(coordinator.refreshes, 1, 'one refresh for the whole burst');
    assert.equal(coordinator.replays, BURST, 'every 401 is replayed');
    assert.equal(coordinator.sessionEnds, 0);
    assert.equal(coordinator.session, 'in');

    assert.equal(naive.requests, BURST);
    assert.ok(naive.refreshes > 1, `the naive interceptor refreshes per 401 (${naive.refreshes})`);
    assert.equal(naive.ok + naive.failed, BURST, 'every naive request settled');

    // The panels' backend lines agree with the backends' /metrics (the proxy's sum, with a cluster).
    await panelsAre(
      page,
      (summed) =>
        new RegExp(`/metrics${summed} since start: 1 refresh \\(1 rotated\\)`).test(
          document.querySelector('[data-panel="coordinator"] .server').textContent,
        ),
      cluster ? ` \\(${CLUSTER_INSTANCES} instances, summed\\)` : '',
    );
    // The naive panel reads its backend's /metrics cross-origin (the proxy keeps the CORS headers).
    await panelsAre(page, () => /since start: \d+ refreshes/.test(document.querySelector('[data-panel="naive"] .server').textContent));
    if (cluster) {
      const each = await Promise.all(demo.backends[0].instances.map((i) => i.metrics()));
      t.diagnostic(`coordinator panel's refreshes per instance: ${each.map(refreshCount).join(' + ')}`);
      assert.equal(each.map(refreshCount).reduce((a, b) => a + b), 1, 'one refresh over all instances');
    }

    // A second tab opens the same page, naive backend included.
    const [second] = await Promise.all([
      browser.context.waitForEvent('page', { timeout: 15_000 }),
      page.click('[data-action="second-tab"]'),
    ]);
    await second.waitForFunction(() => window.demoReady === true, null, { timeout: 15_000 });
    assert.equal(second.url(), page.url());
    await panelsAre(page, () => document.querySelector('#tabs').textContent === '(2 tabs)');

    assert.deepEqual(errors, [], 'no uncaught errors on the page');
  });
}

test('two tabs fire after one expiry: one tab refreshes, the other adopts, its timeline shows it', { timeout: 120_000 }, async (t) => {
  const demo = await startDemo({ accessLifetime: '15s' });
  t.after(() => demo.stop());
  const browser = await launch();
  t.after(() => browser.close());

  const first = await browser.context.newPage();
  const errors = [];
  first.on('pageerror', (error) => errors.push(error));
  await first.goto(demo.demoUrl);
  await first.waitForFunction(() => window.demoReady === true, null, { timeout: 15_000 });
  await first.evaluate(() => window.demo.networkApplied);
  await first.selectOption('#count', String(BURST));
  await first.click('[data-action="login"]');
  await panelsAre(first, () => [...document.querySelectorAll('[data-panel]')].every((p) => p.dataset.session === 'in'));

  const [second] = await Promise.all([
    browser.context.waitForEvent('page', { timeout: 15_000 }),
    first.click('[data-action="second-tab"]'),
  ]);
  second.on('pageerror', (error) => errors.push(error));
  await second.waitForFunction(() => window.demoReady === true, null, { timeout: 15_000 });
  await panelsAre(first, () => document.querySelector('#tabs').textContent === '(2 tabs)');
  const pages = [first, second];
  // Both tabs show the shared session run out.
  for (const page of pages) {
    await panelsAre(page, () => document.querySelector('[data-panel="coordinator"]').dataset.expired === 'true', null, 40_000);
  }

  await first.click('[data-action="fire-all"]');
  for (const page of pages) {
    await panelsAre(
      page,
      (n) => {
        const p = document.querySelector('[data-panel="coordinator"]');
        return p.dataset.pending === '0' && p.querySelector('dd[data-counter="requests"]').textContent === String(n);
      },
      BURST,
      60_000,
    );
  }
  const panels = await Promise.all(pages.map((page) => readPanel(page, 'coordinator')));
  const adoptions = await Promise.all(
    pages.map((page) => page.evaluate(() => document.querySelectorAll('[data-panel="coordinator"] [data-adopted]').length)),
  );
  t.diagnostic(`coordinator panels: ${JSON.stringify(panels)}; adoptions drawn: ${JSON.stringify(adoptions)}`);
  for (const panel of panels) {
    assert.equal(panel.ok, BURST, 'every request of each tab succeeds');
    assert.equal(panel.sessionEnds, 0);
  }
  assert.equal(panels[0].refreshes + panels[1].refreshes, 1, 'one refresh for both tabs');
  const adopter = panels[0].refreshes === 0 ? 0 : 1;
  assert.ok(adoptions[adopter] >= 1, 'the tab that sent no refresh draws its adoption');
  assert.equal(adoptions[1 - adopter], 0, 'the tab that refreshed adopted nothing');
  assert.deepEqual(errors, [], 'no uncaught errors on the pages');
});
