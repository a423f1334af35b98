// The scenarios, run inside the page by the end-to-end tests, which first
// expire the access token (expireAccess). Each returns a summary of what the
// app saw; the tests compare it with the backend's /metrics. Every wait is a
// bounded loop on a condition.
//
// Tokens live long here (the tests start the backend with 10-minute access
// tokens), far longer than any queue takes to drain on a loaded machine;
// the current one is expired on purpose by putting the backend's clock
// ahead. Only `outlivedReplays` uses a short token, and it holds replays
// until that token is certainly dead rather than racing it.

import { coordinator, currentTokens, keepTokens, login, naive, rawFetch, sentBodies, shareTokens, tally } from './clients.js';
import { settle } from './settle.js';

let client = null;
let mode = 'cookie';

const REFRESH_URL = { cookie: '/api/auth/token/refresh/', bearer: '/api/token/refresh/' };

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `condition()`, checking every `step` ms, at most `limit` ms. */
async function until(condition, what, limit = 15_000, step = 25) {
  for (let waited = 0; waited <= limit; waited += step) {
    if (await condition()) return;
    await pause(step);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What the app saw of a batch of calls. Every call must have settled. */
async function summarize(calls) {
  const summary = await settle(calls);
  summary.sessionExpired = tally.get('sessionExpired');
  summary.refreshStarts = client ? client.events.filter((e) => e.type === 'refresh-start').length : 0;
  summary.replays = client ? client.events.filter((e) => e.type === 'replay').length : 0;
  return summary;
}

export async function setup(kind, m, options = {}, { keepStorage = false, logIn = true, tabs = false } = {}) {
  mode = m;
  if (!keepStorage) sessionStorage.clear();
  if (tabs) shareTokens();
  if (logIn) await login(mode);
  client = kind === 'naive' ? naive(mode, options) : coordinator(mode, options);
  if (kind !== 'naive' && mode === 'bearer') await client.authFetch.ready;
}

/** Waits until the access token is refused, without refreshing. */
export async function waitForExpiry() {
  await until(async () => (await rawFetch(mode, '/api/data/0/')).status === 401, 'the access token to expire');
}

/**
 * Expires the access token now: the backend's clock (`/api/_test/clock`,
 * a test hook) is put past the life of any access token it issued so far
 * (10 minutes at most); the refresh token, a day long, is still good.
 */
export async function expireAccess() {
  const response = await fetch('/api/_test/clock', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ advance_secs: 601 }),
  });
  if (!response.ok) throw new Error(`putting the clock ahead: ${response.status}`);
  await waitForExpiry();
}

export async function burst(n) {
  return summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
}

/**
 * Slow requests leave while the access token is still valid, and their 401s
 * arrive after a fast request's refresh has finished.
 */
export async function late401s(slow, delayMs) {
  // The server holds them `delayMs` before it authenticates them; the
  // token expires meanwhile, so they come back 401 after the fast
  // request's refresh, and their replays (as slow) go with a fresh token.
  const slowCalls = Array.from({ length: slow }, (_, i) =>
    client.fetch(`/api/data/${100 + i}/?delay_ms=${delayMs}`),
  );
  await expireAccess();
  const fast = await summarize([client.fetch('/api/data/1/')]);
  const late = await summarize(slowCalls);
  return { fast, late };
}

/** Requests issued while a slow refresh is out: they must wait for it. */
export async function slowRefresh(n) {
  const first = client.fetch('/api/data/0/');
  // Issued once the refresh is out, not a fixed time after the first
  // request: on a loaded machine its 401 may take longer than any pause.
  await until(() => client.events.some((e) => e.type === 'refresh-start'), 'the refresh to start');
  const later = [];
  for (let i = 1; i <= n; i++) {
    await pause(100);
    later.push(client.fetch(`/api/data/${i}/`));
  }
  return summarize([first, ...later]);
}

export async function retries(n) {
  const summary = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  // The gap between an answer that said "retry" and the next attempt.
  const gaps = [];
  const events = client.events;
  for (let i = 0; i < events.length; i++) {
    if (events[i].type === 'refresh-end' && events[i].retrying) {
      const next = events.slice(i + 1).find((e) => e.type === 'refresh-start');
      if (next) gaps.push(Math.round(next.at - events[i].at));
    }
  }
  return { ...summary, gaps };
}

