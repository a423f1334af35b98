// The web layer: binds the Rust core (`Core`, compiled to WebAssembly) to
// fetch, Request and Response, abort signals and timers.
//
// The core decides everything: whether a request goes out or waits, when
// the one refresh starts, who is replayed, who fails and how. This side only
// turns JS events into core calls (`issue`, `answer`, `refreshEnded`,
// `tick`, `abort`) and carries out the actions the core hands back, in
// order. No decision is made here that the core could make; what is here is
// what the core cannot touch: JS objects.
//
// Every entry from outside (a call, an answer, a timer, an abort) runs as
// one "turn" behind a safety net: if anything throws (a Rust panic traps the
// wasm call), every pending call is rejected with one CoordinatorFaultError
// instead of being left pending, and every later call is rejected with it.

import {
  CoordinatorFaultError,
  RefreshUnavailableError,
  ReplayNotPossibleError,
  SessionExpiredError,
  report,
} from './errors.js';
import { readOptions } from './options.js';

// Codes shared with src/web/core_binding.rs.
const ACTION = {
  NONE: 0,
  SEND: 1,
  PROBE: 2,
  DELIVER: 3,
  FAIL: 4,
  START_REFRESH: 5,
  REFRESH_STARTED: 6,
  REFRESH_SUCCEEDED: 7,
  REFRESH_FAILED: 8,
  REPLAYED: 9,
  SESSION_EXPIRED: 10,
};
const FAILURE = { SESSION_EXPIRED: 1, REPLAY_NOT_POSSIBLE: 2, TIMEOUT: 3, NETWORK: 4, STATUS: 5 };
const ANSWER = { UNAUTHORIZED: 1, OTHER: 2, FAILED: 3 };
const OUTCOME = { ROTATED: 1, REFUSED: 2, UNAVAILABLE: 3, LOST: 4, STATUS: 5 };
const ROUTE = { COORDINATED: 1, OPTED_OUT: 2, EXCLUDED: 3, FOREIGN: 4 };
const REASONS = { 3: 'timeout', 4: 'network', 5: 'status', 6: 'retry-after-too-long' };

// A refresh in flight is noted in sessionStorage (per tab, kept across
// reloads): if a reload cuts the page off, the next load knows the rotated
// cookie may still be landing and waits for it instead of refreshing with
// the token that refresh rotated. Storage can be missing or refuse access
// (sandboxed frames); then there is simply no note.
const NOTE = 'refresh-coordinator:refresh-sent:';

function note(url, at) {
  try {
    if (at) sessionStorage.setItem(NOTE + url, String(at));
    else sessionStorage.removeItem(NOTE + url);
  } catch {
    // No storage, no note.
  }
}

function noted(url) {
  try {
    return Number(sessionStorage.getItem(NOTE + url)) || 0;
  } catch {
    return 0;
  }
}

const now = () => performance.now();

/** Cancels the body of a response nobody will read, freeing its connection. */
function discard(response) {
  try {
    if (response && response.body) response.body.cancel().catch(() => {});
  } catch {
    // Already locked or read: nothing to free.
  }
}

/** `Retry-After` in ms, as delta-seconds or an HTTP date; -1 when absent or bad. */
function retryAfter(response) {
  const headers = response.headers;
  const value = headers && typeof headers.get === 'function' ? headers.get('Retry-After') : null;
  if (value === null) return -1;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? -1 : Math.max(0, at - Date.now());
}

/** `{access, refresh}` with a non-empty access token, or null. */
function tokensFrom(value) {
  if (!value || typeof value.access !== 'string' || value.access === '') return null;
  const refresh = typeof value.refresh === 'string' && value.refresh !== '' ? value.refresh : null;
  return { access: value.access, refresh };
}

