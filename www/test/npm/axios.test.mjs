// attachAxios in Chromium, against a fake server (apps/src/fake-server.js):
// the installed tarball and Axios from www/test/apps/node_modules, loaded by
// a plain page through an import map.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../browser.mjs';
import { APPS, serveStatic } from './harness.mjs';

let server;
let browser;
let page;

before(async () => {
  server = await serveStatic({ '/': APPS });
  browser = await launch();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${server.url}/plain.html#idle`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * Runs `scenario({ axios, rc, attachAxios, fake, until })` in the page,
 * where `fake` is a fresh fake server and `rc` the package's main entry.
 */
function inPage(scenario, argument) {
  return page.evaluate(
    async ([source, argument]) => {
      const [{ default: axios }, rc, { attachAxios }, { fakeServer, until }] = await Promise.all([
        import('axios'),
        import('refresh-coordinator'),
        import('refresh-coordinator/axios'),
        import('./src/fake-server.js'),
      ]);
      const scenario = new Function(`return (${source})`)();
      return scenario({ axios, rc, attachAxios, fakeServer, until }, argument);
    },
    [scenario.toString(), argument],
  );
}

test('fetch and two Axios instances wait behind one refresh and replay with the new token', async () => {
  const result = await inPage(async ({ axios, rc, attachAxios, fakeServer, until }) => {
    const fake = fakeServer();
    const authFetch = rc.createAuthFetch({ mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const one = axios.create();
    const two = axios.create();
    attachAxios(one, authFetch);
    attachAxios(two, authFetch);
    fake.hold();
    const calls = [
      ...[1, 2, 3].map((n) => one.get(`/api/data/${n}/`)),
      ...[4, 5, 6].map((n) => two.get(`/api/data/${n}/`)),
      ...[7, 8].map((n) => authFetch(`/api/data/${n}/`)),
    ];
    await until(() => fake.refreshes === 1 && authFetch.state().waiting === 8);
    fake.release();
    const answers = await Promise.all(calls);
    const statuses = answers.map((answer) => answer.status);
    const replays = fake.received.filter((request) => request.auth === 'Bearer a1');
    return { statuses, refreshes: fake.refreshes, replays: replays.length, state: authFetch.state() };
  });
  assert.deepEqual(result.statuses, [200, 200, 200, 200, 200, 200, 200, 200]);
  assert.equal(result.refreshes, 1);
  assert.equal(result.replays, 8);
  assert.equal(result.state.pending, 0);
  assert.equal(result.state.generation, 2, 'the login (setTokens) and one refresh');
});

test('request bodies are replayed as sent: JSON, FormData, Blob, URLSearchParams, text', async () => {
  // One fresh coordinator per body, so that every body is the one a 401 hit.
  const result = await inPage(async ({ axios, attachAxios, fakeServer }) => {
    const make = () => {
      const form = new FormData();
      form.append('title', 'ünïcode');
      form.append('file', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'application/octet-stream' }), 'f.bin');
      return {
        json: { a: 1, list: ['x', 'y'] },
        form,
        blob: new Blob(['{"raw":true}'], { type: 'application/vnd.test+json' }),
        params: new URLSearchParams({ q: 'a b', n: '1' }),
        text: 'plain text',
      };
    };
    const out = {};
    for (const name of Object.keys(make())) {
      const fake = fakeServer();
      const api = axios.create();
      const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
      authFetch.setTokens({ access: 'a0', refresh: 'r0' });
      const response = await api.post('/api/data/1/', make()[name]);
      const [first, replay] = fake.received;
      out[name] = {
        status: response.status,
        sends: fake.received.length,
        sameBody: first.body === replay.body,
        sameType: first.contentType === replay.contentType,
        contentType: replay.contentType,
        length: replay.body.length,
      };
    }
    return out;
  });
  // The Content-Type is Axios's choice (it labels a Blob or a string as a
  // form unless told otherwise); the replay only has to repeat it.
  const types = { json: /^application\/json/, form: /^multipart\/form-data; boundary=/ };
  for (const [name, body] of Object.entries(result)) {
    assert.equal(body.status, 200, name);
    assert.equal(body.sends, 2, `${name}: a 401, then one replay`);
    assert.equal(body.sameBody, true, `${name}: the replay carried the same bytes`);
    assert.equal(body.sameType, true, `${name}: and the same Content-Type`);
    assert.ok(body.length > 0, `${name}: not empty`);
    if (types[name]) assert.match(body.contentType, types[name], name);
  }
});

test('interceptors run once per call, not again on the replay', async () => {
  const result = await inPage(async ({ axios, attachAxios, fakeServer }) => {
    const fake = fakeServer();
    const api = axios.create();
    let requests = 0;
    let responses = 0;
    let errors = 0;
    api.interceptors.request.use((config) => {
      requests += 1;
      config.headers.set('X-Call', String(requests));
      return config;
    });
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
    api.interceptors.response.use(
      (response) => ((responses += 1), response),
      (error) => ((errors += 1), Promise.reject(error)),
    );
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const response = await api.get('/api/data/1/');
    return { requests, responses, errors, status: response.status, sends: fake.received.length };
  });
  assert.deepEqual(result, { requests: 1, responses: 1, errors: 0, status: 200, sends: 2 });
});

test('validateStatus applies to the final answer; a 401 after the replay is returned, not refreshed again', async () => {
  const result = await inPage(async ({ axios, attachAxios, fakeServer }) => {
    const fake = fakeServer();
    const api = axios.create();
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const missing = await api.get('/api/missing/1/').catch((error) => error);
    const accepted = await api.get('/api/missing/2/', { validateStatus: () => true });
    const before = { refreshes: fake.refreshes, sends: fake.received.length };
    // A 401 with the current token means it expired again: one refresh, one
    // replay, and the replay's 401 goes back to the caller.
    const stuck = await api.get('/api/always401/1/').catch((error) => error);
    return {
      missing: [missing.name, missing.code, missing.response?.status],
      accepted: accepted.status,
      stuck: [stuck.code, stuck.response?.status],
      refreshes: before.refreshes,
      stuckRefreshes: fake.refreshes - before.refreshes,
      stuckSends: fake.received.length - before.sends,
    };
  });
  assert.deepEqual(result.missing, ['AxiosError', 'ERR_BAD_REQUEST', 404]);
  assert.equal(result.accepted, 404);
  assert.deepEqual(result.stuck, ['ERR_BAD_REQUEST', 401]);
  assert.equal(result.refreshes, 1);
  assert.equal(result.stuckRefreshes, 1);
  assert.equal(result.stuckSends, 2);
});

test('an aborted signal cancels only its own request; the refresh goes on', async () => {
  const result = await inPage(async ({ axios, attachAxios, fakeServer, until }) => {
    const fake = fakeServer();
    const api = axios.create();
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    fake.hold();
    const controller = new AbortController();
    const aborted = api.get('/api/data/1/', { signal: controller.signal }).catch((error) => error);
    const kept = api.get('/api/data/2/');
    await until(() => fake.refreshes === 1 && authFetch.state().waiting === 2);
    controller.abort();
    const error = await aborted;
    const waitingAfterAbort = authFetch.state().waiting;
    fake.release();
    const response = await kept;
    return {
      cancel: axios.isCancel(error),
      code: error.code,
      waitingAfterAbort,
      kept: response.status,
      refreshes: fake.refreshes,
      pending: authFetch.state().pending,
    };
  });
  assert.deepEqual(result, {
    cancel: true,
    code: 'ERR_CANCELED',
    waitingAfterAbort: 1,
    kept: 200,
    refreshes: 1,
    pending: 0,
  });
});

test('timeout covers the wait behind a refresh, and never cancels the refresh', async () => {
  const result = await inPage(async ({ axios, attachAxios, fakeServer, until }) => {
    const fake = fakeServer();
    const api = axios.create();
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    fake.hold();
    const error = await api.get('/api/data/1/', { timeout: 50 }).catch((e) => e);
    const stillRefreshing = authFetch.state().refreshing;
    fake.release();
    await until(() => !authFetch.state().refreshing);
    const after = await api.get('/api/data/2/');
    return {
      code: error.code,
      axiosError: axios.isAxiosError(error),
      stillRefreshing,
      after: after.status,
      refreshes: fake.refreshes,
      generation: authFetch.state().generation,
    };
  });
  assert.deepEqual(result, {
    code: 'ETIMEDOUT',
    axiosError: true,
    stillRefreshing: true,
    after: 200,
    refreshes: 1,
    generation: 2,
  });
});

test('skipAuthRefresh: true sends the request untouched by refresh handling', async () => {
  const result = await inPage(async ({ axios, attachAxios, fakeServer }) => {
    const fake = fakeServer();
    const api = axios.create();
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const error = await api.get('/api/data/1/', { skipAuthRefresh: true }).catch((e) => e);
    return {
      status: error.response?.status,
      refreshes: fake.refreshes,
      sends: fake.received.length,
      auth: fake.received[0].auth,
    };
  });
  // Opted out of refreshing, but still authenticated as the app configured.
  assert.deepEqual(result, { status: 401, refreshes: 0, sends: 1, auth: 'Bearer a0' });
});

test('a refused refresh reaches every Axios caller as an AxiosError caused by SessionExpiredError', async () => {
  const result = await inPage(async ({ axios, rc, attachAxios, fakeServer }) => {
    const fake = fakeServer({ refreshStatus: 401 });
    const expired = [];
    const api = axios.create();
    const { authFetch } = attachAxios(api, {
      mode: 'bearer',
      fetch: fake.fetch,
      onSessionExpired: (error) => expired.push(error),
    });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const errors = await Promise.all([1, 2, 3].map((n) => api.post(`/api/data/${n}/`, { n }).catch((e) => e)));
    return {
      axios: errors.map((e) => axios.isAxiosError(e) && e instanceof axios.AxiosError),
      causes: errors.map((e) => rc.isSessionExpiredError(e.cause) && e.cause instanceof rc.SessionExpiredError),
      codes: errors.map((e) => e.code),
      configs: errors.map((e) => e.config?.url),
      callbacks: expired.length,
      refreshes: fake.refreshes,
    };
  });
  assert.deepEqual(result.axios, [true, true, true]);
  assert.deepEqual(result.causes, [true, true, true]);
  assert.deepEqual(result.codes, ['SESSION_EXPIRED', 'SESSION_EXPIRED', 'SESSION_EXPIRED']);
  assert.deepEqual(result.configs, ['/api/data/1/', '/api/data/2/', '/api/data/3/']);
  assert.equal(result.callbacks, 1);
  assert.equal(result.refreshes, 1);
});

test('a refresh that keeps failing reaches Axios as an AxiosError caused by RefreshUnavailableError', async () => {
  const result = await inPage(async ({ axios, rc, attachAxios, fakeServer }) => {
    const fake = fakeServer({ refreshStatus: 503 });
    const api = axios.create();
    const { authFetch } = attachAxios(api, { mode: 'bearer', fetch: fake.fetch, retry: { limit: 0 } });
    authFetch.setTokens({ access: 'a0', refresh: 'r0' });
    const error = await api.get('/api/data/1/').catch((e) => e);
    return {
      axios: axios.isAxiosError(error),
      unavailable: rc.isRefreshUnavailableError(error.cause),
      reason: error.cause?.reason,
      status: error.cause?.status,
      session: authFetch.state().session,
    };
  });
  assert.deepEqual(result, { axios: true, unavailable: true, reason: 'status', status: 503, session: 'active' });
});

test('detach() gives the instance its adapter back; attaching again replaces the attachment', async () => {
  const result = await inPage(async ({ axios, rc, attachAxios, fakeServer }) => {
    const fake = fakeServer();
    const api = axios.create();
    const own = async (config) => ({ data: 'own adapter', status: 200, statusText: 'OK', headers: {}, config });
    api.defaults.adapter = own;
    const authFetch = rc.createAuthFetch({ mode: 'bearer', fetch: fake.fetch });
    authFetch.setTokens({ access: 'a1', refresh: 'r1' });
    const first = attachAxios(api, authFetch);
    const second = attachAxios(api, authFetch);
    const replaced = api.defaults.adapter !== own;
    first.detach(); // already replaced: does nothing
    const stillAttached = api.defaults.adapter !== own;
    fake.generation = 1;
    const through = (await api.get('/api/data/1/')).data.path;
    second.detach();
    second.detach();
    const restored = api.defaults.adapter === own;
    const after = (await api.get('/api/data/2/')).data;
    const shared = second.authFetch === authFetch;
    let wrong;
    try {
      attachAxios(api, fake.fetch);
    } catch (error) {
      wrong = error.name;
    }
    return { replaced, stillAttached, through, restored, after, shared, wrong };
  });
  assert.deepEqual(result, {
    replaced: true,
    stillAttached: true,
    through: '/api/data/1/',
    restored: true,
    after: 'own adapter',
    shared: true,
    wrong: 'TypeError',
  });
});
