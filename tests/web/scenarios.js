// Browser scenarios for the coordinator, run by wasm-bindgen-test in headless
// Chromium through the real JS boundary: `create(options)` builds the web
// layer (src/web/coordinator.js) over this build's wasm Core, `fetch` is
// replaced by the FakeServer, and
// every Request, Response, Headers, FormData, Blob and AbortController is the
// browser's own. Each scenario throws on the first broken expectation.

import {
  BEARER_REFRESH,
  COOKIE_REFRESH,
  DATA,
  FakeServer,
  LOGIN,
} from './fake_server.js';

// The very module whose classes the coordinator throws (wasm-bindgen serves
// the test's JS modules from one folder, keeping their paths).
import * as errors from '../../src/web/errors.js';

const CLASSES = {
  SESSION_EXPIRED: ['SessionExpiredError', errors.SessionExpiredError, errors.isSessionExpiredError],
  REFRESH_UNAVAILABLE: ['RefreshUnavailableError', errors.RefreshUnavailableError, errors.isRefreshUnavailableError],
  REPLAY_NOT_POSSIBLE: ['ReplayNotPossibleError', errors.ReplayNotPossibleError, errors.isReplayNotPossibleError],
};

/** `error` is the typed error for `code`, by class, name, code and guards. */
function isError(error, code) {
  const [name, Class, guard] = CLASSES[code];
  return (
    error instanceof Class &&
    error instanceof errors.RefreshCoordinatorError &&
    error.name === name &&
    error.code === code &&
    guard(error) &&
    errors.isRefreshCoordinatorError(error)
  );
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function same(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}

/** Yields to the event loop until `condition()` holds; bounded. */
async function until(condition, what) {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every promise settles: the scenario fails instead of hanging if not. */
async function settleAll(promises, what = 'every call to settle') {
  let done = false;
  const all = Promise.allSettled(promises).then((results) => {
    done = true;
    return results;
  });
  await until(() => done, what);
  return all;
}

/** How long (ms) one scenario may take before it fails as stuck. */
const SCENARIO_LIMIT = 30000;

/**
 * `scenario` (a promise), or a rejection naming the limit once it has run
 * `SCENARIO_LIMIT` ms: a stuck scenario fails its own test, and the ones
 * after it still run.
 */
export function bounded(scenario) {
  let timer;
  const stuck = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the scenario did not finish within ${SCENARIO_LIMIT} ms`)), SCENARIO_LIMIT);
  });
  return Promise.race([scenario, stuck]).finally(() => clearTimeout(timer));
}

function setup(mode, extra = {}) {
  // Every scenario is a fresh page load: no note of a refresh some earlier
  // scenario left unanswered.
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith('refresh-coordinator:')) sessionStorage.removeItem(key);
  }
  const server = new FakeServer({ mode });
  const events = [];
  const expired = [];
  const options = {
    mode,
    fetch: server.fetch,
    retry: { baseDelay: 1, maxDelay: 4 },
    // These scenarios share one page: each coordinator keeps its flight to
    // itself (the cross-tab scenarios turn it on, with fresh storage).
    crossTab: false,
    onEvent: (event) => events.push(event),
    onSessionExpired: (error) => expired.push(error),
    ...extra,
  };
  return { server, events, expired, options };
}

function start(create, mode, extra) {
  const s = setup(mode, extra);
  const c = create(s.options);
  if (mode === 'bearer') c.setTokens(s.server.tokens());
  return { ...s, c };
}

const count = (events, type) => events.filter((e) => e.type === type).length;

export async function burst(create, mode, n) {
  const { server, events, c } = start(create, mode);
  server.expireAccess();
  const calls = Array.from({ length: n }, (_, i) => c.fetch(`${DATA}${i}/`));
  await until(() => server.seen.length === n, 'every request to get its 401');
  await server.refreshesArrived(1);
  await until(() => c.state().waiting === n, 'every 401 to wait');
  server.rotate();
  const results = await settleAll(calls);
  check(results.every((r) => r.status === 'fulfilled' && r.value.status === 200), 'all succeed');
  same(server.refreshes.length, 1, 'refreshes');
  same(count(events, 'replay'), n, 'replays');
  const replays = server.seen.slice(n);
  same(replays.map((r) => r.url), calls.map((_, i) => `${DATA}${i}/`), 'replayed in issue order');
  check(replays.every((r) => r.credential === server.validAccess), 'replayed with the new credential');
  same(c.state().pending, 0, 'nothing pending');
}

export async function lateUnauthorizedReplaysWithoutSecondRefresh(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  server.holdData = true;
  const slow = c.fetch(`${DATA}slow/`);
  await until(() => server.held.length === 1, 'the slow request to be on the wire');
  server.holdData = false;
  const fast = c.fetch(`${DATA}fast/`);
  await server.refreshesArrived(1);
  server.rotate();
  same((await fast).status, 200, 'fast request');
  // The slow request was sent with the old credential and answers only now.
  server.releaseHeld();
  same((await slow).status, 200, 'slow request, replayed');
  same(server.refreshes.length, 1, 'refreshes');
}

export async function requestsIssuedDuringRefreshWait(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const first = c.fetch(`${DATA}1/`);
  await server.refreshesArrived(1);
  const later = [c.fetch(`${DATA}2/`), c.fetch(`${DATA}3/`)];
  await until(() => c.state().waiting === 3, 'new requests to queue');
  same(server.seen.length, 1, 'nothing sent with the stale credential');
  server.rotate();
  const results = await settleAll([first, ...later]);
  check(results.every((r) => r.value && r.value.status === 200), 'all succeed');
  same(server.seen.length, 4, 'one 401, three sends with the new credential');
}

export async function refusedRefreshEndsTheSessionOnce(create, mode) {
  const { server, events, expired, c } = start(create, mode);
  server.expireAccess();
  const calls = Array.from({ length: 5 }, (_, i) => c.fetch(`${DATA}${i}/`));
  await server.refreshesArrived(1);
  await until(() => c.state().waiting === 5, 'every 401 to wait');
  server.refuse(401);
  const results = await settleAll(calls);
  for (const r of results) {
    check(r.status === 'rejected', 'rejected');
    check(isError(r.reason, 'SESSION_EXPIRED'), 'a SessionExpiredError');
    check(r.reason.request instanceof Request, 'carries the request');
  }
  same(expired.length, 1, 'onSessionExpired calls');
  check(isError(expired[0], 'SESSION_EXPIRED'), 'onSessionExpired gets the error');
  same(count(events, 'session-expired'), 1, 'session-expired events');
  same(c.state().session, 'ended', 'session state');

  // Later 401s start no refresh.
  const later = await settleAll([c.fetch(`${DATA}later/`)]);
  check(isError(later[0].reason, 'SESSION_EXPIRED'), 'later 401 is a SessionExpiredError');
  same(server.refreshes.length, 1, 'no refresh after the end');
  same(expired.length, 1, 'still told once');

  // A new login revives it.
  if (mode === 'cookie') {
    same((await c.fetch(LOGIN, { method: 'POST', body: '{}' })).status, 200, 'login');
  } else {
    c.setTokens(server.login()); // the app logged in with its own request
  }
  same(c.state().session, 'active', 'session after login');
  same((await c.fetch(`${DATA}fresh/`)).status, 200, 'works after login');
}

export async function transientFailuresRetryThenSucceed(create, mode) {
  const { server, events, c } = start(create, mode);
  server.expireAccess();
  const call = c.fetch(`${DATA}1/`);
  (await server.refreshesArrived(1), server.refuse(500));
  (await server.refreshesArrived(2), server.refuse(503));
  (await server.refreshesArrived(3), server.rotate());
  same((await call).status, 200, 'the request succeeds');
  same(server.refreshes.length, 3, 'one try and two retries');
  same(
    events.filter((e) => e.type === 'refresh-end').map((e) => [e.ok, e.retrying, e.status]),
    [[false, true, 500], [false, true, 503], [true, undefined, undefined]],
    'refresh-end events',
  );
  same(c.state().session, 'active', 'session kept');
}

export async function retryAfterIsHonoured(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const call = c.fetch(`${DATA}1/`);
  await server.refreshesArrived(1);
  const answeredAt = performance.now();
  server.refuse(429, { 'Retry-After': '1' });
  await server.refreshesArrived(2);
  const waited = performance.now() - answeredAt;
  // A lower bound only: the coordinator must not retry before it is allowed.
  check(waited >= 950, `retried after ${waited} ms, before Retry-After: 1`);
  server.rotate();
  same((await call).status, 200, 'the request succeeds');
}

export async function exhaustedRetriesRejectAndKeepTheSession(create, mode) {
  const { server, expired, c } = start(create, mode, {
    retry: { limit: 1, baseDelay: 1, maxDelay: 2 },
  });
  server.expireAccess();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
  await until(() => c.state().waiting === 2, 'both to wait');
  (await server.refreshesArrived(1), server.refuse(503));
  (await server.refreshesArrived(2), server.refuse(503));
  const results = await settleAll(calls);
  for (const r of results) {
    check(isError(r.reason, 'REFRESH_UNAVAILABLE'), 'a RefreshUnavailableError');
    same([r.reason.code, r.reason.reason, r.reason.status], ['REFRESH_UNAVAILABLE', 'status', 503], 'details');
    check(!(isError(r.reason, 'SESSION_EXPIRED')), 'not a session end');
  }
  same(expired.length, 0, 'no session end');
  same(c.state().session, 'active', 'session kept');
}

export async function unansweredRefreshIsRetriedAndItsLateRotationAdopted(create, mode) {
  const { server, events, c } = start(create, mode, { refreshTimeout: 30 });
  server.expireAccess();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
  await server.refreshesArrived(1);
  // No answer within 30 ms: not a wedge. (Cookie mode first asks whether
  // the rotated cookie landed, with the oldest waiter; it did not.) Then a
  // retry goes out while the first is still unanswered.
  await server.refreshesArrived(2);
  same(c.state().refreshing, true, 'the retry is in flight');
  same(c.state().pending, 2, 'nobody was rejected');
  server.rotate(); // the first answers after all, with a rotation
  const results = await settleAll(calls);
  check(results.every((r) => r.status === 'fulfilled' && r.value.status === 200), 'both served with it');
  server.refuse(); // the retry, which sent the replaced token, is refused
  same((await c.fetch(`${DATA}3/`)).status, 200, 'and the session lives on');
  same(c.state().session, 'active', 'session kept');
  same(count(events, 'session-expired'), 0, 'no session end');
}

export async function refreshesThatNeverAnswerEndInATimeoutAndRefreshAgain(create, mode) {
  const { server, c } = start(create, mode, { refreshTimeout: 20, retry: { limit: 1, baseDelay: 1, maxDelay: 2 } });
  server.expireAccess();
  const [first] = await settleAll([c.fetch(`${DATA}1/`)]);
  check(isError(first.reason, 'REFRESH_UNAVAILABLE'), 'a RefreshUnavailableError');
  same(first.reason.reason, 'timeout', 'reason');
  same(c.state().refreshing, false, 'the flight is over, not wedged');
  const second = c.fetch(`${DATA}2/`);
  await server.refreshesArrived(3);
  same(server.refreshes.length, 3, 'a new refresh for the next 401');
  server.rotate({ newest: true });
  same((await second).status, 200, 'and it is used');
}

export async function abortedWaitersLeaveTheQueue(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const controllers = Array.from({ length: 4 }, () => new AbortController());
  // The signal in `init` (0, 1) or on a Request given as input (2, 3):
  // the caller's signal reaches the coordinator either way.
  const calls = controllers.map((ac, i) =>
    i < 2 ? c.fetch(`${DATA}${i}/`, { signal: ac.signal }) : c.fetch(new Request(`${DATA}${i}/`, { signal: ac.signal })),
  );
  await until(() => c.state().waiting === 4, 'all to wait');
  controllers[0].abort();
  controllers[2].abort();
  const exchange = await server.refreshesArrived(1);
  server.rotate();
  const results = await settleAll(calls);
  same(results.map((r) => r.status), ['rejected', 'fulfilled', 'rejected', 'fulfilled'], 'outcomes');
  same(results[0].reason.name, 'AbortError', 'abort reason');
  same(results[2].reason.name, 'AbortError', "a Request input's abort reason");
  check(exchange.request.signal.aborted === false, 'the refresh was not aborted');
  same(server.seen.length, 4 + 2, 'only the others were replayed');
}

export async function abortedBeforeTheCallSendsNothing(create, mode) {
  const { server, c } = start(create, mode);
  const ac = new AbortController();
  ac.abort();
  const [r] = await settleAll([c.fetch(`${DATA}1/`, { signal: ac.signal })]);
  same(r.reason && r.reason.name, 'AbortError', 'rejected like fetch');
  same(server.seen.length, 0, 'nothing sent');
}

/**
 * A request aborted in the turn it was made, before the coordinator sent
 * it (requests go out at the end of the turn), sends nothing; the calls
 * made beside it are sent and answered.
 */
export async function abortedInTheSameTurnSendsNothing(create, mode) {
  const { server, c } = start(create, mode);
  await c.ready; // loaded: the calls are issued at once, not after the load
  const ac = new AbortController();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`, { signal: ac.signal }), c.fetch(`${DATA}3/`)];
  ac.abort();
  const [first, aborted, third] = await settleAll(calls);
  same(aborted.reason && aborted.reason.name, 'AbortError', 'rejected like fetch');
  same(first.value && first.value.status, 200, 'the call before it answered');
  same(third.value && third.value.status, 200, 'the call after it answered');
  same(server.seen.map((r) => r.url).join(' '), `${DATA}1/ ${DATA}3/`, 'the aborted one never sent');
}

