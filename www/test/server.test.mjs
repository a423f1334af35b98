// The built package under Node, as a server uses it (issue 11): what the
// coordinator cannot do there is said once, with console.warn, on first use,
// never at import or creation (server-side rendering stays quiet).

import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthFetch } from '../../pkg/node.js';

const API = 'http://api.test';
let warnings;
let warn;

beforeEach(() => {
  warnings = [];
  warn = console.warn;
  console.warn = (message) => warnings.push(String(message));
});

afterEach(() => {
  console.warn = warn;
});

const answer = async () => new Response('{}', { status: 401 });

test('without allowedOrigins, the first request says once that nothing is coordinated', async () => {
  const authFetch = createAuthFetch({ fetch: answer });
  assert.deepEqual(warnings, [], 'quiet at creation');
  assert.equal((await authFetch(`${API}/api/data/1/`)).status, 401, 'sent as written, its 401 returned');
  await authFetch(`${API}/api/data/2/`);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^refresh-coordinator: no options\.allowedOrigins outside a page/);
});

test("cookie mode with Node's own fetch says once that its cookies are lost", async () => {
  const ownFetch = globalThis.fetch;
  globalThis.fetch = answer; // the runtime's fetch, as the coordinator finds it
  try {
    const authFetch = createAuthFetch({
      allowedOrigins: [API],
      refreshUrl: `${API}/api/auth/token/refresh/`,
      loginUrl: `${API}/api/auth/login/`,
    });
    assert.deepEqual(warnings, []);
    await authFetch(`${API}/api/data/1/`).catch(() => {});
    await authFetch(`${API}/api/data/2/`).catch(() => {});
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^refresh-coordinator: cookie mode with this runtime's fetch, which keeps no cookies/);
  } finally {
    globalThis.fetch = ownFetch;
  }
});

test('bearer mode, or a fetch of its own, works on a server without a word', async () => {
  const endpoints = { allowedOrigins: [API], refreshUrl: `${API}/api/token/refresh/`, loginUrl: `${API}/api/token/` };
  const ok = async () => new Response('{}');
  await createAuthFetch({ ...endpoints, mode: 'bearer', fetch: ok })(`${API}/api/data/1/`);
  await createAuthFetch({ ...endpoints, fetch: ok })(`${API}/api/data/1/`);
  assert.deepEqual(warnings, []);
});
