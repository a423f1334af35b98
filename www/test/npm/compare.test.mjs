// Side by side with axios-auth-refresh (from npm, default options): the same
// expiry burst, 50 concurrent Axios requests in cookie mode against the
// reference backend with SimpleJWT's rotation (ROTATE_REFRESH_TOKENS,
// BLACKLIST_AFTER_ROTATION, no grace window). Both results are printed;
// only refresh-coordinator's are asserted.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../browser.mjs';
import { APPS, EXPIRABLE, expireAccess, logInPage, refreshOutcomes, startBackend } from './harness.mjs';

const BURST = 50;
let browser;
const results = {};

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  const rows = Object.entries(results).map(([client, r]) =>
    `${client.padEnd(26)} ${String(r.refreshCalls).padStart(13)} ${String(r.failed).padStart(15)}   ${r.sessionKept ? 'yes' : 'no'}`,
  );
  console.log(
    [
      `expiry burst: ${BURST} concurrent Axios requests, cookie mode, rotation + blacklist, no grace`,
      `${'client'.padEnd(26)} refresh calls  failed requests   session kept`,
      ...rows,
    ].join('\n'),
  );
});

/**
 * Logs in on a fresh backend, waits for the access cookie to expire, fires
 * the burst through the Axios instance `setup` returns (run in the page),
 * then checks whether the session survived.
 */
async function burst(setup) {
  const backend = await startBackend([...EXPIRABLE, '--static', APPS]);
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  try {
    await page.goto(`${backend.url}/plain.html#idle`);
    await logInPage(page);
    await expireAccess(backend, browser.context);
    const outcome = await page.evaluate(
      async ([source, size]) => {
        const [{ default: axios }, rc, { attachAxios }, { default: createAuthRefreshInterceptor }] =
          await Promise.all([
            import('axios'),
            import('refresh-coordinator'),
            import('refresh-coordinator/axios'),
            import('axios-auth-refresh'),
          ]);
        const setup = new Function(`return (${source})`)();
        const api = setup({ axios, rc, attachAxios, createAuthRefreshInterceptor });
        const settled = await Promise.allSettled(
          Array.from({ length: size }, (_, i) => api.get(`/api/data/${i + 1}/`)),
        );
        const failed = settled.filter((s) => s.status === 'rejected');
        // The session survived if a request made afterwards still works.
        const later = await api.get('/api/data/999/').then(
          (r) => r.status,
          (e) => e.response?.status ?? e.code,
        );
        return {
          failed: failed.length,
          reasons: [...new Set(failed.map((f) => f.reason.response?.status ?? f.reason.code))],
          later,
        };
      },
      [setup.toString(), BURST],
    );
    const outcomes = refreshOutcomes(await backend.metrics());
    return {
      refreshCalls: Object.values(outcomes).reduce((a, b) => a + b, 0),
      outcomes,
      failed: outcome.failed,
      reasons: outcome.reasons,
      sessionKept: outcome.later === 200,
    };
  } finally {
    await page.close();
    await backend.stop();
  }
}

test('axios-auth-refresh with default options (printed, not asserted)', async (t) => {
  const result = await burst(({ axios, createAuthRefreshInterceptor }) => {
    const api = axios.create();
    createAuthRefreshInterceptor(api, () => axios.post('/api/auth/token/refresh/'));
    return api;
  });
  results['axios-auth-refresh 5.0.2'] = result;
  t.diagnostic(JSON.stringify(result));
});

test('attachAxios: one refresh, no failed request, the session kept', async (t) => {
  const result = await burst(({ axios, attachAxios }) => {
    const api = axios.create();
    attachAxios(api, { refreshUrl: '/api/auth/token/refresh/' });
    return api;
  });
  results['refresh-coordinator'] = result;
  t.diagnostic(JSON.stringify(result));
  assert.deepEqual(result.outcomes, { success: 1 });
  assert.equal(result.failed, 0);
  assert.equal(result.sessionKept, true);
});