const bodies = () => {
  const form = new FormData();
  form.append('name', 'ada');
  form.append('file', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'application/octet-stream' }), 'f.bin');
  return {
    json: JSON.stringify({ hello: 'wörld', n: [1, 2, 3] }),
    form,
    blob: new Blob(['blob ', 'body'], { type: 'text/plain' }),
    buffer: new Uint8Array([9, 8, 7, 0, 255]).buffer,
    typed: new Uint16Array([1, 2, 65535]),
    params: new URLSearchParams({ a: '1', b: 'two words' }),
  };
};

export async function bodiesAreReplayedByteIdentical(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const kinds = Object.entries(bodies());
  const calls = kinds.map(([kind, body]) => c.fetch(`${DATA}${kind}/`, { method: 'POST', body }));
  await until(() => c.state().waiting === kinds.length, 'all to wait');
  await server.refreshesArrived(1);
  server.rotate();
  const results = await settleAll(calls);
  check(results.every((r) => r.value && r.value.status === 200), 'all succeed');
  for (const [kind] of kinds) {
    const sends = server.seen.filter((r) => r.url === `${DATA}${kind}/`);
    same(sends.length, 2, `${kind} sent twice`);
    check(sends[0].body.length > 0, `${kind} has a body`);
    same([...sends[1].body], [...sends[0].body], `${kind} replayed byte-identical`);
    same(sends[1].contentType, sends[0].contentType, `${kind} keeps its content type`);
  }
}