/** The refresh token is blacklisted (a logout elsewhere) before expiry. */
export async function refused(n) {
  const tokens = currentTokens();
  if (mode === 'cookie') {
    await fetch('/api/auth/logout/', { method: 'POST', credentials: 'include' });
  } else {
    await fetch('/api/token/blacklist/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh: tokens.refresh }),
    });
  }
  await expireAccess();
  const first = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  const later = await summarize([client.fetch('/api/data/99/')]);
  return { first, later };
}

/**
 * A burst whose last replays outlive a short access token: `held` of the
 * `n` requests have their first replay held back (by the page's `fetch`)
 * until the token that replay carries is certainly expired: `lifetimeMs`
 * plus a second after the refresh answer, and after another replay was
 * served with it. They must wait for a second refresh and then succeed.
 */
export async function outlivedReplays(n, held, lifetimeMs) {
  const heldUrls = new Set(Array.from({ length: held }, (_, i) => new URL(`/api/data/${n - held + i}/`, location.href).href));
  client.hold(heldUrls, lifetimeMs + 1000);
  const summary = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  return { ...summary, sends: client.sendCounts() };
}

/** A refresh that never answers: what the app saw, and whether a flight is still on. */
export async function refreshNeverAnswers(n) {
  const summary = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  return { ...summary, refreshing: client.authFetch.state().refreshing };
}

/**
 * Another client (a tab without the coordinator, another app on the origin)
 * refreshes first with the same refresh token; this tab's refresh, sent
 * while the server still holds the other one, loses the race and is
 * refused as blacklisted. `started` resolves once the server holds the
 * other refresh (the test waits on its /metrics).
 */
export async function lostRace() {
  const tokens = currentTokens();
  const other = fetch(REFRESH_URL[mode], {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json' },
    body: mode === 'bearer' ? JSON.stringify({ refresh: tokens.refresh }) : '{}',
  }).then(async (response) => {
    // The other client keeps what it got where this tab reads it too: the
    // jar (cookie mode), the shared token store (bearer mode).
    if (mode === 'bearer' && response.ok) {
      const body = await response.json();
      keepTokens({ access: body.access, refresh: body.refresh });
    }
    return response.status;
  });
  window.lostRaceOther = other;
}

export async function lostRaceBurst(n) {
  const summary = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  return { ...summary, other: await window.lostRaceOther, session: client.authFetch.state().session };
}

export async function lostAnswer(n) {
  return summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
}

/**
 * JSON, FormData and Blob bodies after expiry. Run with `record: true`: the
 * server's hash of the body it accepted must equal the hash of every send
 * the coordinator made, the first one included.
 */
export async function bodies() {
  const form = new FormData();
  form.append('name', 'ada lovelace');
  form.append('file', new Blob([new Uint8Array([0, 1, 2, 254, 255])], { type: 'application/octet-stream' }), 'f.bin');
  const cases = [
    ['json', { body: JSON.stringify({ order: 42, note: 'ünïcode' }), headers: { 'Content-Type': 'application/json' } }],
    ['form', { body: form }],
    ['blob', { body: new Blob(['blob body ', new Uint8Array([1, 2, 3])], { type: 'application/x-test' }) }],
  ];
  return Promise.all(
    cases.map(async ([name, init], i) => {
      const url = `/api/data/${i + 1}/`;
      const sent = () => sentBodies[new URL(url, location.href).href] || [];
      try {
        const response = await client.fetch(url, { method: 'POST', ...init });
        const echoed = response.ok ? await response.json() : null;
        return { name, status: response.status, echoed, sent: sent() };
      } catch (error) {
        return { name, error: error.name, sent: sent() };
      }
    }),
  );
}

/** A ReadableStream body: never replayed empty. */
export async function streamBody() {
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('streamed'));
      controller.close();
    },
  });
  try {
    const response = await client.fetch('/api/data/7/', { method: 'POST', body: stream, duplex: 'half' });
    return { status: response.status };
  } catch (error) {
    return { error: error.name, message: error.message };
  }
}

export async function abortHalf(n) {
  const controllers = Array.from({ length: n }, () => new AbortController());
  const calls = controllers.map((c, i) => client.fetch(`/api/data/${i}/`, { signal: c.signal }));
  // The refresh is held by the server's delay fault. The coordinator says
  // when all of them wait behind it; the naive client has no such state,
  // and gets a pause.
  if (client.authFetch) await until(() => client.authFetch.state().waiting === n, 'every call to wait');
  else await pause(100);
  controllers.forEach((c, i) => i % 2 === 0 && c.abort());
  const results = await Promise.allSettled(calls);
  return {
    aborted: results.filter((r, i) => i % 2 === 0 && r.status === 'rejected' && r.reason.name === 'AbortError').length,
    ok: results.filter((r, i) => i % 2 === 1 && r.status === 'fulfilled' && r.value.ok).length,
    settled: results.length,
    sessionExpired: tally.get('sessionExpired'),
  };
}

