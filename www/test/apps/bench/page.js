// The client side of `make bench` (www/bench/bench.mjs drives it): each
// function measures one thing in this page against the reference backend
// that serves it, and returns numbers; nothing here asserts. The clients
// compared come from node_modules, bundled by Vite as an app bundles them.

import { createAuthFetch } from 'refresh-coordinator';
import { attachAxios } from 'refresh-coordinator/axios';
import axios from 'axios';
import createAuthRefreshInterceptor from 'axios-auth-refresh';

const LOGIN = '/api/auth/login/';
const REFRESH = '/api/auth/token/refresh/';
const USER = { username: 'alice', password: 'correct horse' };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const data = (i) => `/api/data/${i % 64}/`;

/** Logs in with the raw `fetch`, as an app's login form does (cookie mode). */
async function login() {
  const response = await fetch(LOGIN, {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(USER),
  });
  if (!response.ok) throw new Error(`login: ${response.status}`);
}

/**
 * `calls` requests through `send`, `inFlight` at a time; µs per call.
 * Every answer's body is read, as an app reads it.
 */
async function perCall(send, calls, inFlight) {
  let next = 0;
  const lane = async () => {
    while (next < calls) {
      const i = next++;
      await send(i);
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return ((performance.now() - t) / calls) * 1000;
}

/**
 * Per-call µs of each of `clients` (name → send(i)), `calls` in all per
 * client, in `rounds` interleaved rounds (the order turns each round, so
 * neither side always runs on a warmer machine); the median round of each.
 * `ratios` holds each client's per-round time over the first client's in
 * the same round, the median of those: a pair measured moments apart
 * shares the machine's state, so the drift between rounds cancels out.
 */
async function interleaved(clients, calls, rounds, inFlight = 1) {
  const names = Object.keys(clients);
  const times = Object.fromEntries(names.map((name) => [name, []]));
  const perRound = Math.max(1, Math.round(calls / rounds));
  for (const name of names) await perCall(clients[name], Math.min(perRound, 50), inFlight); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...names].reverse() : names;
    for (const name of order) times[name].push(await perCall(clients[name], perRound, inFlight));
  }
  const [base] = names;
  const ratios = Object.fromEntries(names.map((name) => [name, median(times[name].map((t, r) => t / times[base][r]))]));
  return { ...Object.fromEntries(names.map((name) => [name, median(times[name])])), ratios };
}

/** The coordinator's own cost: a `fetch` that answers a prebuilt 200 at once, called raw and through authFetch. */
async function canned(calls, rounds) {
  const answer = () => Promise.resolve(new Response(null, { status: 200 }));
  const authFetch = createAuthFetch({ fetch: answer, crossTab: false });
  await authFetch.ready;
  return interleaved(
    {
      raw: (i) => answer(new Request(data(i))),
      coordinated: (i) => authFetch(data(i)),
    },
    calls,
    rounds,
  );
}

/**
 * Small GETs to the backend with a valid cookie: raw `fetch` against
 * authFetch. `again` is raw `fetch` a second time, measured as the others:
 * its ratio to `raw` is what identical work measures here, the noise floor
 * of the other ratio. With three clients the order of a round turns around
 * the coordinated one, so it never runs first or last.
 */
async function loopback(calls, rounds, inFlight) {
  await login();
  const authFetch = createAuthFetch();
  await authFetch.ready;
  const raw = async (i) => (await fetch(data(i), { credentials: 'include' })).text();
  return interleaved(
    {
      raw,
      coordinated: async (i) => (await authFetch(data(i))).text(),
      again: raw,
    },
    calls,
    rounds,
    inFlight,
  );
}

/** Plain Axios, an Axios instance with `attachAxios`, and one with axios-auth-refresh, on loopback. */
async function axiosClients(calls, rounds) {
  await login();
  const plain = axios.create({ withCredentials: true });
  const attached = axios.create({ withCredentials: true });
  attachAxios(attached);
  const peer = axios.create({ withCredentials: true });
  createAuthRefreshInterceptor(peer, () => peer.post(REFRESH, {}, { skipAuthRefresh: true }));
  return interleaved(
    {
      plain: (i) => plain.get(data(i)),
      attached: (i) => attached.get(data(i)),
      peer: (i) => peer.get(data(i)),
    },
    calls,
    rounds,
  );
}

