// The OAuth 2.0 scenarios (issue 12), run in the page against the reference
// backend's Django OAuth Toolkit `/o/token/`: the coordinator with
// `dialect: 'oauth2'`, and with the app's own `refresh` function. Tokens
// live 10 minutes; the tests expire them by putting the backend's clock
// ahead. Every wait is bounded.

import { RefreshRefusedError, createAuthFetch, invalidTokenChallenge, localStorageTokenStore } from '/pkg/index.js';

export const CLIENT_ID = 'spa-client';
const USER = { username: 'alice', password: 'correct horse' };
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

let authFetch = null;
const seen = { events: [], sessionExpired: 0, refreshCalls: 0, throwing: null };
/** The page's tokens, where the test can read them. */
let held = null;
const tokenStore = {
  get: () => held,
  set: (tokens) => {
    held = tokens;
  },
};

/** The tokens the page holds now. */
export const heldTokens = () => options.tokenStore.get();
let options = null;

/** DOT's password grant, as a login form would use it: `{access, refresh}`. */
async function login() {
  const body = new URLSearchParams({ grant_type: 'password', ...USER, client_id: CLIENT_ID });
  const response = await fetch('/o/token/', { method: 'POST', headers: FORM, body });
  if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const answer = await response.json();
  return { access: answer.access_token, refresh: answer.refresh_token };
}

/**
 * The README's custom refresh: the refresh grant with a device id header
 * the server wants. `seen.throwing` makes it throw that error instead.
 */
async function deviceRefresh({ tokens, fetch }) {
  seen.refreshCalls += 1;
  if (seen.throwing) throw seen.throwing;
  const response = await fetch('/o/token/', {
    method: 'POST',
    headers: { ...FORM, 'X-Device-Id': 'device-1' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh, client_id: CLIENT_ID }),
  });
  const answer = await response.json().catch(() => ({}));
  if (answer.error === 'invalid_grant') throw new RefreshRefusedError(`refresh refused: ${answer.error}`);
  if (!response.ok) throw new Error(`refresh answered ${response.status}`);
  return { access: answer.access_token, refresh: answer.refresh_token, expiresIn: answer.expires_in };
}

/**
 * A fetch in front of an API that says "expired" with a 403 and RFC 6750's
 * challenge instead of a 401 (what `expiredWhen` is for).
 */
async function forbiddingFetch(request) {
  const response = await fetch(request);
  if (response.status !== 401 || !new URL(request.url).pathname.startsWith('/api/data/')) return response;
  return new Response('{"detail":"expired"}', {
    status: 403,
    headers: { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });
}

/**
 * A fetch whose refresh answers carry an access token that cannot go in a
 * header: the broken server of the audit.
 */
async function unsafeTokenFetch(request) {
  const response = await fetch(request);
  if (new URL(request.url).pathname !== '/o/token/' || !response.ok) return response;
  const answer = await response.json();
  return Response.json({ ...answer, access_token: 'abc\r\nX: 1' });
}

/**
 * Logs in and builds the coordinator. `kind`: 'dialect' (the built-in
 * oauth2 dialect), 'custom' (the app's own refresh), 'forbidding' (403 +
 * invalid_token, with or without `expiredWhen`), 'unsafe' (broken tokens).
 * `shared`: the tokens in `localStorage`, shared with the other tabs, which
 * are set up with `logIn: false`. `margin`: refresh ahead of expiry.
 */
export async function setup(kind, { expiredWhen = true, shared = false, logIn = true, margin = false } = {}) {
  if (logIn && shared) localStorage.clear();
  const tokens = logIn ? await login() : null;
  options = {
    mode: 'bearer',
    dialect: 'oauth2',
    clientId: CLIENT_ID,
    logoutUrl: false,
    tokenStore: shared ? localStorageTokenStore({ key: 'oauth2-e2e' }) : tokenStore,
    refreshMargin: margin,
    retry: { limit: 1, baseDelay: 50, maxDelay: 100 },
    onEvent: (event) => seen.events.push(event),
    onSessionExpired: () => {
      seen.sessionExpired += 1;
    },
  };
  if (kind === 'custom') options.refresh = deviceRefresh;
  if (kind === 'forbidding') {
    options.fetch = forbiddingFetch;
    if (expiredWhen) options.expiredWhen = invalidTokenChallenge;
  }
  if (kind === 'unsafe') options.fetch = unsafeTokenFetch;
  authFetch = createAuthFetch(options);
  if (tokens) authFetch.setTokens(tokens);
  await authFetch.ready;
}

/** Makes the custom refresh throw: a RefreshRefusedError, or any other error. */
export function throwFromRefresh(refused) {
  seen.throwing = refused ? new RefreshRefusedError('device revoked') : new Error('device locked');
}


/** The refreshes this page started ahead of expiry. */
export const aheadStarts = () => seen.events.filter((e) => e.type === 'refresh-start' && e.ahead).length;

/** The refreshes that succeeded in this page. */
export const rotations = () => seen.events.filter((e) => e.type === 'refresh-end' && e.ok).length;

/**
 * One request every `every` ms for `ms` (bounded: `ms / every` requests at
 * most): what they got.
 */
export async function trickle(ms, every) {
  const calls = [];
  for (let i = 0; i < ms / every; i += 1) {
    calls.push(authFetch(`/api/data/${i}/`).then((r) => r.status, (e) => e.name));
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  const counts = {};
  for (const status of await Promise.all(calls)) counts[status] = (counts[status] || 0) + 1;
  return counts;
}

/** `n` requests at once; what the app saw of each, every one settled. */
export async function burst(n) {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => authFetch(`/api/data/${i}/`)));
  const summary = { issued: n, ok: 0, statuses: {}, errors: {}, causes: {} };
  for (const r of results) {
    if (r.status === 'fulfilled') {
      summary.statuses[r.value.status] = (summary.statuses[r.value.status] || 0) + 1;
      if (r.value.ok) summary.ok += 1;
    } else {
      const name = r.reason && r.reason.name;
      summary.errors[name] = (summary.errors[name] || 0) + 1;
      const cause = r.reason && r.reason.cause;
      const key = cause ? `${cause.name}: ${cause.message}` : 'none';
      summary.causes[key] = (summary.causes[key] || 0) + 1;
    }
  }
  summary.sessionExpired = seen.sessionExpired;
  summary.refreshStarts = seen.events.filter((e) => e.type === 'refresh-start').length;
  summary.replays = seen.events.filter((e) => e.type === 'replay').length;
  summary.refreshCalls = seen.refreshCalls;
  summary.session = authFetch.state().session;
  return summary;
}