export async function streamBodyFailsWithReplayNotPossible(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('streamed'));
      controller.close();
    },
  });
  const [r] = await settleAll([c.fetch(`${DATA}stream/`, { method: 'POST', body: stream, duplex: 'half' })]);
  check(isError(r.reason, 'REPLAY_NOT_POSSIBLE'), 'a ReplayNotPossibleError');
  same(r.reason.code, 'REPLAY_NOT_POSSIBLE', 'code');
  same(new TextDecoder().decode(server.seen[0].body), 'streamed', 'sent once, whole');
  await server.refreshesArrived(1); // the session is still refreshed
  server.rotate();
}

export async function replayThatGets401IsReturnedNotRefreshed(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const call = c.fetch(`${DATA}1/`);
  await server.refreshesArrived(1);
  server.rotate();
  server.expireAccess(); // the new credential is refused too
  const response = await call;
  same(response.status, 401, 'the caller gets the 401');
  same((await response.json()).code, 'token_not_valid', 'with its body');
  same(server.refreshes.length, 1, 'no second refresh');
}

/**
 * Two replays with the new credential: the first is served, the second is
 * refused while the credential is fresh (`lifetimeSecs` says so) or of
 * unknown life. Returns the second call's outcome, bounded.
 */
async function acceptedThenRefused(create, mode, rotation) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
  await server.refreshesArrived(1);
  await until(() => c.state().waiting === 2, 'both 401s to wait');
  server.holdData = true;
  server.rotate(rotation);
  await until(() => server.held.length === 2, 'both replays on the wire');
  server.holdData = false;
  const [first, second] = server.held;
  first.release();
  same((await calls[0]).status, 200, 'the first replay is served: the credential works');
  server.expireAccess(); // and is refused from now on
  second.release();
  return { server, c, second: calls[1] };
}

