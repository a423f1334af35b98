// Several pages of one browser context (one cookie jar, one localStorage,
// one lock manager) on a fresh reference backend (or what `start` starts:
// a cluster of them): how the multi-tab suites open their tabs.

import assert from 'node:assert/strict';
import { startBackend } from './backend.mjs';

/** Ten-minute access tokens: far longer than any test; expired on purpose with the clock hook. */
export const LONG = ['--access-token-lifetime', '10m'];

/**
 * `tabs` pages of one new context of `browser` on a fresh backend
 * (`backendArgs`, or whatever `start()` resolves to, shaped as
 * `startBackend`'s handle), the first one logged in, each with a client of
 * `kind` (`options`; `init` runs before any page script), their bearer
 * tokens in a store the pages share unless `shared` is false. `body({pages,
 * backend, run})` runs the test; `run(page, name, ...args)` calls a page
 * scenario.
 */
export async function withTabs(
  browser,
  { tabs, mode, kind = 'coordinator', options = {}, init, backendArgs = LONG, start = () => startBackend(backendArgs), shared = true },
  body,
) {
  const backend = await start();
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
        ([k, m, o, logIn, tabs]) => window.e2e.setup(k, m, o, { logIn, tabs }),
        [kind, mode, options, i === 0, shared],
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

/** Polls `condition()` every 25 ms, at most `limit` ms. */
async function until(condition, what, limit = 15_000) {
  for (let waited = 0; waited <= limit; waited += 25) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Resolves once the backend has committed a rotation and is holding its answer (`delay_after_ms`). */
export const rotationHeld = (backend) =>
  until(async () => (await backend.metrics())['injected_faults_total{kind="delay"}'] >= 1, 'the refresh to be held');
