// `make bench`: speed, size and memory of refresh-coordinator beside raw
// fetch, Axios, axios-auth-refresh and the hand-written interceptor, in
// headless Chromium against the reference backend (rotation + blacklist, no
// grace window), plus the backend's own figures (target/bench/backend.json,
// written by the Makefile's bench-backend step before this runs).
//
// Every ratio is measured in one browser session, the two sides
// interleaved, and reported as a median over rounds or runs, so that it
// holds on a noisy machine; nothing here asserts. Writes
// www/bench/results.json and www/bench/results.svg, and prints the table.

import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { build } from 'vite';
import { launchBrowser } from '../test/browser.mjs';
import { ROOT, refreshCount, startBackend } from '../test/backend.mjs';
import { chart } from './chart.mjs';
import { measureSizes } from './sizes.mjs';
import { TARGETS, verdicts } from './targets.mjs';

const APP = `${ROOT}target/bench/app`;
const RUNS = Number(process.env.BENCH_RUNS || 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 3) => Number(x.toFixed(digits));
const log = (message) => process.stderr.write(`bench: ${message}\n`);

/** Every page reports itself hidden (a background tab): no refresh on a timer. */
const hidden = () => {
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => 'hidden', configurable: true });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => true, configurable: true });
};

await build({
  root: `${ROOT}www/test/apps/bench`,
  logLevel: 'warn',
  configFile: false,
  build: {
    outDir: APP,
    emptyOutDir: true,
    rollupOptions: { input: { index: `${ROOT}www/test/apps/bench/index.html`, first: `${ROOT}www/test/apps/bench/first.html` } },
  },
});

const results = {};
const details = {};

log('sizes');
Object.assign(results, await measureSizes());

// BENCH_ONLY=name,... runs only those groups (while profiling one figure).
const GROUPS = { overheads, reactiveBursts, proactiveBursts, crossTab, memory, firstRequest };
const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : Object.keys(GROUPS);
const browser = await launchBrowser();
try {
  for (const name of only) {
    if (!GROUPS[name]) throw new Error(`BENCH_ONLY: no group ${name} (groups: ${Object.keys(GROUPS).join(', ')})`);
    await GROUPS[name]();
  }
} finally {
  await browser.close();
}

try {
  Object.assign(results, JSON.parse(await readFile(`${ROOT}target/bench/backend.json`, 'utf8')));
} catch {
  log('no target/bench/backend.json (make bench-backend writes it): the backend keys are left out');
}

const report = {
  measured: new Date().toISOString().slice(0, 10),
  machine: { cores: cpus().length, chromium: browser.version(), runs: RUNS },
  results,
  details,
  targets: verdicts(results),
};
await writeFile(`${ROOT}www/bench/results.json`, `${JSON.stringify(report, null, 2)}\n`);
await writeFile(`${ROOT}www/bench/results.svg`, chart(report));
print(report);

/** A backend serving the bench app, with `flags` added; `body(backend)`; stopped however it ends. */
async function withBackend(flags, body) {
  const backend = await startBackend([
    '--rotate-refresh-tokens',
    '--blacklist-after-rotation',
    '--test-hooks',
    '--user', 'alice:correct horse',
    '--static', APP,
    ...flags,
  ]);
  try {
    return await body(backend);
  } finally {
    await backend.stop();
  }
}

/** `tabs` pages of one new context (one cookie jar) on the bench page; `body(pages, backend)`. */
async function withPages(flags, tabs, body, { initScript } = {}) {
  return withBackend(flags, async (backend) => {
    const context = await browser.newContext();
    try {
      if (initScript) await context.addInitScript(initScript);
      const pages = [];
      for (let i = 0; i < tabs; i++) {
        const page = await context.newPage();
        await page.goto(`${backend.url}/index.html`);
        await page.waitForFunction(() => window.benchReady === true);
        pages.push(page);
      }
      return await body(pages, backend);
    } finally {
      await context.close();
    }
  });
}

