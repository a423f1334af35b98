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
  LoggedOutError,
  LogoutFailedError,
  RefreshUnavailableError,
  ReplayNotPossibleError,
  SessionExpiredError,
  isRefreshRefusedError,
  report,
} from './errors.js';
import { credentialBody, grantError, headerSafe, lifetimeOf, readRotation, rotatedRefresh, tokensFrom } from './dialects.js';
import { readOptions } from './options.js';
import { CATCH_UP_POLL, SESSION, STORE_BOUND, SharedFlight, crossTabUnavailable, sharedName } from './tabs.js';

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
  LOGGED_OUT: 11,
  ACQUIRE_LOCK: 12,
  CANCEL_LOCK: 13,
  RELEASE_LOCK: 14,
  PERSIST: 15,
  ANNOUNCE: 16,
  ADOPTED: 17,
  SESSION_KEPT: 18,
};
const FAILURE = { SESSION_EXPIRED: 1, REPLAY_NOT_POSSIBLE: 2, TIMEOUT: 3, NETWORK: 4, STATUS: 5, LOGGED_OUT: 8 };
const ANSWER = { UNAUTHORIZED: 1, OTHER: 2, FAILED: 3 };
const OUTCOME = {
  ROTATED: 1,
  REFUSED: 2,
  UNAVAILABLE: 3,
  LOST: 4,
  STATUS: 5,
  REDIRECTED: 6,
  INVALID_GRANT: 7,
  INVALID_CLIENT: 8,
  TEMPORARILY_UNAVAILABLE: 9,
  OTHER_GRANT_ERROR: 10,
};
/** OAuth 2.0 error codes the core tells apart; any other is OTHER_GRANT_ERROR. */
const GRANT_ERRORS = {
  invalid_grant: OUTCOME.INVALID_GRANT,
  invalid_client: OUTCOME.INVALID_CLIENT,
  temporarily_unavailable: OUTCOME.TEMPORARILY_UNAVAILABLE,
};
const ROUTE = { COORDINATED: 1, OPTED_OUT: 2, EXCLUDED: 3, FOREIGN: 4 };
const REASONS = { 3: 'timeout', 4: 'network', 5: 'status', 6: 'retry-after-too-long', 7: 'redirect' };

/** What `getSnapshot()` says before the core is built. */
const LOADING = Object.freeze({ status: 'loading', generation: 0, refreshing: false, faulted: false });

// A refresh in flight is noted in storage (kept across reloads): if a
// reload cuts the page off, the next load knows the rotated cookie may still
// be landing and waits for it instead of refreshing with the token that
// refresh rotated. Where the tabs share one flight the note is in
// localStorage, for every tab: a tab granted the lock after the holder was
// closed, reloaded or frozen mid-refresh waits for that refresh the same
// way. Otherwise it is this tab's (sessionStorage). Storage can be missing
// or refuse access (sandboxed frames); then there is simply no note.
const NOTE = 'refresh-coordinator:refresh-sent:';

function note(shared, url, at) {
  try {
    const storage = shared ? localStorage : sessionStorage;
    if (at) storage.setItem(NOTE + url, String(at));
    else storage.removeItem(NOTE + url);
  } catch {
    // No storage, no note.
  }
}

function noted(shared, url) {
  try {
    return Number((shared ? localStorage : sessionStorage).getItem(NOTE + url)) || 0;
  } catch {
    return 0;
  }
}

const now = () => performance.now();

/**
 * Where this page's `now()` starts on the clock every tab of the browser
 * shares (ms since the epoch): an expiry stored for the other tabs is
 * `timeOrigin + now()`. Not `Date.now()`, which a page can move.
 */
const TIME_ORIGIN = typeof performance.timeOrigin === 'number' ? performance.timeOrigin : Date.now() - performance.now();

/** An instant of `now()` on the clock the tabs share; null for none (negative). */
const wallTime = (at) => (at >= 0 ? TIME_ORIGIN + at : null);

/**
 * The page's document; null in a worker, and on a server, where nothing
 * reads DOM globals at all (server-side rendering shares the module).
 */
function pageDocument() {
  if (globalThis.location === undefined) return null;
  const doc = globalThis.document;
  return doc && typeof doc.addEventListener === 'function' ? doc : null;
}

/** Whether the page is visible; a worker has no page, and counts as hidden. */
const pageVisible = (doc) => doc !== null && doc.visibilityState === 'visible';

/**
 * How long (ms) a refusal waits to be confirmed when the credential is
 * shared: the rotation that beat it is usually a network hop behind it.
 */
const REFUSAL_WINDOW = 2000;

/** A response's body as text; a `text()` that throws becomes a rejection. */
function readText(response) {
  try {
    return Promise.resolve(response.text());
  } catch (error) {
    return Promise.reject(error);
  }
}

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

