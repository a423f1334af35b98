// Client benchmarks (make bench): the coordinator's per-request overhead
// against raw fetch, and the time to drain a burst, in headless Chromium
// against the reference backend. Medians of several runs, and ratios
// measured in the same run; nothing here is asserted.

import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../test/browser.mjs';
import { ROOT, startBackend } from '../e2e/backend.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const RUNS = 5;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
try {
  const rows = [];

  await withPage(['--access-token-lifetime', '5m'], async (page) => {
    const cpu = await page.evaluate(() => window.bench.overheadWithoutNetwork(2000, 9));
    rows.push(['per call, canned response (µs)', cpu.raw, cpu.coordinated]);
    const net = await page.evaluate(() => window.bench.overheadOnLoopback(300, 7));
    rows.push(['per call, loopback backend (µs)', net.raw, net.coordinated]);
  });

  for (const n of [100, 1000]) {
    const valid = [];
    const expired = [];
    for (let run = 0; run < RUNS; run++) {
      await withPage(['--access-token-lifetime', '10m'], async (page) => {
        valid.push((await page.evaluate((k) => window.bench.burst(k, false), n)).ms);
      });
      await withPage(['--access-token-lifetime', '10m'], async (page) => {
        const result = await page.evaluate((k) => window.bench.burst(k, true), n);
        if (result.generation !== 1) throw new Error(`expected one refresh, saw generation ${result.generation}`);
        expired.push(result.ms);
      });
    }
    rows.push([`burst of ${n}: all settled (ms), valid vs expired`, median(valid), median(expired)]);
  }

  console.log('\nrefresh-coordinator client benchmark (medians; ratio = second / first)\n');
  console.log(`${'measure'.padEnd(52)} ${'first'.padStart(10)} ${'second'.padStart(10)} ${'ratio'.padStart(7)}`);
  for (const [name, a, b] of rows) {
    console.log(`${name.padEnd(52)} ${a.toFixed(1).padStart(10)} ${b.toFixed(1).padStart(10)} ${(b / a).toFixed(2).padStart(7)}`);
  }
  console.log('\nfirst = raw fetch (per call) or valid token (burst); second = through the coordinator / after expiry\n');
} finally {
  await browser.close();
}

async function withPage(flags, body) {
  const backend = await startBackend(['--static', `${ROOT}www/bench/pages`, ...flags]);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${backend.url}/bench.html`);
    await page.waitForFunction(() => window.benchReady === true);
    await body(page);
  } finally {
    await context.close();
    await backend.stop();
  }
}