async function overheads() {
  log('per-call overhead');
  await withPages(['--access-token-lifetime', '30m'], 1, async ([page]) => {
    const canned = await page.evaluate(() => window.bench.canned(20_000, 10));
    results.overhead_us_canned = round(canned.coordinated - canned.raw, 2);
    results.overhead_ratio_canned = round(canned.ratios.coordinated);
    details.canned_us_per_call = { raw: round(canned.raw, 2), coordinated: round(canned.coordinated, 2) };

    // Sequential calls in 100 rounds of 20: pairs measured closer together
    // cancel more of the machine's drift. 16 in flight need rounds of 100,
    // or a round would end on a few lanes still running.
    const sequential = await page.evaluate(() => window.bench.loopback(2000, 100, 1));
    results.overhead_ratio_fetch = round(sequential.ratios.coordinated);
    details.loopback_us_per_call = { raw: round(sequential.raw, 1), coordinated: round(sequential.coordinated, 1) };
    // Raw fetch against itself, measured the same way: the noise floor.
    results.overhead_ratio_fetch_noise = round(sequential.ratios.again);

    const parallel = await page.evaluate(() => window.bench.loopback(2000, 20, 16));
    results.overhead_ratio_fetch_parallel = round(parallel.ratios.coordinated);
    details.loopback_16_in_flight_us_per_call = { raw: round(parallel.raw, 1), coordinated: round(parallel.coordinated, 1) };
    details.loopback_16_in_flight_noise_ratio = round(parallel.ratios.again);

    const axios = await page.evaluate(() => window.bench.axiosClients(2000, 100));
    results.overhead_ratio_axios = round(axios.ratios.attached);
    results.overhead_ratio_axios_auth_refresh = round(axios.ratios.peer);
    details.axios_us_per_call = { plain: round(axios.plain, 1), attachAxios: round(axios.attached, 1), axios_auth_refresh: round(axios.peer, 1) };
  });
}

/**
 * One burst of `n` after expiry in one tab through `client`: drain time,
 * refreshes the backend saw, requests that failed.
 */
function expiredBurst(n, client) {
  return withPages(['--access-token-lifetime', '10m'], 1, async ([page], backend) => {
    await page.evaluate((c) => window.bench.prepare({ client: c, expired: true }), client);
    const before = refreshCount(await backend.metrics());
    const burst = await page.evaluate((k) => window.bench.burst(k), n);
    return { ms: burst.ms, failed: burst.failed, failures: burst.failures, refreshes: refreshCount(await backend.metrics()) - before };
  });
}

async function reactiveBursts() {
  for (const n of [100, 1000]) {
    log(`burst of ${n} after expiry, against the hand-written interceptor`);
    const ours = [];
    const theirs = [];
    for (let run = 0; run < RUNS; run++) {
      // Interleaved, the order turning each run.
      const pair = run % 2 ? ['handwritten', 'coordinator'] : ['coordinator', 'handwritten'];
      for (const client of pair) (client === 'coordinator' ? ours : theirs).push(await expiredBurst(n, client));
    }
    results[`burst_${n}_refreshes`] = Math.max(...ours.map((r) => r.refreshes));
    results[`burst_${n}_drain_ratio_reactive`] = pairedRatio(ours, theirs);
    details[`burst_${n}`] = {
      coordinator: summary(ours),
      hand_written: summary(theirs),
    };
  }
  // Chromium itself fails most of 10 000 fetches started at once
  // (net::ERR_INSUFFICIENT_RESOURCES, 'Failed to fetch'), coordinated or
  // not: the figure here is the refresh count, with the failures of the
  // same burst of raw fetches (valid token, nothing to refresh) beside it.
  log('burst of 10000 after expiry');
  const big = await expiredBurst(10_000, 'coordinator');
  const raw = await withPages(['--access-token-lifetime', '10m'], 1, async ([page]) => {
    await page.evaluate(() => window.bench.prepare({ client: 'handwritten' }));
    return page.evaluate(() => window.bench.burst(10_000));
  });
  results.burst_10000_refreshes = big.refreshes;
  details.burst_10000 = { ...summary([big]), raw_fetch_failed: raw.failed, raw_fetch_failures: raw.failures };
}

