// The two clients the end-to-end scenarios compare, as a page uses them:
// refresh-coordinator, and the interceptor apps write by hand (each 401
// refreshes on its own, then retries once).

import { createAuthFetch } from '/pkg/index.js';

const REFRESH = { cookie: '/api/auth/token/refresh/', bearer: '/api/token/refresh/' };
const LOGIN = { cookie: '/api/auth/login/', bearer: '/api/token/' };
export const USER = { username: 'alice', password: 'correct horse' };

/**
 * Bearer tokens in sessionStorage, so a reloaded page still has them (what
 * the reload scenarios need); cookie mode keeps nothing in storage. The
 * multi-tab scenarios call `shareTokens()` first: then the tokens are in
 * localStorage, shared by every page of the origin, and the store says so.
 */
let tokenStorage = () => sessionStorage;
const sessionTokens = {
  get: () => JSON.parse(tokenStorage().getItem('tokens') || 'null'),
  set: (tokens) =>
    tokens ? tokenStorage().setItem('tokens', JSON.stringify(tokens)) : tokenStorage().removeItem('tokens'),
};

/** The bearer tokens the page holds now, wherever they are kept. */
export const currentTokens = () => sessionTokens.get();

/** Keeps bearer tokens where the page's coordinator reads them (what another client of the same store does). */
export const keepTokens = (tokens) => sessionTokens.set(tokens);

/** Bearer tokens shared by every page (localStorage), as the package's `localStorageTokenStore` keeps them. */
export function shareTokens() {
  tokenStorage = () => localStorage;
  sessionTokens.shared = true;
  sessionTokens.scope = 'e2e';
}

/** Counts kept across reloads of the page. */
export const tally = {
  get: (name) => Number(sessionStorage.getItem(`tally:${name}`) || 0),
  bump: (name) => sessionStorage.setItem(`tally:${name}`, String(tally.get(name) + 1)),
};

/** Logs in with the raw `fetch`, as the app's login form would. */
export async function login(mode) {
  const response = await fetch(LOGIN[mode], {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(USER),
  });
  if (!response.ok) throw new Error(`login failed: ${response.status}`);
  if (mode === 'bearer') {
    const { access, refresh } = await response.json();
    sessionTokens.set({ access, refresh });
  }
}

/** A request with the current credential and no refresh logic. */
export function rawFetch(mode, url, init = {}) {
  const headers = new Headers(init.headers);
  const tokens = sessionTokens.get();
  if (mode === 'bearer' && tokens) headers.set('Authorization', `Bearer ${tokens.access}`);
  return fetch(url, { ...init, headers, credentials: 'include' });
}

/** SHA-256 of every body sent, by URL, in order (`record: true`). */
export const sentBodies = {};