export async function replayRefusedWithinTheLifetimeTheAnswerToldIsReturned(create, mode) {
  const { server, c, second } = await acceptedThenRefused(create, mode, { lifetimeSecs: 300 });
  const [result] = await settleAll([second], 'the refused replay to settle');
  same(result.status === 'fulfilled' && result.value.status, 401, 'the caller gets the 401');
  same(server.refreshes.length, 1, 'no second refresh: the token was fresh');
  same(c.state().refreshing, false, 'nothing in flight');
}

export async function replayRefusedAfterAcceptanceOfUnknownLifeWaitsForOneMoreRefresh(create, mode) {
  const { server, second } = await acceptedThenRefused(create, mode, undefined);
  // The answer told no lifetime: served once, then refused, it is taken
  // for an expiry, and the replay waits for a new refresh.
  await server.refreshesArrived(2);
  server.rotate();
  const [result] = await settleAll([second], 'the replay to settle');
  same(result.status === 'fulfilled' && result.value.status, 200, 'replayed once more, served');
  same(server.refreshes.length, 2, 'one more refresh');
}

export async function forbiddenIsNotAnExpiry(create, mode) {
  const { server, c } = start(create, mode);
  same((await c.fetch(`${DATA}forbidden/`)).status, 403, 'delivered');
  same(server.refreshes.length, 0, 'no refresh');
}

export async function credentialsOnlyGoToAllowedOrigins(create, mode) {
  const { server, c } = start(create, mode);
  server.expireAccess();
  const foreign = await c.fetch('https://elsewhere.example/api/data/1/');
  same(foreign.status, 401, 'a foreign 401 is returned as it is');
  const seen = server.seen[0];
  same([seen.credentials, seen.authorization], ['same-origin', null], 'no credentials travel');
  same(server.refreshes.length, 0, 'and starts no refresh');

  const own = c.fetch(`${DATA}own/`);
  await server.refreshesArrived(1);
  server.rotate();
  await own;
  const mine = server.seen.filter((r) => r.url === `${DATA}own/`);
  // Same origin: 'same-origin', so a redirect elsewhere carries no cookie.
  if (mode === 'cookie') check(mine.every((r) => r.credentials === 'same-origin'), 'same-origin cookies');
  else same(mine[1].authorization, `Bearer ${server.validAccess}`, 'bearer header');
}

export async function allowedCrossOriginGetsCredentials(create, mode) {
  const { server, c } = start(create, mode, {
    allowedOrigins: [globalThis.location.origin, 'https://api.example'],
  });
  await c.fetch('https://api.example/api/data/1/');
  const seen = server.seen[0];
  if (mode === 'cookie') same(seen.credentials, 'include', 'cookies go');
  else same(seen.authorization, `Bearer ${server.validAccess}`, 'the token goes');
}