/**
 * The interceptor teams write by hand, as a `fetch` wrapper: the
 * `isRefreshing` flag and the `failedQueue` of the blog posts. A 401 while
 * a refresh is out queues; the first starts the refresh; all retry once.
 */
function handWritten() {
  let isRefreshing = false;
  let failedQueue = [];
  let refreshes = 0;
  const processQueue = (error) => {
    for (const waiter of failedQueue) error ? waiter.reject(error) : waiter.resolve();
    failedQueue = [];
  };
  const send = (url) => fetch(url, { credentials: 'include' });
  async function handWrittenFetch(url) {
    const first = await send(url);
    if (first.status !== 401) return first;
    if (isRefreshing) {
      await new Promise((resolve, reject) => failedQueue.push({ resolve, reject }));
      return send(url);
    }
    isRefreshing = true;
    refreshes++;
    try {
      const refreshed = await fetch(REFRESH, {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      if (!refreshed.ok) throw new Error(`refresh: ${refreshed.status}`);
      processQueue(null);
    } catch (error) {
      processQueue(error);
      throw error;
    } finally {
      isRefreshing = false;
    }
    return send(url);
  }
  handWrittenFetch.refreshes = () => refreshes;
  return handWrittenFetch;
}

/** Until the backend answers this page's cookie 401 (the clock hook took hold), bounded. */
async function untilExpired() {
  for (let i = 0; i < 400; i++) {
    if ((await fetch(data(0), { credentials: 'include' })).status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the access cookie never expired');
}

/** Puts the backend's clock `secs` ahead (a test hook). */
async function advanceClock(secs) {
  const ahead = await fetch('/api/_test/clock', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ advance_secs: secs }),
  });
  if (!ahead.ok) throw new Error(`putting the clock ahead: ${ahead.status}`);
}

/** Expires the access token of every page of this browser: the backend's clock put past its life. */
async function expire(lifetimeSecs) {
  await advanceClock(lifetimeSecs + 1);
  await untilExpired();
}

/** This page's client, made by `prepare`. */
let shared = null;

/**
 * Logs in, and with `expired` puts the backend's clock past the access
 * token's life; then makes this page's client (`coordinator` or
 * `handwritten`), ready to burst.
 */
async function prepare({ client = 'coordinator', expired = false, lifetimeSecs = 600 } = {}) {
  await login();
  shared = client === 'coordinator' ? createAuthFetch() : handWritten();
  if (client === 'coordinator') await shared.ready;
  if (expired) await expire(lifetimeSecs);
}

/** How the requests that did not succeed ended: `{ 'status 401': n, 'TypeError: …': n }`. */
function failures(results) {
  const counts = {};
  for (const r of results) {
    let why = null;
    if (r.status === 'rejected') why = `${r.reason && r.reason.name}: ${r.reason && r.reason.message}`.slice(0, 120);
    else if (!r.value.ok) why = `status ${r.value.status}`;
    if (why) counts[why] = (counts[why] || 0) + 1;
  }
  return counts;
}

/**
 * `n` requests through the prepared client at once, started at wall time
 * `at` (ms since the epoch; now if absent), so that several pages fire at
 * the same instant. Resolves to when each settled, and how.
 */
async function burst(n, at = 0) {
  while (at && Date.now() < at) await new Promise((resolve) => setTimeout(resolve, Math.min(5, at - Date.now())));
  const start = Date.now();
  const t = performance.now();
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => shared(data(i))));
  const ms = performance.now() - t;
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.ok).length;
  return { ms, start, end: start + ms, ok, failed: n - ok, failures: failures(results) };
}