/** The claims of a JWT (its payload, decoded, not verified), or null. */
function jwtClaims(token) {
  const payload = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!payload) return null;
  try {
    // atob is forgiving about the missing padding of base64url.
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    return claims !== null && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/**
 * How long (ms) the credential a refresh answer brought lives at least,
 * counted from when the refresh was sent; -1 when the answer does not say.
 * From the access JWT's `exp − iat`, else from dj-rest-auth's
 * `access_expiration` against the answer's `Date`: both pairs are the
 * server's clock, so a browser clock that is off changes nothing. Both are
 * whole seconds at best (JWT claims, HTTP dates), so a second comes off.
 */
function lifetimeOf(body, date) {
  const claims = body !== null && typeof body === 'object' ? jwtClaims(body.access) : null;
  let seconds = NaN;
  if (claims && typeof claims.exp === 'number' && typeof claims.iat === 'number') {
    seconds = claims.exp - claims.iat;
  } else if (body && typeof body.access_expiration === 'string' && date) {
    seconds = (Date.parse(body.access_expiration) - Date.parse(date)) / 1000;
  }
  return Number.isFinite(seconds) && seconds >= 0 ? Math.max(0, seconds - 1) * 1000 : -1;
}

/** A cookie's value from `document.cookie`; null without a document or the cookie. */
function readCookie(name) {
  const cookies = globalThis.document && globalThis.document.cookie;
  if (typeof cookies !== 'string') return null;
  for (const pair of cookies.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return null;
}

/** The caller's callback; its exception is reported, never propagated. */
function callApp(callback, argument) {
  try {
    callback(argument);
  } catch (error) {
    report(error);
  }
}

/**
 * One coordinator: one credential, one refresh flight, any number of
 * requests. `createAuthFetch` wraps it in a function with fetch's signature.
 */
export class Coordinator {
  #options;
  /** `() => makeCore` or a promise of it; `makeCore(...settings)` builds a Core. */
  #loadCore;
  #loading = null;
  #core = null;
  /** Coordinated requests by id: {template, replayable, resolve, reject, last, onAbort}. */
  #pending = new Map();
  #timer = undefined;
  #timerAt = -1;
  /** Bearer mode: the refresh token each refresh on the wire was sent with, by number. */
  #sentRefresh = new Map();
  /** Bearer mode: the refresh token of the last refusal, the one proven dead. */
  #refused = null;
  #memoryTokens = null;
  /** The credential changed (a login) before the core was built. */
  #changedBeforeLoad = false;
  #fault = null;

  /**
   * @param options `createAuthFetch`'s options.
   * @param loadCore returns (a promise of) `makeCore`, called with Core's
   *   constructor arguments.
   * @param eager load the core now rather than on first use.
   * @throws {TypeError} for an invalid option.
   */
  constructor(options, loadCore, { eager = true } = {}) {
    this.#options = readOptions(options);
    this.#loadCore = loadCore;
    if (eager) this.#load().catch(() => {});
  }

  /** Resolves once the core is built; rejects if the wasm cannot load. */
  get ready() {
    return this.#load().then(() => undefined);
  }

  #load() {
    this.#loading ??= Promise.resolve()
      .then(() => this.#loadCore())
      .then((makeCore) => this.#turn(() => this.#build(makeCore)));
    return this.#loading;
  }

  #build(makeCore) {
    const o = this.#options;
    const seed = Math.random() * 2 ** 53;
    const core = makeCore(
      o.retry.limit,
      o.retry.baseDelay,
      o.retry.maxDelay,
      o.retry.maxRetryAfter,
      o.refreshTimeout,
      o.waitTimeout,
      o.mode === 'cookie',
      seed,
    );
    for (const origin of o.allowedOrigins) core.allow(origin);
    for (const prefix of o.exclude) core.exclude(prefix);
    if (o.mode === 'cookie') {
      // A refresh a previous load of this page sent may still land.
      const age = Date.now() - noted(o.refreshUrl);
      if (age >= 0 && age < o.refreshTimeout) core.refreshMayBeLanding(now() + (o.refreshTimeout - age));
    }
    if (this.#changedBeforeLoad) core.credentialChanged();
    this.#core = core;
  }

  /** `fetch(input, init)` with the coordinator's rules; `init.skipAuthRefresh: true` opts out. */
  fetch(input, init) {
    if (this.#fault) return Promise.reject(this.#fault);
    let template;
    try {
      // Built once, as fetch would: a bad URL, method or body is fetch's TypeError.
      template = new Request(input, init);
    } catch (error) {
      return Promise.reject(error);
    }
    const optedOut = init != null && init.skipAuthRefresh === true;
    const body = init != null ? init.body : undefined;
    const start = () => this.#start(template, optedOut, body);
    return this.#core ? start() : this.#load().then(start);
  }

  #start(template, optedOut, body) {
    let route = ROUTE.FOREIGN;
    this.#turn(() => {
      route = this.#core.route(template.url, optedOut);
    });
    if (this.#fault) return Promise.reject(this.#fault);
    if (route === ROUTE.OPTED_OUT) return this.#bypass(template, 'credential');
    if (route === ROUTE.EXCLUDED) return this.#bypass(template, 'cookies');
    if (route === ROUTE.FOREIGN) return this.#bypass(template, 'nothing');
    const signal = template.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    // A stream can be read once: sent once, never replayed.
    const replayable = !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream);
    return new Promise((resolve, reject) => {
      this.#turn(() => {
        const id = this.#core.issue(now(), replayable);
        const pending = { template, replayable, resolve, reject, last: null, onAbort: null };
        pending.onAbort = () => this.#turn(() => this.#aborted(id));
        signal.addEventListener('abort', pending.onAbort, { once: true });
        this.#pending.set(id, pending);
        this.#drive();
      }, reject);
    });
  }

  /** Requests the core does not coordinate go straight out. */
  #bypass(template, attach) {
    let request;
    try {
      request = this.#prepare(template, attach, false);
    } catch (error) {
      return Promise.reject(error);
    }
    const sent = this.#send(request);
    const o = this.#options;
    if (o.mode === 'cookie' && attach === 'cookies' && template.url.split(/[?#]/)[0] === o.loginUrl) {
      // A successful login set fresh cookies: a new session.
      sent.then(
        (response) => response && response.ok && this.#turn(() => this.#credentialChanged()),
        () => {},
      );
    }
    return sent;
  }

  /** Calls the configured fetch; a synchronous throw becomes a rejection. */
  #send(request) {
    try {
      return Promise.resolve(this.#options.fetch.call(undefined, request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The request for one send of `template`. Each send goes out as a clone
   * (`Request.clone()` tees the body, so the template keeps it for a replay,
   * whatever it was); a stream is sent from the template itself, once.
   */
  #prepare(template, attach, keepTemplate) {
    const source = keepTemplate ? template.clone() : template;
    const o = this.#options;
    if (attach === 'nothing') return source;
    if (o.mode === 'cookie') return new Request(source, { credentials: 'include' });
    if (attach === 'cookies') return source;
    const tokens = this.#tokens();
    // No token (not logged in, or cleared): the request goes without one,
    // its 401 starts a refresh, which without a refresh token ends the
    // session cleanly.
    if (!tokens) return source;
    const headers = new Headers(source.headers);
    headers.set('Authorization', `${o.authScheme} ${tokens.access}`);
    return new Request(source, { headers });
  }

  /** One turn: `f`, behind the safety net. */
  #turn(f, rejectCaller) {
    try {
      return f();
    } catch (error) {
      this.#failAll(error);
      if (rejectCaller) rejectCaller(this.#fault);
      return undefined;
    }
  }

  #failAll(cause) {
    if (!this.#fault) {
      this.#fault = new CoordinatorFaultError(cause);
      report(cause);
    }
    clearTimeout(this.#timer);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      p.template.signal.removeEventListener('abort', p.onAbort);
      p.reject(this.#fault);
    }
  }

  /** Carries out the core's actions until it has none, then re-arms the timer. */
  #drive() {
    const core = this.#core;
    for (let kind = core.nextAction(); kind !== ACTION.NONE; kind = core.nextAction()) {
      const id = core.actionId;
      const detail = core.actionDetail;
      switch (kind) {
        case ACTION.SEND:
        case ACTION.PROBE:
          this.#sendPending(id);
          break;
        case ACTION.DELIVER:
          this.#settle(id, 0);
          break;
        case ACTION.FAIL:
          this.#settle(id, detail);
          break;
        case ACTION.START_REFRESH:
          this.#startRefresh(id);
          break;
        default:
          this.#notify(kind, id, detail);
      }
    }
    this.#armTimer();
  }

  #sendPending(id) {
    const p = this.#pending.get(id);
    if (!p) return;
    // The 401 being replayed: nobody reads it.
    if (p.last && p.last.ok) discard(p.last.value);
    p.last = null;
    let request;
    try {
      request = this.#prepare(p.template, 'credential', p.replayable);
    } catch (error) {
      // The platform refused to copy the request: the caller gets why.
      this.#answered(id, false, error);
      return;
    }
    this.#watch(this.#send(request), (ok, value) => this.#answered(id, ok, value));
  }

  /** Calls `k(ok, value)` in a turn of its own once `promise` settles. */
  #watch(promise, k) {
    promise.then(
      (value) => this.#turn(() => k(true, value)),
      (error) => this.#turn(() => k(false, error)),
    );
  }

  #answered(id, ok, value) {
    const p = this.#pending.get(id);
    if (!p) return; // aborted meanwhile; its caller was settled
    p.last = { ok, value };
    let answer = ANSWER.FAILED;
    if (ok) answer = value && value.status === 401 ? ANSWER.UNAUTHORIZED : ANSWER.OTHER;
    this.#core.answer(now(), id, answer);
    this.#drive();
  }

  #aborted(id) {
    if (!this.#core.abort(now(), id)) return;
    const p = this.#pending.get(id);
    if (p) {
      this.#pending.delete(id);
      p.reject(p.template.signal.reason);
    }
    this.#drive();
  }

  /** Settles a request the core let go of: with its last answer, or failed. */
  #settle(id, failure) {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.template.signal.removeEventListener('abort', p.onAbort);
    if (failure) p.reject(this.#error(failure, p.template));
    else if (p.last && p.last.ok) p.resolve(p.last.value);
    else p.reject(p.last ? p.last.value : new Error('refresh-coordinator: no answer to deliver'));
  }

  #error(failure, request) {
    switch (failure & 7) {
      case FAILURE.SESSION_EXPIRED:
        return new SessionExpiredError(request);
      case FAILURE.REPLAY_NOT_POSSIBLE:
        return new ReplayNotPossibleError(request);
      default:
        return new RefreshUnavailableError(request, REASONS[failure & 7], failure >> 4 || undefined);
    }
  }

  /**
   * Sends refresh `number`. With `keepalive`, so a reload or navigation
   * does not lose the rotated cookie, and never aborted: it may already
   * have rotated the token.
   */
  #startRefresh(number) {
    const o = this.#options;
    const init = { method: o.refreshMethod, keepalive: true, headers: {} };
    if (o.mode === 'cookie') {
      // dj-rest-auth reads the refresh token from its cookie.
      init.credentials = 'include';
      const token = o.csrf && readCookie(o.csrf.cookie);
      if (token) init.headers[o.csrf.header] = token;
    } else {
      const tokens = this.#tokens();
      if (!tokens || !tokens.refresh) {
        // Nothing to refresh with: the session is over.
        this.#core.refreshEnded(now(), number, OUTCOME.REFUSED, 0, -1, -1);
        return;
      }
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify({ refresh: tokens.refresh });
      this.#sentRefresh.set(number, tokens.refresh);
    }
    let request;
    try {
      request = new Request(o.refreshUrl, init);
    } catch {
      // Only a broken refresh URL fails here; no answer can come from it.
      this.#core.refreshEnded(now(), number, OUTCOME.LOST, 0, -1, -1);
      return;
    }
    if (o.mode === 'cookie') note(o.refreshUrl, Date.now());
    this.#watch(this.#send(request), (ok, response) => this.#refreshAnswered(number, ok, response));
  }

  #refreshAnswered(number, ok, response) {
    // A refresh the core forgot (a login came since): nothing to do.
    if (!this.#core.refreshCounts(number)) return this.#forget(number);
    if (!ok || !response || typeof response.status !== 'number') {
      this.#refreshEnded(number, OUTCOME.LOST, 0, -1);
    } else if (response.status >= 200 && response.status < 300) {
      // Read the whole body: in cookie mode a body cut off mid-way means
      // the rotated cookie may or may not have landed.
      const status = response.status;
      const date = response.headers && typeof response.headers.get === 'function' ? response.headers.get('Date') : null;
      let text;
      try {
        text = response.text();
      } catch (error) {
        text = Promise.reject(error);
      }
      this.#watch(text, (read, body) => this.#refreshBody(number, status, date, read ? body : null));
    } else {
      discard(response);
      // The core tells refusal from a transient failure by the status.
      this.#refreshEnded(number, OUTCOME.STATUS, response.status, retryAfter(response));
    }
  }

  #refreshBody(number, status, date, text) {
    if (!this.#core.refreshCounts(number)) return this.#forget(number);
    if (text === null) return this.#refreshEnded(number, OUTCOME.LOST, 0, -1);
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: no token in it, no lifetime either.
    }
    if (this.#options.mode === 'bearer') {
      const access = tokensFrom(body);
      // A success without a token is a broken server, not a refusal: retry,
      // and let the server's next answer decide.
      if (!access) return this.#refreshEnded(number, OUTCOME.UNAVAILABLE, status, -1);
      // Without rotation SimpleJWT answers with an access token alone; the
      // refresh token stays the same.
      const previous = this.#tokens();
      this.#storeTokens({ access: access.access, refresh: access.refresh ?? (previous && previous.refresh) });
    }
    this.#refreshEnded(number, OUTCOME.ROTATED, status, -1, lifetimeOf(body, date));
  }

  #refreshEnded(number, outcome, status, retryAfterMs, lifetimeMs = -1) {
    const sent = this.#sentRefresh.get(number);
    this.#forget(number);
    if (this.#options.mode === 'cookie') note(this.#options.refreshUrl, 0);
    if (outcome !== OUTCOME.ROTATED && sent !== undefined) {
      const stored = this.#tokens();
      if (stored && stored.refresh && stored.refresh !== sent) {
        // The store holds another refresh token than this refresh sent:
        // another tab (or the app) rotated or logged in meanwhile, and this
        // failure is a lost race with it. Adopt what is stored; clear nothing.
        this.#core.credentialChanged();
      } else {
        this.#refused = sent;
      }
    }
    this.#core.refreshEnded(now(), number, outcome, status, retryAfterMs, lifetimeMs);
    this.#drive();
  }

  #notify(kind, id, detail) {
    const o = this.#options;
    let event;
    switch (kind) {
      case ACTION.REFRESH_STARTED:
        event = { type: 'refresh-start', attempt: detail };
        break;
      case ACTION.REFRESH_SUCCEEDED:
        event = { type: 'refresh-end', ok: true, generation: id };
        break;
      case ACTION.REFRESH_FAILED:
        event = { type: 'refresh-end', ok: false, reason: REASONS[detail & 7], retrying: (detail & 8) !== 0 };
        if (detail >> 4) event.status = detail >> 4;
        break;
      case ACTION.REPLAYED: {
        const p = this.#pending.get(id);
        event = { type: 'replay', method: p && p.template.method, url: p && p.template.url };
        break;
      }
      case ACTION.SESSION_EXPIRED: {
        const remote = detail === 1;
        // Only a credential proven dead is destroyed: the store is cleared
        // if it still holds the refresh token this tab saw refused.
        if (o.mode === 'bearer' && !remote) {
          const stored = this.#tokens();
          if (stored && stored.refresh === this.#refused) this.#storeTokens(null);
        }
        if (!remote && o.onSessionExpired) callApp(o.onSessionExpired, new SessionExpiredError());
        event = { type: 'session-expired', remote };
        break;
      }
      default:
        return;
    }
    if (o.onEvent) callApp(o.onEvent, event);
  }

  /** Keeps one timer armed for the core's next deadline. */
  #armTimer() {
    const at = this.#core.nextTimeout();
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at < 0) return;
    this.#timer = setTimeout(
      () =>
        this.#turn(() => {
          this.#timerAt = -1;
          this.#core.tick(now());
          this.#drive();
        }),
      Math.max(0, at - now()),
    );
  }

  #forget(number) {
    this.#sentRefresh.delete(number);
  }

  #credentialChanged() {
    if (!this.#core) {
      this.#changedBeforeLoad = true;
      return;
    }
    this.#core.credentialChanged();
    this.#drive();
  }

  #tokens() {
    const store = this.#options.tokenStore;
    if (!store) return this.#memoryTokens;
    try {
      return tokensFrom(store.get());
    } catch (error) {
      // A store that throws counts as "no tokens": a 401 and a clean
      // session end rather than a stuck request.
      report(error);
      return null;
    }
  }

  #storeTokens(tokens) {
    const store = this.#options.tokenStore;
    if (!store) {
      this.#memoryTokens = tokens;
      return;
    }
    try {
      store.set(tokens);
    } catch (error) {
      report(error);
    }
  }

  /**
   * Bearer mode: stores the tokens of a login and starts a new session.
   * @throws {TypeError} in cookie mode, or without an `access` string.
   */
  setTokens(tokens) {
    if (this.#options.mode !== 'bearer') {
      throw new TypeError(
        "refresh-coordinator: options.mode is 'cookie': the browser holds the tokens; call sessionStarted() after login",
      );
    }
    const valid = tokensFrom(tokens);
    if (!valid) throw new TypeError('refresh-coordinator: setTokens(tokens) needs {access, refresh}');
    this.#storeTokens(valid);
    this.#turn(() => this.#credentialChanged());
  }

  /** Bearer mode: forgets the tokens (after logout). Nothing in cookie mode. */
  clearTokens() {
    if (this.#options.mode === 'bearer') this.#storeTokens(null);
  }

  /** The app logged in again: a new credential, a new session. */
  sessionStarted() {
    this.#turn(() => this.#credentialChanged());
  }

  /** `{generation, session, refreshing, waiting, pending}`, or `{loading: true}`. */
  state() {
    const core = this.#core;
    if (!core || this.#fault) return { loading: !core, faulted: this.#fault !== null };
    return {
      generation: core.generation,
      session: core.ended ? 'ended' : 'active',
      refreshing: core.refreshing,
      waiting: core.waiting,
      pending: this.#pending.size,
    };
  }
}