export async function excludedUrlsAndOptOutsAreNotRefreshed(create, mode) {
  const { server, c } = start(create, mode, { exclude: ['/api/data/public/'] });
  server.expireAccess();
  same((await c.fetch(`${DATA}public/1/`)).status, 401, 'excluded: 401 returned');
  same((await c.fetch(`${DATA}1/`, { skipAuthRefresh: true })).status, 401, 'opted out: 401 returned');
  same(server.refreshes.length, 0, 'no refresh');
  if (mode === 'bearer') {
    same(server.seen[0].authorization, null, 'excluded URLs get no bearer header');
    same(server.seen[1].authorization, 'Bearer a1', 'opted-out requests keep it');
  }
}

export async function refreshRequestIsKeepaliveAndShapedForSimpleJwt(create, mode) {
  document.cookie = 'csrftoken=csrf-123; path=/';
  const { server, c } = start(create, mode, { csrf: { header: 'X-CSRFToken', cookie: 'csrftoken' } });
  server.expireAccess();
  const call = c.fetch(`${DATA}1/`);
  const exchange = await server.refreshesArrived(1);
  const r = exchange.request;
  same(r.method, 'POST', 'method');
  same(exchange.keepalive, true, 'keepalive');
  same(r.redirect, 'manual', 'a redirect is not followed');
  if (mode === 'cookie') {
    same(r.url, COOKIE_REFRESH, 'dj-rest-auth refresh URL');
    same(exchange.credentials, 'same-origin', 'the refresh cookie goes (same origin)');
    same(r.headers.get('X-CSRFToken'), 'csrf-123', 'CSRF header');
  } else {
    same(r.url, BEARER_REFRESH, 'SimpleJWT refresh URL');
    same(await r.clone().json(), { refresh: 'r1' }, 'SimpleJWT body');
    same(r.headers.get('Content-Type'), 'application/json', 'JSON');
  }
  server.rotate();
  await call;
  document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
}

export async function lostAnswerWhoseCookieLandedCarriesOn(create) {
  const { server, expired, c } = start(create, 'cookie');
  server.expireAccess();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
  await until(() => c.state().waiting === 2, 'both to wait');
  await server.refreshesArrived(1);
  server.loseAnswer({ cookieLands: true });
  const results = await settleAll(calls);
  check(results.every((r) => r.value && r.value.status === 200), 'all succeed');
  same(server.refreshes.length, 1, 'no refresh with the blacklisted token');
  same(expired.length, 0, 'no session end');
}

export async function lostAnswerAgainstNoGraceServerEndsTheSessionCleanly(create, mode) {
  const { server, expired, c } = start(create, mode);
  server.expireAccess();
  const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
  await until(() => c.state().waiting === 2, 'both to wait');
  await server.refreshesArrived(1);
  server.loseAnswer({ cookieLands: false });
  await server.refreshesArrived(2); // one retry, with the old token
  server.rotate(); // which the server refuses: it was blacklisted
  const results = await settleAll(calls);
  check(results.every((r) => isError(r.reason, 'SESSION_EXPIRED')), 'all SessionExpiredError');
  same(expired.length, 1, 'told once');
  same(server.refreshes.length, 2, 'no retry storm');
}

export async function optionsAreCheckedWhenCreated(create) {
  const cases = [
    [{ mode: 'token' }, 'options.mode'],
    [{ refreshTimeout: -1 }, 'options.refreshTimeout'],
    [{ retry: { limit: 'three' } }, 'options.retry.limit'],
    [{ allowedOrigins: 'https://a.example' }, 'options.allowedOrigins'],
    [{ onSessionExpired: 'redirect' }, 'options.onSessionExpired'],
    [{ mode: 'bearer', tokenStore: {} }, 'options.tokenStore'],
    [7, 'options'],
  ];
  for (const [options, name] of cases) {
    let thrown = null;
    try {
      create(options);
    } catch (error) {
      thrown = error;
    }
    check(thrown instanceof TypeError, `${JSON.stringify(options)} throws a TypeError`);
    check(thrown.message.includes(name), `"${thrown.message}" names ${name}`);
  }
  create(undefined); // all defaults
}

export async function badInputRejectsLikeFetch(create, mode) {
  const { server, c } = start(create, mode);
  const results = await settleAll([
    c.fetch('http://[not a url'),
    c.fetch(`${DATA}1/`, { method: 'GET', body: 'x' }),
    c.fetch(`${DATA}1/`, { method: 'bad method' }),
  ]);
  check(results.every((r) => r.reason instanceof TypeError), 'TypeErrors, as fetch gives');
  same(server.seen.length, 0, 'nothing sent');
}

export async function networkErrorsReachTheCaller(create, mode) {
  const { c } = start(create, mode, {
    fetch: () => Promise.reject(new TypeError('Failed to fetch')),
  });
  const [r] = await settleAll([c.fetch(`${DATA}1/`)]);
  check(r.reason instanceof TypeError && r.reason.message === 'Failed to fetch', 'the same error');
  same(c.state().pending, 0, 'forgotten');
}