/**
 * The reload storm: on every load the page fires requests; the test reloads
 * it while they and the refresh are in flight. Counts survive in
 * sessionStorage.
 */
export async function stormLoad(kind, m, n) {
  mode = m;
  client = kind === 'naive' ? naive(mode, { keepalive: true }) : coordinator(mode);
  tally.bump('loads');
  const summary = await summarize(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
  if (summary.ok === n) tally.bump('completeLoads');
  return summary;
}

/**
 * The soak: on every load (the test reloads the tabs at random moments) the
 * page fires bursts of 1 to 8 requests a few hundred ms apart until the test
 * sets `soak-stop`, and tallies in sessionStorage what became of each. A
 * request cut off by a reload is not tallied: the page that sent it is gone.
 */
export async function soakLoad(m) {
  mode = m;
  client = coordinator(mode);
  tally.bump('loads');
  // Requests the reload cuts off fail with a network error on their way
  // out of the page: those are not the coordinator's.
  let leaving = false;
  for (const type of ['beforeunload', 'pagehide']) addEventListener(type, () => (leaving = true));
  for (let round = 0; round < 2000 && !sessionStorage.getItem('soak-stop'); round++) {
    const n = 1 + Math.floor(Math.random() * 8);
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => client.fetch(`/api/data/${i}/`)));
    if (leaving) break;
    for (const r of results) {
      const ok = r.status === 'fulfilled' && r.value.ok;
      tally.bump(ok ? 'soakOk' : 'soakFailed');
      if (!ok && !sessionStorage.getItem('soakFailure')) {
        sessionStorage.setItem('soakFailure', r.status === 'fulfilled' ? `status ${r.value.status}` : String(r.reason));
      }
    }
    await pause(100 + Math.random() * 400);
  }
  return {
    ok: tally.get('soakOk'),
    failed: tally.get('soakFailed'),
    failure: sessionStorage.getItem('soakFailure'),
    loads: tally.get('loads'),
    sessionExpired: tally.get('sessionExpired'),
  };
}

export { tally };

/** This page's coordinator events so far (the multi-tab scenarios count them). */
export function events() {
  return client ? client.events.map(({ type }) => type) : [];
}

/** Logs in again through the page, as after a session end. */
export async function logInAgain() {
  await login(mode);
  if (mode === 'cookie') client.authFetch.sessionStarted();
  else client.authFetch.setTokens(currentTokens());
}

/** Calls made from inside the coordinator's callbacks (`reenter: true`). */
export function reentered() {
  return client.reentered();
}

/** logout() in this page; what it and the page then see. */
export async function logOut() {
  await client.authFetch.logout();
  return client.authFetch.state().session;
}

/** This page's session as its coordinator sees it. */
export function session() {
  return client.authFetch.state().session;
}

/**
 * Steady traffic: one request every `everyMs` for `forMs` (at most
 * `forMs / everyMs` of them), as a page that polls does. Returns what the
 * app saw, what the server answered its requests, and this page's refreshes
 * (those ahead of expiry apart).
 */
export async function steady(forMs, everyMs) {
  const before = client.answered();
  const mark = client.events.length;
  const calls = [];
  const start = performance.now();
  for (let i = 0; i < Math.ceil(forMs / everyMs) && performance.now() - start < forMs; i++) {
    calls.push(client.fetch(`/api/data/${i % 100}/`));
    await pause(everyMs);
  }
  const summary = await summarize(calls);
  // Only what happened during the traffic.
  const answered = client.answered();
  for (const status of Object.keys(answered)) {
    answered[status] -= before[status] || 0;
    if (answered[status] === 0) delete answered[status];
  }
  const during = client.events.slice(mark);
  summary.answered = answered;
  summary.replays = during.filter((e) => e.type === 'replay').length;
  summary.aheadStarts = during.filter((e) => e.type === 'refresh-start' && e.ahead).length;
  if (answered[401]) {
    // What a 401 followed: this page's 401s and coordinator events, in ms.
    summary.trace = {
      unauthorized: client.unauthorized(),
      events: during.filter((e) => e.type !== 'replay').map((e) => `${Math.round(e.at)} ${e.type}${e.ahead ? ' ahead' : ''}`),
    };
  }
  return summary;
}