/**
 * A redirect answer: `opaqueredirect` in a browser (`redirect: 'manual'`
 * hides where it points), the 3xx itself where the runtime shows it.
 */
const isRedirect = (response) => response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400);

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
  /** Requests to send at the end of this turn (`#sendPending`, `#flush`). */
  #outbox = [];
  #timer = undefined;
  #timerAt = -1;
  /** The lock, shared state and channel of the tabs, when they share one flight. */
  #tabs = null;
  /** The browser-wide generation when this coordinator was created. */
  #joinedAt = 0;
  /** Another tab changed the shared state before the core was built. */
  #heardWhileLoading = false;
  /** The newest shared generation the core was told of or published. */
  #sharedSeen = 0;
  /** Bearer mode: the access token this tab last sent a request with. */
  #sentAccess = null;
  /** Since when (`now()`) a shared change waits for the store to catch up (see `#storeBehind`). */
  #behindSince = null;
  #catchUpTimer = undefined;
  /** The numbers of the refreshes on the wire (answered or forgotten ones leave). */
  #refreshesOut = new Set();
  /** Bearer mode: the refresh token each refresh on the wire was sent with, by number. */
  #sentRefresh = new Map();
  /** What the app's own `refresh` function threw (or why its result was unusable), since the last refresh started. */
  #refreshCause = null;
  /** Bearer mode: the refresh token of the last refusal, the one proven dead. */
  #refused = null;
  #memoryTokens = null;
  /** The credential changed (a login) before the core was built. */
  #changedBeforeLoad = false;
  #fault = null;
  /** Why the wasm could not load, once it failed to. */
  #loadFailure = null;
  /** `subscribe` listeners, each in an entry of its own. */
  #listeners = new Set();
  /** What `getSnapshot()` returns: the same object until something in it changes. */
  #snapshot = LOADING;
  /** Called when the refresh on the wire ends (logout waits for it). */
  #afterRefresh = [];
  /** The logout in progress, shared by overlapping `logout()` calls. */
  #loggingOut = null;
  #warned = false;

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
    // The other tabs are heard from now on, not only once the core is
    // built: a logout or a rotation in another tab while this one loads
    // must reach it too.
    if (crossTabUnavailable(this.#options) === null) {
      this.#tabs = new SharedFlight(sharedName(this.#options), () => this.#turn(() => this.#sharedChanged()));
      this.#joinedAt = this.#tabs.read().generation;
    }
    if (eager) this.#load().catch(() => {});
  }

  /** Resolves once the core is built; rejects if the wasm cannot load. */
  get ready() {
    return this.#load().then(() => undefined);
  }

  #load() {
    this.#loading ??= Promise.resolve()
      // The shared generation at joining may be only in IndexedDB (a
      // worker's rotation, read by a page, or any rotation, read by a
      // worker): the core starts from it (bounded, see tabs.js).
      .then(() => Promise.all([this.#loadCore(), this.#tabs && this.#tabs.joined]))
      .then(([makeCore, joinedAt]) => {
        if (joinedAt > this.#joinedAt) this.#joinedAt = joinedAt;
        return this.#turn(() => this.#build(makeCore));
      })
      .catch((error) => {
        this.#loadFailure = error;
        this.#publish();
        throw error;
      });
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
    core.refreshAheadBy(o.refreshMargin === false ? -1 : o.refreshMargin);
    for (const origin of o.allowedOrigins) core.allow(origin);
    for (const prefix of o.exclude) core.exclude(prefix);
    // A refresh a previous load of this page (or, shared, another tab) sent may still land.
    this.#mayBeLanding(core);
    if (o.crossTab && (o.mode === 'cookie' || (o.tokenStore && o.tokenStore.shared === true))) {
      // Another tab (one without the lock, or another client) may have
      // rotated a moment before a refusal: look for it this long first.
      core.confirmRefusalsFor(REFUSAL_WINDOW);
    }
    const unavailable = crossTabUnavailable(o);
    const doc = pageDocument();
    core.setVisible(pageVisible(doc));
    if (doc) {
      // Only a visible page refreshes ahead on a timer.
      doc.addEventListener('visibilitychange', () =>
        this.#turn(() => {
          if (this.#fault) return;
          this.#core.setVisible(pageVisible(doc));
          this.#drive();
        }),
      );
    }
    if (this.#tabs) {
      core.shareAcrossTabs(this.#joinedAt);
      this.#sharedSeen = this.#joinedAt;
      // What another tab changed while this one loaded counts now; the
      // stored expiry of the credential this page joined with, too.
      const shared = this.#tabs.read();
      if (this.#heardWhileLoading) {
        this.#sharedSeen = Math.max(this.#sharedSeen, shared.generation);
        core.sharedState(shared.generation, shared.session);
      }
      this.#sharedExpiry(core, shared);
    } else if (unavailable === 'no-web-locks' && o.onEvent) {
      // Said once: this tab refreshes on its own (rule 5's confirmation
      // still keeps it from logging out after losing a race).
      callApp(o.onEvent, { type: 'cross-tab-unavailable', reason: unavailable });
    }
    if (this.#changedBeforeLoad) core.credentialChanged();
    this.#core = core;
    // A login made while the core loaded has actions to carry out (telling
    // the other tabs, in the first place).
    this.#drive();
    this.#publish();
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
    this.#warnOnce();
    const optedOut = init != null && init.skipAuthRefresh === true;
    const body = init != null ? init.body : undefined;
    // The caller's own `credentials`: given in `init`, or on a Request input
    // as anything but the default.
    const chosen =
      init != null && init.credentials !== undefined
        ? init.credentials
        : template.credentials !== 'same-origin'
          ? template.credentials
          : undefined;
    // The template's signal follows the caller's: `init.signal`, or the
    // signal of a Request given as input. Without either it never aborts,
    // and listening to it would only cost time on every call.
    const abortable = (init != null && init.signal != null) || input instanceof Request;
    // A stream can be read once: sent once, never replayed.
    const replayable = !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream);
    const start = () => this.#start(template, optedOut, chosen, replayable, abortable);
    return this.#core ? start() : this.#load().then(start);
  }

  #start(template, optedOut, chosen, replayable, abortable) {
    let route = ROUTE.FOREIGN;
    this.#turn(() => {
      route = this.#core.route(template.url, optedOut);
    });
    if (this.#fault) return Promise.reject(this.#fault);
    if (route === ROUTE.FOREIGN) return this.#bypass(template, 'nothing');
    const credentials = this.#credentialsFor(template.url, chosen);
    // A cookie-mode request the caller sends without cookies carries no
    // credential: its 401 says nothing about the session.
    const cookieless = credentials === 'omit' || (credentials === 'same-origin' && !this.#samePage(template.url));
    if (this.#options.mode === 'cookie' && cookieless) return this.#bypass(template, 'nothing');
    if (route === ROUTE.OPTED_OUT) return this.#bypass(template, 'credential', credentials);
    if (route === ROUTE.EXCLUDED) return this.#bypass(template, 'cookies', credentials);
    const signal = template.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      this.#turn(() => {
        const id = this.#core.issue(now(), replayable);
        const pending = { template, replayable, credentials, resolve, reject, last: null, onAbort: null };
        if (abortable) {
          pending.onAbort = () => this.#turn(() => this.#aborted(id));
          signal.addEventListener('abort', pending.onAbort, { once: true });
        }
        this.#pending.set(id, pending);
        this.#drive();
      }, reject);
    });
  }

  /** Requests the core does not coordinate go straight out. */
  #bypass(template, attach, credentials) {
    let request;
    try {
      request = this.#prepare(template, attach, false, credentials);
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
   * The request for one send of `template`. A request with a body goes out
   * as a clone (`Request.clone()` tees the body, so the template keeps it
   * for a replay, whatever it was); a stream is sent from the template
   * itself, once. A GET or HEAD has no body to use up (the platform refuses
   * one), so the template itself can be sent again.
   */
  #prepare(template, attach, keepTemplate, credentials) {
    const bodiless = template.method === 'GET' || template.method === 'HEAD';
    const source = keepTemplate && !bodiless ? template.clone() : template;
    const o = this.#options;
    if (attach === 'nothing') return source;
    if (o.mode === 'cookie') return credentials === source.credentials ? source : new Request(source, { credentials });
    if (attach === 'cookies') return source;
    const tokens = this.#tokens();
    // No token (not logged in, or cleared): the request goes without one,
    // its 401 starts a refresh, which without a refresh token ends the
    // session cleanly.
    // A token that cannot go in a header (the store was written by hand)
    // counts as none, as above.
    if (!tokens || !headerSafe(tokens.access)) return source;
    const headers = new Headers(source.headers);
    headers.set('Authorization', `${o.authScheme} ${tokens.access}`);
    this.#sentAccess = tokens.access;
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
    if (this.#tabs) {
      // A faulted tab must not keep the other tabs waiting on its lock.
      this.#tabs.cancel();
      this.#tabs.release();
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.onAbort) p.template.signal.removeEventListener('abort', p.onAbort);
      p.reject(this.#fault);
    }
    for (const done of this.#afterRefresh.splice(0)) done();
    this.#publish();
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
        case ACTION.ACQUIRE_LOCK:
          this.#tabs.acquire(
            () => this.#turn(() => this.#lockGranted()),
            () => !this.#storeBehind(this.#tabs.read()),
          );
          break;
        case ACTION.CANCEL_LOCK:
          this.#tabs.cancel();
          break;
        case ACTION.RELEASE_LOCK:
          this.#tabs.release();
          break;
        case ACTION.PERSIST:
          this.#sharedSeen = Math.max(this.#sharedSeen, id);
          this.#tabs.persist(id, detail, wallTime(core.actionTime));
          break;
        case ACTION.ANNOUNCE:
          this.#tabs.announce(id, detail, wallTime(core.actionTime));
          break;
        default:
          this.#notify(kind, id, detail);
      }
    }
    this.#armTimer();
    this.#publish();
  }

  #sendPending(id) {
    const p = this.#pending.get(id);
    if (!p) return;
    // The 401 being replayed: nobody reads it.
    if (p.last && p.last.ok) discard(p.last.value);
    p.last = null;
    let request;
    try {
      request = this.#prepare(p.template, 'credential', p.replayable, p.credentials);
    } catch (error) {
      // The platform refused to copy the request: the caller gets why.
      this.#answered(id, false, error);
      return;
    }
    // Out in a microtask, with every request due in the same turn: a burst
    // of calls then reaches the browser's fetch back to back, as a loop of
    // raw fetches does. One fetch between each call's own work made each
    // fetch slower (its code and data went cold): a burst of 300 took
    // 415-490 µs a call to put on the wire, against 275-360 raw and
    // 290-325 sent this way.
    if (this.#outbox.push({ id, request }) === 1) queueMicrotask(() => this.#turn(() => this.#flush()));
  }

  /** Sends what `#sendPending` queued, except requests settled meanwhile (aborted, failed): nothing goes out for those. */
  #flush() {
    const outbox = this.#outbox;
    this.#outbox = [];
    // Ids are never reused: one no longer pending was settled meanwhile.
    for (const { id, request } of outbox) {
      if (!this.#pending.has(id)) continue;
      this.#watch(this.#send(request), (ok, value) => this.#answered(id, ok, value));
    }
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
    if (ok) answer = value && (value.status === 401 || this.#expired(value)) ? ANSWER.UNAUTHORIZED : ANSWER.OTHER;
    this.#core.answer(now(), id, answer);
    this.#drive();
  }

  /**
   * Whether the app's `expiredWhen` says this answer (other than a 401)
   * means the access credential expired. It sees the status and headers,
   * never the body, which stays the caller's to read.
   */
  #expired(response) {
    const expiredWhen = this.#options.expiredWhen;
    if (!expiredWhen || typeof response.status !== 'number') return false;
    try {
      return expiredWhen({ status: response.status, headers: response.headers, url: response.url }) === true;
    } catch (error) {
      // The app's bug, reported; the answer goes to the caller as it is.
      report(error);
      return false;
    }
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
    if (p.onAbort) p.template.signal.removeEventListener('abort', p.onAbort);
    if (failure) p.reject(this.#error(failure, p.template));
    else if (p.last && p.last.ok) p.resolve(p.last.value);
    else p.reject(p.last ? p.last.value : new Error('refresh-coordinator: no answer to deliver'));
  }

  #error(failure, request) {
    // What the app's own refresh function threw reaches every waiter.
    const cause = this.#refreshCause === null ? undefined : { cause: this.#refreshCause };
    switch (failure & 15) {
      case FAILURE.SESSION_EXPIRED:
        return new SessionExpiredError(request, cause);
      case FAILURE.LOGGED_OUT:
        return new LoggedOutError(request);
      case FAILURE.REPLAY_NOT_POSSIBLE:
        return new ReplayNotPossibleError(request);
      default:
        return new RefreshUnavailableError(request, REASONS[failure & 7], failure >> 4 || undefined, cause);
    }
  }

  /**
   * Sends refresh `number`. With `keepalive`, so a reload or navigation
   * does not lose the rotated cookie, and never aborted: it may already
   * have rotated the token.
   */
  #startRefresh(number) {
    const o = this.#options;
    const tokens = o.mode === 'bearer' ? this.#tokens() : null;
    if (o.mode === 'bearer' && (!tokens || !tokens.refresh)) {
      // Nothing to refresh with: the session is over.
      this.#core.refreshEnded(now(), number, OUTCOME.REFUSED, 0, -1, -1);
      return;
    }
    this.#refreshCause = null;
    if (o.refresh) return this.#startOwnRefresh(number, tokens);
    let request;
    try {
      request = this.#endpointRequest(o.refreshUrl, o.refreshMethod, tokens, false);
    } catch {
      // Only a broken refresh URL fails here; no answer can come from it.
      this.#core.refreshEnded(now(), number, OUTCOME.LOST, 0, -1, -1);
      return;
    }
    this.#refreshOut(number, tokens);
    this.#watch(this.#send(request), (ok, response) => this.#refreshAnswered(number, ok, response));
  }

  /** Refresh `number` is on the wire, sent with `tokens` (bearer mode). */
  #refreshOut(number, tokens) {
    this.#refreshesOut.add(number);
    if (tokens) this.#sentRefresh.set(number, tokens.refresh);
    this.#note(Date.now());
  }

  /**
   * Refresh `number` by the app's own `refresh` function: it does the
   * exchange, the coordinator everything around it (the single flight, the
   * lock, the timeout, the retries, the replays). It is called in a
   * microtask of its own, so that it may call the coordinator back, and
   * whatever it throws or returns is classified, never lost.
   */
  #startOwnRefresh(number, tokens) {
    const o = this.#options;
    this.#refreshOut(number, tokens);
    const context = {
      tokens: tokens && { access: tokens.access, refresh: tokens.refresh },
      fetch: (input, init) => o.fetch.call(undefined, input, init),
    };
    const exchange = Promise.resolve().then(() => o.refresh(context));
    this.#watch(exchange, (ok, value) => this.#ownRefreshEnded(number, tokens, ok, value));
  }

  #ownRefreshEnded(number, tokens, ok, value) {
    if (!this.#core.refreshCounts(number)) return this.#forget(number);
    if (!ok) {
      this.#refreshCause = value;
      return this.#refreshEnded(number, isRefreshRefusedError(value) ? OUTCOME.REFUSED : OUTCOME.LOST, 0, -1);
    }
    if (this.#options.mode === 'cookie') {
      // The function had the cookie rotated; it may say for how long.
      const seconds = value !== null && typeof value === 'object' ? value.expiresIn : undefined;
      return this.#refreshEnded(number, OUTCOME.ROTATED, 200, -1, typeof seconds === 'number' ? lifetimeOf({ expires_in: seconds }) : -1);
    }
    const shape = value !== null && typeof value === 'object' ? { access: value.access, refresh: value.refresh ?? undefined } : null;
    const rotation = shape && readRotation('simplejwt', shape, null, tokens.refresh);
    if (!rotation || (value.expiresIn !== undefined && !(value.expiresIn >= 0))) {
      // The exchange ended without a credential this client can use: as a
      // refresh with no answer, retried (the server may have rotated).
      this.#refreshCause = new TypeError(
        'refresh-coordinator: options.refresh must resolve to {access, refresh?, expiresIn?} with header-safe tokens',
      );
      return this.#refreshEnded(number, OUTCOME.LOST, 0, -1);
    }
    this.#storeTokens(rotation.tokens);
    const lifetime = typeof value.expiresIn === 'number' ? lifetimeOf({ expires_in: value.expiresIn }) : rotation.lifetime;
    this.#refreshEnded(number, OUTCOME.ROTATED, 200, -1, lifetime);
  }

  #refreshAnswered(number, ok, response) {
    // A refresh the core forgot (a login came since): nothing to do.
    if (!this.#core.refreshCounts(number)) return this.#forget(number);
    if (!ok || !response || typeof response.status !== 'number') {
      this.#refreshEnded(number, OUTCOME.LOST, 0, -1);
    } else if (isRedirect(response)) {
      // Not followed (`redirect: 'manual'`): it would carry the refresh
      // token wherever it points. The core gives up for now, session kept.
      discard(response);
      this.#refreshEnded(number, OUTCOME.REDIRECTED, response.status, -1);
    } else if (response.status >= 200 && response.status < 300) {
      // Read the whole body: in cookie mode a body cut off mid-way means
      // the rotated cookie may or may not have landed.
      const status = response.status;
      const date = response.headers && typeof response.headers.get === 'function' ? response.headers.get('Date') : null;
      this.#watch(readText(response), (read, body) => this.#refreshBody(number, status, date, read ? body : null));
    } else if (this.#options.dialect === 'oauth2' && response.status >= 400 && response.status < 500) {
      // OAuth 2.0 says in the body why (`invalid_grant`,
      // `temporarily_unavailable`...); an unreadable body says nothing more
      // than its status.
      const status = response.status;
      const wait = retryAfter(response);
      this.#watch(readText(response), (read, text) => {
        if (!this.#core.refreshCounts(number)) return this.#forget(number);
        const code = read ? grantError(text) : null;
        this.#refreshEnded(number, code === null ? OUTCOME.STATUS : (GRANT_ERRORS[code] ?? OUTCOME.OTHER_GRANT_ERROR), status, wait);
      });
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
    const o = this.#options;
    if (o.mode === 'cookie') {
      return this.#refreshEnded(number, OUTCOME.ROTATED, status, -1, lifetimeOf(body, date, body && body.access));
    }
    const previous = this.#sentRefresh.get(number) ?? null;
    const rotation = readRotation(o.dialect, body, date, previous);
    if (!rotation) {
      // A success without a usable access token is a broken server, not a
      // refusal: retry, and let the server's next answer decide. A rotated
      // refresh token in it is kept: the one sent is used up.
      const refresh = rotatedRefresh(o.dialect, body);
      const stored = this.#tokens();
      if (refresh && stored) {
        this.#storeTokens({ access: stored.access, refresh });
        // This tab rotated it, no other: not a lost race (see #refreshEnded).
        this.#sentRefresh.set(number, refresh);
      }
      return this.#refreshEnded(number, OUTCOME.UNAVAILABLE, status, -1);
    }
    this.#storeTokens(rotation.tokens);
    this.#refreshEnded(number, OUTCOME.ROTATED, status, -1, rotation.lifetime);
  }

  #refreshEnded(number, outcome, status, retryAfterMs, lifetimeMs = -1) {
    const sent = this.#sentRefresh.get(number);
    this.#forget(number);
    this.#note(0);
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
        event = { type: 'refresh-start', attempt: detail, ahead: id === 1 };
        break;
      case ACTION.REFRESH_SUCCEEDED:
        // Whatever refresh was noted landed, or no longer matters.
        this.#note(0);
        event = { type: 'refresh-end', ok: true, generation: id };
        break;
      case ACTION.REFRESH_FAILED:
        event = { type: 'refresh-end', ok: false, reason: REASONS[detail & 7], retrying: (detail & 8) !== 0 };
        if (detail >> 4) event.status = detail >> 4;
        break;
      case ACTION.SESSION_KEPT:
        // No retry, and the session stays: the refresh was ahead of expiry
        // (the credential still works), or its refusal had no request to be
        // confirmed with, or another tab's credential came first.
        event = { type: 'refresh-end', ok: false, reason: detail ? REASONS[detail & 7] : 'refused', retrying: false, ahead: id === 1 };
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
        // Every tab is told once, the one that saw the refusal and the ones
        // it told.
        if (o.onSessionExpired) callApp(o.onSessionExpired, new SessionExpiredError());
        event = { type: 'session-expired', remote };
        break;
      }
      case ACTION.ADOPTED:
        event = { type: 'adopted', generation: id };
        break;
      case ACTION.LOGGED_OUT:
        // The one place that learns of every logout: where telling the
        // other tabs belongs.
        event = { type: 'logged-out' };
        break;
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
          this.#storeChangedUnderRefusal();
          this.#core.tick(now());
          this.#drive();
        }),
      Math.max(0, at - now()),
    );
  }

  /**
   * Bearer mode: a refusal waiting to be confirmed is a lost race if the
   * store now holds another refresh token (another tab stored its rotation).
   */
  #storeChangedUnderRefusal() {
    if (this.#options.mode !== 'bearer' || this.#refused === null) return;
    const stored = this.#tokens();
    if (stored && stored.refresh && stored.refresh !== this.#refused) {
      this.#refused = null;
      this.#core.credentialChanged();
    }
  }

  /** The lock is this tab's: the core decides, on the shared state read now. */
  #lockGranted() {
    // The last holder may have been closed or frozen with its refresh out.
    this.#mayBeLanding(this.#core);
    const shared = this.#tabs.read();
    this.#sharedSeen = Math.max(this.#sharedSeen, shared.generation);
    this.#core.lockGranted(now(), shared.generation, shared.session);
    this.#sharedExpiry(this.#core, shared);
    this.#drive();
  }

  /**
   * Cookie mode: tells the core until when a noted refresh (of a previous
   * load, or of a holder of the lock that is gone) may still land its cookie.
   */
  #mayBeLanding(core) {
    const o = this.#options;
    if (o.mode !== 'cookie') return;
    // A worker cannot read localStorage: a page's shared note is in IndexedDB too (tabs.sentAt()).
    const sent = Math.max(noted(this.#tabs !== null, o.refreshUrl), this.#tabs ? this.#tabs.sentAt() : 0);
    const age = Date.now() - sent;
    if (age >= 0 && age < o.refreshTimeout) core.refreshMayBeLanding(now() + (o.refreshTimeout - age));
  }

  /**
   * Cookie mode: notes when a refresh was sent (`at`, ms since the epoch),
   * or that none is out (0); shared with the other tabs when they share the
   * flight.
   */
  #note(at) {
    if (this.#options.mode !== 'cookie') return;
    note(this.#tabs !== null, this.#options.refreshUrl, at);
    if (this.#tabs) this.#tabs.noteSent(at);
  }

  /** The stored expiry of the shared credential, in this page's `now()`. */
  #sharedExpiry(core, shared) {
    if (shared.expiresAt !== null) core.sharedExpiry(now(), shared.generation, shared.expiresAt - TIME_ORIGIN);
  }

  /** Another tab may have changed the shared state. */
  #sharedChanged() {
    if (this.#fault) return;
    if (!this.#core) {
      this.#heardWhileLoading = true;
      return;
    }
    const shared = this.#tabs.read();
    if (this.#storeBehind(shared)) {
      // Bounded, like the lock's wait for it (see tabs.js): past the bound
      // the state is taken with whatever the store holds.
      this.#behindSince ??= now();
      if (now() - this.#behindSince < STORE_BOUND) {
        this.#catchUpTimer ??= setTimeout(
          () =>
            this.#turn(() => {
              this.#catchUpTimer = undefined;
              this.#sharedChanged();
            }),
          CATCH_UP_POLL,
        );
        return;
      }
    }
    this.#behindSince = null;
    this.#sharedSeen = Math.max(this.#sharedSeen, shared.generation);
    this.#core.sharedState(shared.generation, shared.session);
    this.#sharedExpiry(this.#core, shared);
    this.#drive();
  }

  /**
   * Bearer mode: whether `shared` tells of a newer credential than the
   * token store shows this tab yet. A store over localStorage is kept per
   * process and updated from the others a moment later, while the lock,
   * the channel and IndexedDB can bring the news first (seen in Chromium,
   * two tabs under load: a tab that took the new generation at once
   * replayed its waiters with the old access token, and they got 401s).
   * So a newer active generation is
   * taken once the store holds another access token than this tab last
   * sent (bounded by STORE_BOUND; a rotation always brings a new one).
   */
  #storeBehind(shared) {
    if (this.#options.mode !== 'bearer' || this.#sentAccess === null) return false;
    if (shared.session !== SESSION.ACTIVE || shared.generation <= this.#sharedSeen) return false;
    const tokens = this.#tokens();
    return tokens !== null && tokens.access === this.#sentAccess;
  }

  /** Refresh `number` is answered, or its answer no longer counts. */
  #forget(number) {
    this.#sentRefresh.delete(number);
    this.#refreshesOut.delete(number);
    if (this.#refreshesOut.size === 0) for (const done of this.#afterRefresh.splice(0)) done();
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
    if (!headerSafe(valid.access) || (valid.refresh !== null && !headerSafe(valid.refresh))) {
      throw new TypeError(
        'refresh-coordinator: setTokens(tokens) needs tokens of visible ASCII characters (no spaces or controls), 16384 at most',
      );
    }
    this.#storeTokens(valid);
    this.#refused = null;
    this.#turn(() => this.#credentialChanged());
  }

  /** Bearer mode: forgets the tokens, nothing more (`logout()` ends the session). Nothing in cookie mode. */
  clearTokens() {
    if (this.#options.mode === 'bearer') this.#storeTokens(null);
  }

  /** The app logged in again: a new credential, a new session. */
  sessionStarted() {
    this.#turn(() => this.#credentialChanged());
  }

  /**
   * `{status, session, generation, refreshing, faulted, waiting, pending}`:
   * the snapshot plus the queue, read now.
   */
  state() {
    const snapshot = this.#fault ? this.#snapshot : this.#currentSnapshot();
    const waiting = this.#core && !this.#fault ? this.#core.waiting : 0;
    const session = snapshot.status === 'refreshing' ? 'active' : snapshot.status;
    return { ...snapshot, session, waiting, pending: this.#pending.size };
  }

  /**
   * Calls `listener()` after every change of the snapshot (status,
   * generation, refreshing, faulted); returns the function that stops it.
   * @throws {TypeError} if `listener` is not a function.
   */
  subscribe(listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('refresh-coordinator: subscribe(listener) needs a function');
    }
    // An entry per call: the same function subscribed twice is called twice
    // and unsubscribed once per returned function, as React expects.
    const entry = { listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** The snapshot: a frozen object, the same one until something in it changes. */
  getSnapshot() {
    return this.#snapshot;
  }

  #currentSnapshot() {
    const core = this.#core;
    const faulted = this.#fault !== null || this.#loadFailure !== null;
    if (!core || this.#fault) return { ...this.#snapshot, faulted };
    const session = core.loggedOut ? 'logged-out' : core.ended ? 'ended' : 'active';
    const refreshing = core.refreshing;
    const status = session === 'active' && refreshing ? 'refreshing' : session;
    return { status, generation: core.generation, refreshing, faulted };
  }

  /** Replaces the snapshot and tells the listeners, if anything in it changed. */
  #publish() {
    const next = this.#currentSnapshot();
    const last = this.#snapshot;
    if (
      next.status === last.status &&
      next.generation === last.generation &&
      next.refreshing === last.refreshing &&
      next.faulted === last.faulted
    ) {
      return;
    }
    this.#snapshot = Object.freeze(next);
    for (const entry of [...this.#listeners]) {
      if (this.#listeners.has(entry)) callApp(entry.listener);
    }
  }

  /** Says once what the coordinator cannot do on this server (see `readOptions`). */
  #warnOnce() {
    const warning = this.#options.serverWarning;
    if (!warning || this.#warned) return;
    this.#warned = true;
    if (typeof console === 'object') console.warn(warning);
  }

  /** Whether `url` (absolute) is on the page's own origin. */
  #samePage(url) {
    const origin = this.#options.pageOrigin;
    return origin !== undefined && url.startsWith(`${origin}/`);
  }

  /**
   * The `credentials` of a cookie-mode request to `url`: the caller's own
   * choice, else `same-origin` on the page's origin (a redirect elsewhere
   * then carries no cookie, as with plain fetch) and `include` only for the
   * other allowed origins, which need it to get their cookies at all.
   */
  #credentialsFor(url, chosen) {
    if (chosen !== undefined) return chosen;
    return this.#samePage(url) ? 'same-origin' : 'include';
  }

  /**
   * A request to the refresh or logout endpoint: the refresh credential as
   * the dialect carries it (cookie mode: the cookie, with the CSRF header;
   * bearer mode: the refresh token in the dialect's body), with `keepalive` so a
   * page leaving does not cut it off, and never following a redirect, which
   * would take the refresh token wherever it points.
   * @throws {TypeError} for a URL the platform refuses.
   */
  #endpointRequest(url, method, tokens, logout) {
    const o = this.#options;
    const init = { method, keepalive: true, redirect: 'manual', headers: {} };
    if (o.mode === 'cookie') {
      // dj-rest-auth reads the refresh token from its cookie.
      init.credentials = this.#credentialsFor(url);
      const token = o.csrf && readCookie(o.csrf.cookie);
      if (token) init.headers[o.csrf.header] = token;
    } else {
      Object.assign(init, credentialBody(o, tokens, logout));
    }
    return new Request(url, init);
  }

  /**
   * Logs out: the session here ends at once (waiting requests fail with
   * LoggedOutError, later 401s start no refresh, `logged-out` is emitted),
   * then the server is asked to revoke the credential. Resolves once it
   * did, or once there was nothing to revoke; rejects with
   * LogoutFailedError when it was not reached or did not log out.
   */
  logout() {
    if (this.#fault) return Promise.reject(this.#fault);
    if (this.#loggingOut) return this.#loggingOut;
    // With the core loaded, the session ends before this returns.
    const loggingOut = this.#core ? this.#logOut() : this.#load().then(() => this.#logOut());
    this.#loggingOut = loggingOut.finally(() => {
      this.#loggingOut = null;
    });
    return this.#loggingOut;
  }

  async #logOut() {
    const o = this.#options;
    this.#turn(() => {
      this.#core.logOut();
      this.#drive();
    });
    if (this.#fault) throw this.#fault;
    let tokens = null;
    if (o.mode === 'bearer') {
      tokens = this.#tokens();
      this.#storeTokens(null);
    }
    // A refresh on the wire is never cancelled and may rotate the token:
    // the logout goes after it, with the newest credential (bounded: the
    // refresh itself may never answer).
    await this.#refreshSettled();
    if (this.#fault) throw this.#fault;
    if (!this.#core.loggedOut) return; // the app logged in again meanwhile
    if (o.mode === 'bearer') {
      const rotated = this.#tokens();
      if (rotated) {
        tokens = rotated;
        this.#storeTokens(null);
      }
      // Nothing to revoke: an access token alone expires by itself.
      if (!tokens || !tokens.refresh) return;
    }
    if (!o.logoutUrl) return;
    let request;
    try {
      request = this.#endpointRequest(o.logoutUrl, 'POST', tokens, true);
    } catch (error) {
      throw new LogoutFailedError(undefined, 'network', undefined, { cause: error });
    }
    let response;
    try {
      response = await this.#send(request);
    } catch (error) {
      throw new LogoutFailedError(request, 'network', undefined, { cause: error });
    }
    discard(response);
    // 401: the token was expired, blacklisted or missing, so it is dead
    // already (dj-rest-auth deletes the cookies then too).
    if (response.ok || response.status === 401) return;
    if (isRedirect(response)) throw new LogoutFailedError(request, 'redirect');
    throw new LogoutFailedError(request, 'status', response.status);
  }

  /** Resolves when no refresh is on the wire, or after `refreshTimeout`. */
  #refreshSettled() {
    if (this.#refreshesOut.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, this.#options.refreshTimeout);
      this.#afterRefresh.push(done);
    });
  }
}