export async function throwingAppCallbacksBreakNothing(create, mode) {
  const reported = [];
  const onError = (event) => {
    reported.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener('error', onError);
  try {
    const { server, c } = start(create, mode, {
      onEvent: () => {
        throw new Error('app bug');
      },
    });
    server.expireAccess();
    const call = c.fetch(`${DATA}1/`);
    await server.refreshesArrived(1);
    server.rotate();
    same((await call).status, 200, 'the request still succeeds');
    await until(() => reported.length > 0, 'the app error to be reported');
    check(reported.every((e) => e.message === 'app bug'), 'reported, not swallowed');
  } finally {
    globalThis.removeEventListener('error', onError);
  }
}

export async function bearerTokensComeFromTheStoreAndRotate(create) {
  const stored = [];
  let tokens = null;
  const tokenStore = {
    get: () => tokens,
    set: (t) => {
      tokens = t;
      stored.push(t);
    },
  };
  const { server, expired, c } = start(create, 'bearer', { tokenStore });
  same(tokens, { access: 'a1', refresh: 'r1' }, 'setTokens went to the store');
  server.expireAccess();
  const call = c.fetch(`${DATA}1/`);
  await server.refreshesArrived(1);
  server.rotate();
  await call;
  same(tokens, { access: server.validAccess, refresh: server.validRefresh }, 'rotated tokens stored');
  server.expireAccess();
  const next = c.fetch(`${DATA}2/`);
  await server.refreshesArrived(2);
  server.refuse(401);
  await settleAll([next]);
  same(tokens, null, 'cleared when the session ends');
  same(expired.length, 1, 'told once');
}

export async function cookieModeRejectsSetTokens(create) {
  const c = create({ fetch: () => Promise.reject(new Error('unused')) });
  let thrown = null;
  try {
    c.setTokens({ access: 'a', refresh: 'r' });
  } catch (error) {
    thrown = error;
  }
  check(thrown instanceof TypeError && thrown.message.includes('sessionStarted'), 'explains what to do');
}

export async function reloadedPageWaitsForTheRefreshItsPredecessorSent(create) {
  const key = `refresh-coordinator:refresh-sent:${COOKIE_REFRESH}`;
  const { server, options } = setup('cookie');
  // The previous load of this page sent a refresh and was reloaded away.
  sessionStorage.setItem(key, String(Date.now()));
  try {
    const c = create(options);
    server.expireAccess();
    const calls = [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)];
    await until(() => server.seen.length >= 3, 'a probe after the 401s');
    same(server.refreshes.length, 0, 'no refresh with the token it rotated');
    // Its answer lands: the jar gets the rotated cookie.
    server.login();
    const results = await settleAll(calls);
    check(results.every((r) => r.value && r.value.status === 200), 'all succeed');
    same(server.refreshes.length, 0, 'still none');

    // A refresh of this page is noted while out, and the note cleared after.
    server.expireAccess();
    const next = c.fetch(`${DATA}3/`);
    await server.refreshesArrived(1);
    check(Number(sessionStorage.getItem(key)) > 0, 'noted while in flight');
    server.rotate();
    await next;
    same(sessionStorage.getItem(key), null, 'cleared once it ended');
  } finally {
    sessionStorage.removeItem(key);
  }
}

/** Two-tab scenarios run so far in this page. */
let pairs = 0;

/**
 * Two coordinators in this page, sharing the real `navigator.locks`,
 * `BroadcastChannel` and `localStorage` as two tabs of one origin do, and
 * one server (one cookie jar). Bearer mode shares a token store, as
 * `localStorageTokenStore` does across tabs.
 */
function twoTabs(create, mode, extra = {}) {
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith('refresh-coordinator:')) localStorage.removeItem(key);
  }
  // The coordinators of earlier scenarios live on in this page: a refresh
  // URL of its own gives this pair a lock, channel and stored state that no
  // other scenario's coordinator shares.
  pairs += 1;
  const refreshUrl = `${mode === 'bearer' ? BEARER_REFRESH : COOKIE_REFRESH}?pair=${pairs}`;
  const s = setup(mode, { crossTab: true, refreshUrl, ...extra });
  const stores = laggingStores(2);
  const tabs = [0, 1].map((i) => {
    const events = [];
    const expired = [];
    const options = {
      ...s.options,
      onEvent: (event) => events.push(event),
      onSessionExpired: (error) => expired.push(error),
      ...(mode === 'bearer' ? { tokenStore: stores.views[i] } : {}),
    };
    return { c: create(options), events, expired };
  });
  return { server: s.server, tabs, stores };
}

/**
 * One shared token store seen through `count` views, one per tab. While
 * `lag` is on, a view shows another view's write one read late, as a
 * store over localStorage can in a browser that keeps a copy per process.
 */
