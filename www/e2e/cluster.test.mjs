// End to end against three instances of the reference backend on one
// PostgreSQL database (a throw-away cluster under target/), behind the
// round-robin proxy on one origin (../test/cluster.mjs): SimpleJWT's
// rotation with blacklist after rotation, no grace window, atomic rotation.
// Every request goes to the next instance, so a burst's 401s, its refresh
// and its replays land on all three; refreshes are counted on every
// instance's /metrics and summed.
//
// Each instance has a test clock of its own (an in-process clock, not kept
// in the database), so a scenario expires the access token by putting each
// instance's clock ahead directly, then waits in the page for the 401.
// The report lands in target/e2e-cluster-report.md.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { launchBrowser } from '../test/browser.mjs';
import { startPostgres } from '../test/postgres.mjs';
import { sumMetrics } from '../test/backend.mjs';
import { outcome, refreshCount, ROOT, startCluster } from './backend.mjs';
import { LONG, withTabs as openTabs } from './tabs.mjs';

const INSTANCES = 3;
let browser;
let postgres;
const report = [];

before(async () => {
  postgres = await startPostgres('e2e-cluster');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  postgres?.stop();
  await writeReport();
});

/** `tabs` pages of one context on a fresh cluster (a new database, new instances). */
const withCluster = (setup, body) =>
  openTabs(browser, { ...setup, start: () => startCluster(postgres, LONG, INSTANCES) }, body);

/** Expires the access token on every instance, then waits (bounded, in the page) for a 401 through the proxy. */
async function expireEverywhere(backend, run, page) {
  await backend.advanceClock(601);
  await run(page, 'waitForExpiry');
}

/** Fires `n` requests in each page at once; what they saw and what each instance counted. */
async function burstInEvery(pages, backend, run, n) {
  const summaries = await Promise.all(pages.map((page) => run(page, 'burst', n)));
  const each = await backend.instanceMetrics();
  const total = (key) => summaries.reduce((sum, s) => sum + s[key], 0);
  return { summaries, each, metrics: sumMetrics(each), ok: total('ok'), failed: total('failed'), sessionEnds: total('sessionExpired') };
}

/** Notes one cell of the report: refreshes / failed / session ends, and the refreshes per instance. */
function record(name, mode, kind, { metrics, each, failed, sessionEnds }) {
  let row = report.find((r) => r.name === name && r.mode === mode);
  if (!row) report.push((row = { name, mode }));
  row[kind] = `${refreshCount(metrics)} / ${failed} / ${sessionEnds} (${each.map(refreshCount).join(' + ')})`;
}

/** Every instance answered part of the traffic: its clock was put ahead, and the proxy spread the burst. */
function assertSpread(each) {
  for (const [i, m] of each.entries()) {
    assert.ok(m['protected_requests_total{outcome="unauthorized"}'] > 0, `instance ${i + 1} answered 401s: ${JSON.stringify(m)}`);
    assert.ok(m['protected_requests_total{outcome="ok"}'] > 0, `instance ${i + 1} answered replays`);
  }
}

for (const mode of ['cookie', 'bearer']) {
  describe(`${mode} mode, ${INSTANCES} instances on one PostgreSQL`, () => {
    // One page; bearer tokens in the page's own sessionStorage, as in scenarios.test.mjs.
    const onePage = { tabs: 1, mode, shared: false };

    test('burst of 50 expired requests with the hand-written interceptor (reported, not asserted)', async () => {
      await withCluster({ ...onePage, kind: 'naive' }, async ({ pages, backend, run }) => {
        await expireEverywhere(backend, run, pages[0]);
        record('burst of 50', mode, 'naive', await burstInEvery(pages, backend, run, 50));
      });
    });

    test('burst of 50 expired requests, spread over every instance: one refresh in all, 50 successes', async () => {
      await withCluster(onePage, async ({ pages, backend, run }) => {
        await expireEverywhere(backend, run, pages[0]);
        const result = await burstInEvery(pages, backend, run, 50);
        record('burst of 50', mode, 'coordinator', result);
        const [summary] = result.summaries;
        assert.equal(summary.settled, summary.issued, 'every call settled');
        assert.equal(summary.ok, 50, JSON.stringify(summary));
        assert.equal(summary.sessionExpired, 0);
        assert.equal(refreshCount(result.metrics), 1, `one refresh over all instances: ${result.each.map(refreshCount)}`);
        assert.equal(outcome(result.metrics, 'success'), 1);
        assertSpread(result.each);
      });
    });

    test('2 tabs × 50 requests after one expiry with the hand-written interceptor (reported, not asserted)', async () => {
      await withCluster({ tabs: 2, mode, kind: 'naive' }, async ({ pages, backend, run }) => {
        await expireEverywhere(backend, run, pages[0]);
        record('2 tabs × 50 after one expiry', mode, 'naive', await burstInEvery(pages, backend, run, 50));
      });
    });

    test('2 tabs × 50 requests after one expiry, at once: one refresh in all instances, nothing fails', async () => {
      await withCluster({ tabs: 2, mode }, async ({ pages, backend, run }) => {
        await expireEverywhere(backend, run, pages[0]);
        const result = await burstInEvery(pages, backend, run, 50);
        record('2 tabs × 50 after one expiry', mode, 'coordinator', result);
        for (const summary of result.summaries) {
          assert.equal(summary.ok, 50, JSON.stringify(summary));
          assert.equal(summary.sessionExpired, 0);
        }
        assert.equal(refreshCount(result.metrics), 1, `one refresh for every tab over all instances: ${result.each.map(refreshCount)}`);
        assert.equal(outcome(result.metrics, 'success'), 1);
        const events = await Promise.all(pages.map((page) => run(page, 'events')));
        assert.equal(events.filter((e) => e.includes('refresh-start')).length, 1, 'one tab refreshed');
        assert.equal(events.filter((e) => e.includes('adopted')).length, 1, 'the other adopted');
        assertSpread(result.each);
      });
    });
  });
}

async function writeReport() {
  if (report.length === 0) return;
  const lines = [
    '| scenario | mode | refresh-coordinator | hand-written interceptor |',
    '|---|---|---|---|',
    ...report.map((r) => `| ${r.name} | ${r.mode} | ${r.coordinator ?? 'n/a'} | ${r.naive ?? 'n/a'} |`),
  ];
  const text =
    `${INSTANCES} instances on one PostgreSQL behind a round-robin proxy: refresh requests / failed requests / session ends ` +
    `(refresh requests per instance).\n\n${lines.join('\n')}\n`;
  await mkdir(`${ROOT}target`, { recursive: true });
  await writeFile(`${ROOT}target/e2e-cluster-report.md`, text);
  console.log(`\n${text}`);
}