async function sha256(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * `fetch` that notes the hash of the exact bytes it sends. The request goes
 * out at once, as the coordinator sent it; hashing first would delay it, and
 * in cookie mode a delayed first send can leave after the refresh and carry
 * the rotated cookie, so that nothing needs replaying. The answer is handed
 * back once the hash is noted.
 */
async function recordingFetch(request) {
  if (request.method !== 'POST' || request.url.includes('/api/auth/') || request.url.includes('/api/token/')) {
    return fetch(request);
  }
  const copy = request.clone();
  const answer = fetch(request);
  answer.catch(() => {}); // a failure reaches the caller below, not as unhandled
  (sentBodies[request.url] ||= []).push(await sha256(await copy.arrayBuffer()));
  return answer;
}

/**
 * A `fetch` that can hold back the first replay of chosen URLs (`hold(urls,
 * afterRefreshMs)`) until `afterRefreshMs` passed since the last refresh
 * answer and another request was served after it: the way a replay comes to
 * outlive its token in a long queue, made certain instead of left to the
 * machine's speed. Counts every send by URL.
 */
export function holdingFetch(refreshUrl) {
  const counts = new Map();
  let held = new Set();
  let holdMs = 0;
  let refreshedAt = -1;
  let servedAfterRefresh = false;
  // Once ripe, ripe for good: the first held replay released starts the
  // next refresh, whose answer moves `refreshedAt`; a held replay still
  // between two polls then would wait a whole hold more and outlive that
  // token too (a third refresh, on a loaded machine).
  let released = false;
  const ripe = () => (released ||= refreshedAt >= 0 && servedAfterRefresh && performance.now() >= refreshedAt + holdMs);
  async function send(request) {
    const url = request.url;
    const count = (counts.get(url) || 0) + 1;
    counts.set(url, count);
    if (url === refreshUrl) {
      const response = await fetch(request);
      refreshedAt = performance.now();
      servedAfterRefresh = false;
      return response;
    }
    if (count === 2 && held.has(url)) {
      // Bounded: 30 s at most, far past any hold a test asks for.
      for (let i = 0; i < 1200 && !ripe(); i++) await new Promise((r) => setTimeout(r, 25));
    }
    const response = await fetch(request);
    if (response.ok && refreshedAt >= 0) servedAfterRefresh = true;
    return response;
  }
  return {
    send,
    hold(urls, ms) {
      held = urls;
      holdMs = ms;
      released = false;
    },
    counts: () => Object.fromEntries(counts),
  };
}

/** refresh-coordinator, configured for the scenario. */
export function coordinator(mode, { record = false, hold = false, reenter = false, ...options } = {}) {
  const events = [];
  // With `reenter`, every event and session end calls back into authFetch,
  // as an app that loads something on 'refresh-end' would.
  const calls = [];
  const reentry = reenter ? () => calls.push(authFetch('/api/data/500/').then(() => 'ok', (e) => e.name)) : () => {};
  const holding = hold ? holdingFetch(new URL(REFRESH[mode], location.href).href) : null;
  const send = holding ? holding.send : record ? recordingFetch : (request) => fetch(request);
  // What the server answered the app's own requests (not the refresh,
  // login or logout), by status: refreshing ahead of expiry shows as no 401.
  const answered = {};
  /** When each 401 came, to tell in a failure what it followed. */
  const unauthorized = [];
  const counting = async (request) => {
    const response = await send(request);
    if (!/\/api\/(auth|token)\//.test(new URL(request.url).pathname)) {
      answered[response.status] = (answered[response.status] || 0) + 1;
      if (response.status === 401) unauthorized.push({ at: Math.round(performance.now()), url: request.url });
    }
    return response;
  };
  const authFetch = createAuthFetch({
    mode,
    fetch: counting,
    tokenStore: mode === 'bearer' ? sessionTokens : undefined,
    onSessionExpired: () => {
      tally.bump('sessionExpired');
      reentry();
    },
    onEvent: (event) => {
      events.push({ ...event, at: performance.now() });
      if (event.type === 'refresh-end' || event.type === 'adopted') reentry();
    },
    ...options,
  });
  return {
    name: 'coordinator',
    fetch: authFetch,
    events,
    authFetch,
    hold: (urls, ms) => holding.hold(urls, ms),
    reentered: async () => {
      // Bounded: a call still pending after 10 s counts as pending.
      const results = await Promise.all(
        calls.map((call) => Promise.race([call, new Promise((r) => setTimeout(() => r('pending'), 10_000))])),
      );
      const pending = results.filter((r) => r === 'pending').length;
      return { settled: results.length - pending, pending, results };
    },
    sendCounts: () => (holding ? holding.counts() : {}),
    answered: () => ({ ...answered }),
    unauthorized: () => [...unauthorized],
  };
}

/**
 * The interceptor from the blog posts and Stack Overflow answers, without
 * the queue: a 401 refreshes, then the request is retried once; a refused
 * refresh ends the session.
 */
export function naive(mode, options = {}) {
  const events = [];
  const send = (url, init = {}) => rawFetch(mode, url, init);
  async function naiveFetch(url, init = {}) {
    const first = await send(url, init);
    if (first.status !== 401) return first;
    events.push({ type: 'refresh-start', at: performance.now() });
    const tokens = sessionTokens.get();
    const refreshed = await fetch(REFRESH[mode], {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: mode === 'bearer' ? JSON.stringify({ refresh: tokens && tokens.refresh }) : '{}',
      ...(options.keepalive ? { keepalive: true } : {}),
    });
    if (!refreshed.ok) {
      tally.bump('sessionExpired');
      const error = new Error('session expired');
      error.name = 'SessionExpiredError';
      throw error;
    }
    if (mode === 'bearer') {
      const body = await refreshed.json();
      sessionTokens.set({ access: body.access, refresh: body.refresh || tokens.refresh });
    }
    return send(url, init);
  }
  return { name: 'naive', fetch: naiveFetch, events };
}