function laggingStores(count) {
  const views = [];
  const state = Array.from({ length: count }, () => ({ shown: null, next: undefined }));
  const stores = { lag: false, views };
  for (let i = 0; i < count; i++) {
    views.push({
      shared: true,
      scope: 'two-tabs',
      get() {
        const own = state[i];
        const shown = own.shown;
        if (own.next !== undefined) [own.shown, own.next] = [own.next, undefined];
        return shown;
      },
      set(tokens) {
        state.forEach((view, j) => {
          if (j === i || !stores.lag) [view.shown, view.next] = [tokens, undefined];
          else {
            if (view.next !== undefined) view.shown = view.next;
            view.next = tokens;
          }
        });
      },
    });
  }
  return stores;
}

/** Both tabs are loaded; in bearer mode one logs in and the other takes it. */
async function tabsReady({ server, tabs }, mode) {
  await until(() => tabs.every(({ c }) => c.state().status !== 'loading'), 'both tabs to load');
  if (mode === 'bearer') {
    tabs[0].c.setTokens(server.tokens());
    await until(() => count(tabs[1].events, 'adopted') === 1, 'the other tab to take the login');
  }
}

export async function twoTabsHittingOneExpirySendOneRefresh(create, mode) {
  const both = twoTabs(create, mode);
  const { server, tabs } = both;
  await tabsReady(both, mode);
  server.expireAccess();
  const calls = tabs.flatMap(({ c }) => Array.from({ length: 5 }, (_, i) => c.fetch(`${DATA}${i}/`)));
  await server.refreshesArrived(1);
  await until(() => tabs.every(({ c }) => c.state().waiting === 5), 'both tabs to wait');
  same(server.refreshes.length, 1, 'one refresh for both tabs');
  server.rotate();
  const results = await settleAll(calls);
  check(results.every((r) => r.status === 'fulfilled' && r.value.status === 200), 'every request of both tabs succeeds');
  same(server.refreshes.length, 1, 'still one: the other tab adopted it');
  // Whichever tab won the lock, the other adopted its rotation (in bearer
  // mode tab 1 also adopted tab 0's login, before the expiry).
  const adopted = tabs.reduce((n, { events }) => n + count(events, 'adopted'), 0);
  same(adopted, mode === 'bearer' ? 2 : 1, 'the other tab adopted the rotation');
  same(tabs.filter(({ events }) => count(events, 'refresh-start') === 1).length, 1, 'one tab refreshed');
}

/**
 * Bearer mode: the tab that did not refresh hears of the rotation (from
 * the lock, the channel or IndexedDB) before its view of the store shows
 * the new tokens. It waits for them rather than replay with the old ones.
 */
export async function tabWhoseStoreLagsReplaysWithTheRotatedTokens(create) {
  const both = twoTabs(create, 'bearer');
  const { server, tabs, stores } = both;
  await tabsReady(both, 'bearer');
  stores.lag = true;
  server.expireAccess();
  const calls = tabs.flatMap(({ c }) => Array.from({ length: 5 }, (_, i) => c.fetch(`${DATA}${i}/`)));
  await server.refreshesArrived(1);
  await until(() => tabs.every(({ c }) => c.state().waiting === 5), 'both tabs to wait');
  server.rotate();
  const results = await settleAll(calls);
  const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : r.reason.name));
  check(statuses.every((s) => s === 200), `every request of both tabs succeeds: ${statuses}`);
  same(server.refreshes.length, 1, 'one refresh for both tabs');
}

export async function refusalInOneTabEndsEveryTabOnce(create, mode) {
  const both = twoTabs(create, mode);
  const { server, tabs } = both;
  await tabsReady(both, mode);
  server.expireAccess();
  const calls = tabs.flatMap(({ c }) => [c.fetch(`${DATA}1/`), c.fetch(`${DATA}2/`)]);
  await server.refreshesArrived(1);
  await until(() => tabs.every(({ c }) => c.state().waiting === 2), 'both tabs to wait');
  server.refuse(); // the refresh token is dead (logged out elsewhere)
  const results = await settleAll(calls);
  check(results.every((r) => r.status === 'rejected' && isError(r.reason, 'SESSION_EXPIRED')), 'every waiter of both tabs');
  for (const { c, expired } of tabs) {
    same(expired.length, 1, 'onSessionExpired once in each tab');
    same(c.state().session, 'ended', 'ended in each tab');
  }
  same(server.refreshes.length, 1, 'the other tab sent none');
  // A login in the other tab starts both again.
  if (mode === 'bearer') tabs[1].c.setTokens(server.login());
  else {
    server.login();
    tabs[1].c.sessionStarted();
  }
  await until(() => tabs[0].c.state().session === 'active', 'the first tab to hear of the login');
  same((await tabs[0].c.fetch(`${DATA}3/`)).status, 200, 'and it works');
}

// Rule 8, refresh ahead of a known expiry. The answers tell a 2 s life: the
// web layer takes a second off for the servers' whole-second clocks, and
// the core refreshes ahead from two thirds of the remaining second on
// (about 667 ms after the refresh was sent; a tab that adopted it a little
// later counts a little later). The scenarios wait the whole second: by then
// every tab is due. That is a wait on the clock, not on the machine's
// speed: the fake server decides 401s by the test's word, never by time.
const SHORT_LIFE = { lifetimeSecs: 2 };
const DUE_AFTER_MS = 1000;