/**
 * The median over runs of `ours[i].ms / theirs[i].ms`: each pair ran back
 * to back on the same machine state, so the drift between runs (bursts of
 * the same requests moved by 10-15% from one run to the next here) cancels
 * out; a ratio of the two medians would take the drift in whole.
 */
function pairedRatio(ours, theirs) {
  return round(median(ours.map((r, i) => r.ms / theirs[i].ms)));
}

/** Medians and worst counts of a list of bursts, and each run's time. */
function summary(runs) {
  return {
    median_ms: round(median(runs.map((r) => r.ms)), 1),
    runs_ms: runs.map((r) => round(r.ms, 1)),
    refreshes: runs.map((r) => r.refreshes),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    ...(runs.some((r) => r.failed) ? { failures: runs.map((r) => r.failures) } : {}),
  };
}

async function proactiveBursts() {
  // Long enough that a burst of 1000 on a loaded machine ends well inside
  // the new token's life; the margin is a third of it.
  const lifetimeSecs = 6;
  const flags = ['--access-token-lifetime', `${lifetimeSecs}s`];
  for (const n of [100, 1000]) {
    log(`burst of ${n} inside the refresh margin`);
    const ahead = [];
    const baseline = [];
    for (let run = 0; run < RUNS; run++) {
      ahead.push(
        await withPages(flags, 1, async ([page], backend) => {
          const before = refreshCount(await backend.metrics());
          const result = await page.evaluate(([k, life]) => window.bench.proactive(k, life), [n, lifetimeSecs]);
          // One refresh after the expiry (it taught the lifetime), one ahead.
          return { ...result, refreshes: refreshCount(await backend.metrics()) - before - 1 };
        }, { initScript: hidden }),
      );
      baseline.push(
        await withPages(['--access-token-lifetime', '10m'], 1, async ([page]) => {
          const trips = await page.evaluate(() => window.bench.roundTrips());
          await page.evaluate(() => window.bench.prepare());
          const valid = await page.evaluate((k) => window.bench.burst(k), n);
          return { ms: valid.ms + trips.refreshMs, validMs: valid.ms, refreshMs: trips.refreshMs };
        }),
      );
    }
    results[`burst_${n}_drain_ratio_proactive`] = pairedRatio(ahead, baseline);
    details[`burst_${n}_proactive`] = {
      median_ms: round(median(ahead.map((r) => r.ms)), 1),
      baseline_median_ms: round(median(baseline.map((r) => r.ms)), 1),
      refresh_round_trip_median_ms: round(median(baseline.map((r) => r.refreshMs)), 2),
      refreshes_ahead: ahead.map((r) => r.refreshes),
      answered_401: ahead.reduce((sum, r) => sum + r.answered401, 0),
      failed: ahead.reduce((sum, r) => sum + (n - r.ok), 0),
    };
  }
}

/** `tabs` pages × `n` requests after expiry, fired at one instant; drain time and refreshes. */
function tabsBurst(tabs, n) {
  return withPages(['--access-token-lifetime', '10m'], tabs, async (pages, backend) => {
    for (const page of pages) await page.evaluate(() => window.bench.prepare());
    await pages[0].evaluate(() => window.bench.expire(600));
    const before = refreshCount(await backend.metrics());
    const at = Date.now() + 300;
    const bursts = await Promise.all(pages.map((page) => page.evaluate(([k, t]) => window.bench.burst(k, t), [n, at])));
    return {
      ms: Math.max(...bursts.map((b) => b.end)) - at,
      failed: bursts.reduce((sum, b) => sum + b.failed, 0),
      refreshes: refreshCount(await backend.metrics()) - before,
    };
  });
}

