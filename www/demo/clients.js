// The two clients the demo compares, each instrumented so the timeline can
// draw every send and answer:
//
// - refresh-coordinator: `createAuthFetch` with a `fetch` that reports each
//   send (first send, replay, refresh) to the panel's recorder;
// - the interceptor apps write by hand (the blog-post Axios interceptor
//   without a queue): each 401 refreshes on its own, then retries once; a
//   refused refresh ends the session.
//
// Both in cookie mode, as dj-rest-auth serves it: HttpOnly cookies, nothing
// in storage. The naive panel talks to its own backend, cross-origin.

import { createAuthFetch } from '/pkg/index.js';

const LOGIN = '/api/auth/login/';
const REFRESH = '/api/auth/token/refresh/';
const LOGOUT = '/api/auth/logout/';
const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** `access_expiration` of a login or refresh answer, read from a copy. */
function noteExpiration(response, recorder) {
  response
    .clone()
    .json()
    .then((body) => body && body.access_expiration && recorder.expiresAt(body.access_expiration))
    .catch(() => {});
}

async function login(send, base, recorder, { username, password }) {
  const response = await send(base + LOGIN, {
    method: 'POST',
    credentials: 'include',
    headers: JSON_HEADERS,
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = (body.non_field_errors && body.non_field_errors[0]) || `HTTP ${response.status}`;
    throw new Error(detail);
  }
  recorder.loggedIn(body.user && body.user.username, body.access_expiration);
}

async function logout(base, recorder) {
  // dj-rest-auth deletes both cookies whatever the answer.
  await fetch(base + LOGOUT, { method: 'POST', credentials: 'include' }).catch(() => {});
  recorder.loggedOut();
}

/** refresh-coordinator on the page's own backend. */
export function coordinatorClient(recorder) {
  const refreshUrl = new URL(REFRESH, location.href).href;
  async function observedFetch(request) {
    const isRefresh = request.url.split('?')[0] === refreshUrl;
    const mark = isRefresh ? recorder.refreshStarted() : recorder.sent(request.url);
    let response;
    try {
      response = await fetch(request);
    } catch (error) {
      if (mark) mark.answered('network');
      throw error;
    }
    if (mark) mark.answered(response.status);
    if (isRefresh && response.ok) noteExpiration(response, recorder);
    return response;
  }
  const authFetch = createAuthFetch({
    fetch: observedFetch,
    onEvent: (event) => {
      if (event.type === 'replay') recorder.replayed();
      if (event.type === 'adopted') recorder.adopted();
    },
    onSessionExpired: () => recorder.sessionEnded('refresh refused'),
  });
  return {
    kind: 'coordinator',
    base: location.origin,
    // Through authFetch, so that the coordinator starts a new session.
    login: (credentials) => login(authFetch, '', recorder, credentials),
    logout: () => logout('', recorder),
    get: (url) => authFetch(url),
    ready: authFetch.ready,
  };
}

/**
 * The hand-written interceptor, as in www/e2e/pages/clients.js: a 401
 * refreshes, then the request is retried once; a refused refresh ends the
 * session (an app would send the user to the login page).
 */
export function naiveClient(recorder, base) {
  async function send(url) {
    const mark = recorder.sent(url);
    try {
      const response = await fetch(url, { credentials: 'include' });
      if (mark) mark.answered(response.status);
      return response;
    } catch (error) {
      if (mark) mark.answered('network');
      throw error;
    }
  }
  async function naiveFetch(url) {
    const first = await send(url);
    if (first.status !== 401) return first;
    const mark = recorder.refreshStarted();
    let refreshed;
    try {
      refreshed = await fetch(base + REFRESH, {
        method: 'POST',
        credentials: 'include',
        headers: JSON_HEADERS,
        body: '{}',
      });
    } catch (error) {
      mark.answered('network');
      throw error;
    }
    mark.answered(refreshed.status);
    if (!refreshed.ok) {
      const body = await refreshed.json().catch(() => ({}));
      recorder.sessionEnded(body.detail || `refresh answered ${refreshed.status}`);
      const error = new Error('session expired');
      error.name = 'SessionExpiredError';
      throw error;
    }
    noteExpiration(refreshed, recorder);
    recorder.replayed();
    return send(url);
  }
  return {
    kind: 'naive',
    base,
    login: (credentials) => login(fetch, base, recorder, credentials),
    logout: () => logout(base, recorder),
    get: (url) => naiveFetch(url),
    ready: Promise.resolve(),
  };
}