/**
 * Refresh ahead of expiry: logs in, lets one 401 teach the coordinator the
 * token's lifetime (the refresh answer's `access_expiration` against its
 * `Date`), then waits, hidden (no timer refresh), until the token is within
 * the margin, and bursts `n`: one refresh ahead, then the burst, no 401.
 */
async function proactive(n, lifetimeSecs) {
  await login();
  const answered401 = { n: 0 };
  const counting = async (request) => {
    const response = await fetch(request);
    if (response.status === 401) answered401.n++;
    return response;
  };
  let aheadStarts = 0;
  const authFetch = createAuthFetch({
    fetch: counting,
    onEvent: (event) => {
      if (event.type === 'refresh-start' && event.ahead) aheadStarts++;
    },
  });
  await authFetch.ready;
  await advanceClock(lifetimeSecs + 1);
  await untilExpired();
  const first = await authFetch(data(0)); // the 401, the refresh: the lifetime is known from here
  if (!first.ok) throw new Error(`first request after expiry: ${first.status}`);
  const learned = performance.now();
  // The margin is a third of the lifetime at most: wait into it.
  const into = (lifetimeSecs * 1000 * 2) / 3 + 500;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, into - (performance.now() - learned))));
  answered401.n = 0;
  const t = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => authFetch(data(i))));
  const ms = performance.now() - t;
  return { ms, ok: results.filter((r) => r.ok).length, answered401: answered401.n, aheadStarts };
}

/** One raw refresh round trip (it rotates this page's cookie), and one raw GET, in ms. */
async function roundTrips() {
  await login();
  let t = performance.now();
  const refreshed = await fetch(REFRESH, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  const refreshMs = performance.now() - t;
  if (!refreshed.ok) throw new Error(`refresh: ${refreshed.status}`);
  t = performance.now();
  await (await fetch(data(0), { credentials: 'include' })).text();
  return { refreshMs, getMs: performance.now() - t };
}

// Memory: the driver reads the heap over CDP between these steps.

/** Refreshes that never answer until `releaseWaiters()`; everything else 401. */
let releaseRefresh = null;
let waiters = [];
let held = null;

/** Queues `n` requests behind one refresh that is held open; resolves once all are waiting. */
async function queueWaiters(n) {
  let unauthorized = 0;
  let sent = () => {};
  const allSent = new Promise((resolve) => (sent = resolve));
  const refreshHeld = new Promise((resolve) => (releaseRefresh = resolve));
  held = createAuthFetch({
    crossTab: false,
    refreshTimeout: 600_000,
    waitTimeout: 600_000,
    fetch: async (request) => {
      if (new URL(request.url).pathname === REFRESH) {
        await refreshHeld;
        return new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json' } });
      }
      if (held.state().generation === 0) {
        if (++unauthorized === n) sent();
        return new Response(null, { status: 401 });
      }
      return new Response(null, { status: 200 });
    },
  });
  await held.ready;
  waiters = Array.from({ length: n }, (_, i) => held(data(i)));
  await allSent;
  // The last 401's turn: let the coordinator queue it.
  await new Promise((resolve) => setTimeout(resolve, 0));
  return held.state();
}

/** Answers the held refresh; resolves once every waiter settled, to how many succeeded. */
async function releaseWaiters() {
  releaseRefresh();
  const results = await Promise.allSettled(waiters);
  waiters = [];
  held = null;
  return results.filter((r) => r.status === 'fulfilled' && r.value.ok).length;
}

/** `n` request cycles through one coordinator on a canned 200, awaited one by one. */
let cycling = null;
async function cycles(n) {
  cycling ??= createAuthFetch({ fetch: () => Promise.resolve(new Response(null, { status: 200 })), crossTab: false });
  await cycling.ready;
  for (let i = 0; i < n; i++) await cycling(data(i));
  return n;
}

window.bench = {
  canned,
  loopback,
  axiosClients,
  prepare,
  expire,
  burst,
  proactive,
  roundTrips,
  queueWaiters,
  releaseWaiters,
  cycles,
  refreshesOfHandWritten: () => (shared && shared.refreshes ? shared.refreshes() : 0),
};
window.benchReady = true;