/**
 * 4 tabs × 50 after expiry against one tab's 50 (the ratio asked for), and
 * against one tab's 200: the same work. The tabs of a browser share its 6
 * connections to the host, so 200 requests take about 4 times as long as 50
 * on a loaded loopback whoever coordinates them; the second ratio is the
 * cost of the coordination across tabs.
 */
async function crossTab() {
  log('4 tabs × 50 after expiry, against one tab × 50 and × 200');
  const four = [];
  const one = [];
  const oneAll = [];
  for (let run = 0; run < RUNS; run++) {
    four.push(await tabsBurst(4, 50));
    one.push(await tabsBurst(1, 50));
    oneAll.push(await tabsBurst(1, 200));
  }
  results.crosstab_4x50_refreshes = Math.max(...four.map((r) => r.refreshes));
  results.crosstab_4x50_drain_ratio = pairedRatio(four, one);
  results.crosstab_4x50_drain_ratio_same_work = pairedRatio(four, oneAll);
  details.crosstab_4x50 = { four_tabs: summary(four), one_tab_50: summary(one), one_tab_200: summary(oneAll) };
}

/** JS heap plus array buffers (the .wasm's linear memory among them), after a full collection. */
async function heap(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  const usage = await cdp.send('Runtime.getHeapUsage');
  return usage.usedSize + (usage.backingStorageSize ?? 0);
}

async function memory() {
  log('memory');
  await withPages(['--access-token-lifetime', '30m'], 1, async ([page]) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.enable');
    const waiterBytes = [];
    for (let run = 0; run < 3; run++) {
      const before = await heap(cdp);
      const state = await page.evaluate(() => window.bench.queueWaiters(10_000));
      const queued = await heap(cdp);
      const settled = await page.evaluate(() => window.bench.releaseWaiters());
      if (settled !== 10_000) throw new Error(`only ${settled} of 10000 waiters succeeded (${JSON.stringify(state)})`);
      waiterBytes.push((queued - before) / 10_000);
    }
    results.waiter_bytes = Math.round(median(waiterBytes));
    await page.evaluate(() => window.bench.cycles(10_000)); // warm: every lazy allocation made
    const before = await heap(cdp);
    await page.evaluate(() => window.bench.cycles(100_000));
    results.leak_bytes_100k = (await heap(cdp)) - before;
    details.memory = { waiter_bytes_runs: waiterBytes.map((b) => Math.round(b)) };
  });
}

async function firstRequest() {
  log('import to first request');
  const ratios = [];
  const times = [];
  await withBackend(['--access-token-lifetime', '30m'], async (backend) => {
    for (let run = 0; run < RUNS * 2 - 1; run++) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${backend.url}/first.html`);
        const first = await (await page.waitForFunction(() => window.first)).jsonValue();
        ratios.push(first.importToWireMs / first.rawRoundTripMs);
        times.push(first);
      } finally {
        await context.close();
      }
    }
  });
  results.first_request_ms_ratio = round(median(ratios), 1);
  details.first_request = {
    import_to_wire_median_ms: round(median(times.map((t) => t.importToWireMs)), 1),
    raw_round_trip_median_ms: round(median(times.map((t) => t.rawRoundTripMs)), 2),
  };
}

function print({ results: r, targets, machine }) {
  const rows = Object.entries(r).flatMap(([key, value]) =>
    typeof value === 'object' ? Object.entries(value).map(([k, v]) => [`${key}.${k}`, v]) : [[key, value]],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nrefresh-coordinator benchmark: ${machine.cores} cores, Chromium ${machine.chromium}, medians of ${machine.runs} runs\n`);
  for (const [key, value] of rows) {
    const target = targets[key];
    const verdict = target ? `  target ${target.target}: ${target.met ? 'met' : 'MISSED'}` : '';
    console.log(`${key.padEnd(width)}  ${String(value).padStart(10)}${verdict}`);
  }
  console.log(`\nwritten: www/bench/results.json, www/bench/results.svg (targets: ${Object.keys(TARGETS).length})\n`);
}