/**
 * Runs `scenario` with the page reported hidden (`document.visibilityState`
 * shadowed), so no timer refreshes ahead by itself: only a request does.
 */
async function whileHidden(scenario) {
  Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
  try {
    return await scenario();
  } finally {
    delete document.visibilityState;
  }
}

/** The first refresh, answered with a short life; resolves once accepted and due. */
async function rotatedShortLived({ server, c }) {
  server.expireAccess();
  const first = c.fetch(`${DATA}1/`);
  await server.refreshesArrived(1);
  const sent = performance.now();
  server.rotate(SHORT_LIFE);
  same((await first).status, 200, 'the first request is replayed and served');
  await until(() => performance.now() - sent > DUE_AFTER_MS, 'the refresh-ahead margin to begin');
}

const aheadStarts = (events) => events.filter((e) => e.type === 'refresh-start' && e.ahead).length;

export async function requestNearExpiryWaitsForOneRefreshAheadAndIsSentOnce(create, mode) {
  await whileHidden(async () => {
    const s = start(create, mode);
    await rotatedShortLived(s);
    const { server, c, events } = s;
    same(server.refreshes.length, 1, 'hidden: no timer refreshed ahead');
    const calls = [c.fetch(`${DATA}2/`), c.fetch(`${DATA}3/`)];
    await server.refreshesArrived(2);
    same(aheadStarts(events), 1, 'one refresh ahead for both');
    same(c.state().waiting, 2, 'both wait for it');
    same(server.seen.filter((r) => r.url !== `${DATA}1/`).length, 0, 'neither went out with the lapsing credential');
    server.rotate({ lifetimeSecs: 300 });
    const results = await settleAll(calls);
    check(results.every((r) => r.status === 'fulfilled' && r.value.status === 200), 'both succeed');
    for (const url of [`${DATA}2/`, `${DATA}3/`]) {
      same(server.seen.filter((r) => r.url === url).length, 1, `${url} was sent once`);
    }
  });
}

export async function failedRefreshAheadKeepsTheSessionAndSendsWithTheWorkingCredential(create, mode) {
  await whileHidden(async () => {
    const s = start(create, mode);
    await rotatedShortLived(s);
    const { server, c, events, expired } = s;
    const call = c.fetch(`${DATA}2/`);
    await server.refreshesArrived(2);
    server.refuse(503);
    const [result] = await settleAll([call]);
    same(result.status === 'fulfilled' && result.value.status, 200, 'sent with the credential that still works');
    const failed = events.find((e) => e.type === 'refresh-end' && e.ahead);
    same(failed && [failed.ok, failed.reason, failed.status, failed.retrying], [false, 'status', 503, false], 'told, no retry');
    same(c.state().session, 'active', 'the session stays');
    same(expired.length, 0, 'nobody was told it ended');
    same((await c.fetch(`${DATA}3/`)).status, 200, 'the next request goes too');
    same(server.refreshes.length, 2, 'without asking again');
  });
}

export async function visiblePageRefreshesAheadOnItsTimer(create, mode) {
  const s = start(create, mode);
  const { server, c, events } = s;
  if (document.visibilityState !== 'visible') throw new Error('the test page is not visible');
  await rotatedShortLived(s);
  await until(() => server.refreshes.length === 2, 'the timer to refresh ahead');
  same(aheadStarts(events), 1, 'ahead, with no request waiting');
  same(c.state().waiting, 0, 'nobody waits for it');
  server.rotate({ lifetimeSecs: 300 });
  await until(() => c.state().refreshing === false, 'the refresh to end');
  same((await c.fetch(`${DATA}2/`)).status, 200, 'the next request goes with the new credential');
  same(server.seen.filter((r) => r.url === `${DATA}2/`).length, 1, 'sent once');
}

export async function twoTabsShareTheExpiryAndRefreshAheadOnce(create, mode) {
  await whileHidden(async () => {
    const both = twoTabs(create, mode);
    const { server, tabs } = both;
    await tabsReady(both, mode);
    await rotatedShortLived({ server, c: tabs[0].c });
    await until(() => count(tabs[1].events, 'adopted') === (mode === 'bearer' ? 2 : 1), 'the other tab to adopt it');
    const calls = tabs.map(({ c }, t) => c.fetch(`${DATA}${t + 2}/`));
    await server.refreshesArrived(2);
    await until(() => tabs.every(({ c }) => c.state().waiting === 1), 'both tabs to wait for the refresh ahead');
    server.rotate({ lifetimeSecs: 300 });
    const results = await settleAll(calls);
    check(results.every((r) => r.status === 'fulfilled' && r.value.status === 200), 'both tabs succeed');
    same(server.refreshes.length, 2, 'one refresh ahead in the browser: the expiry travelled with the generation');
    same(tabs.reduce((n, { events }) => n + aheadStarts(events), 0), 1, 'sent by one tab');
  });
}
