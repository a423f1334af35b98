// The JavaScript half of the web layer: the typed errors, and the safety net
// that settles every caller even if the WebAssembly side fails.
//
// A Rust panic compiles to a trap that aborts the running wasm call. A caller
// whose Promise only Rust could settle would then wait forever. So every
// caller's Promise is created here and listed in `live` until settled, and
// every continuation Rust schedules runs through a Host, which catches a
// trap and rejects everything still live with one CoordinatorFaultError.

const BRAND = Symbol.for('refresh-coordinator.error');

/** Base class of every error the coordinator produces. */
export class RefreshCoordinatorError extends Error {
  constructor(message, options) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'RefreshCoordinatorError';
    this.code = 'REFRESH_COORDINATOR_ERROR';
    /** The Request the error is about, when there is one. */
    this.request = options && options.request;
  }
  get [BRAND]() {
    return true;
  }
}

function describe(request) {
  return request ? `${request.method} ${request.url}` : 'a request';
}

/** The refresh was refused: the user must log in again. */
export class SessionExpiredError extends RefreshCoordinatorError {
  constructor(request, options) {
    super(`Session expired: ${describe(request)} needs a new login`, { ...options, request });
    this.name = 'SessionExpiredError';
    this.code = 'SESSION_EXPIRED';
  }
}

/**
 * Refreshing failed for now: retries used up, timed out, or the server asked
 * to wait too long. The session is kept; trying again later may work.
 * `reason` is 'timeout', 'network', 'status' or 'retry-after-too-long';
 * `status` is the last HTTP status for 'status'.
 */
export class RefreshUnavailableError extends RefreshCoordinatorError {
  constructor(request, reason, status, options) {
    const detail = reason === 'status' ? `the server answered ${status}` : reason;
    super(`Refresh unavailable (${detail}) for ${describe(request)}`, { ...options, request });
    this.name = 'RefreshUnavailableError';
    this.code = 'REFRESH_UNAVAILABLE';
    this.reason = reason;
    this.status = status;
  }
}

/** The request needed a replay, but its body was a stream already sent. */
export class ReplayNotPossibleError extends RefreshCoordinatorError {
  constructor(request, options) {
    super(
      `Cannot replay ${describe(request)}: its body is a stream, consumed by the first send. ` +
        'Pass a string, Blob, ArrayBuffer, FormData or URLSearchParams to make it replayable.',
      { ...options, request },
    );
    this.name = 'ReplayNotPossibleError';
    this.code = 'REPLAY_NOT_POSSIBLE';
  }
}

/** The coordinator itself failed (a bug); `cause` holds what was thrown. */
export class CoordinatorFaultError extends RefreshCoordinatorError {
  constructor(cause) {
    super('refresh-coordinator failed internally; the request was not completed', { cause });
    this.name = 'CoordinatorFaultError';
    this.code = 'COORDINATOR_FAULT';
  }
}

// The guards recognise errors by brand and code rather than `instanceof`, so
// they also work when a bundle ends up with two copies of the package.
/** True for every error produced by refresh-coordinator, from any copy of it. */
export const isRefreshCoordinatorError = (error) =>
  error != null && typeof error === 'object' && error[BRAND] === true;
const guard = (code) => (error) => isRefreshCoordinatorError(error) && error.code === code;
export const isSessionExpiredError = guard('SESSION_EXPIRED');
export const isRefreshUnavailableError = guard('REFRESH_UNAVAILABLE');
export const isReplayNotPossibleError = guard('REPLAY_NOT_POSSIBLE');
export const isCoordinatorFaultError = guard('COORDINATOR_FAULT');

// Rust builds errors through these; `kind` mirrors the core's `Failure`.
export function sessionExpired(request) {
  return new SessionExpiredError(request);
}
export function refreshUnavailable(request, reason, status) {
  return new RefreshUnavailableError(request, reason, status || undefined);
}
export function replayNotPossible(request) {
  return new ReplayNotPossibleError(request);
}

const live = new Set();
// Set once by failAll; every later call is rejected with it at once.
let fault = null;

/** One caller's Promise, settled once by `settle`, or by the safety net. */
export class Call {
  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (fault) this.reject(fault);
    else live.add(this);
  }
  settle(ok, value) {
    if (live.delete(this)) (ok ? this.resolve : this.reject)(value);
  }
}

export function failAll(cause) {
  if (!fault) {
    fault = new CoordinatorFaultError(cause);
    report(cause);
  }
  for (const call of live) call.reject(fault);
  live.clear();
}

/** The fault that stopped the coordinator, or null. */
export function faulted() {
  return fault;
}

/**
 * The JS side of one coordinator: every continuation (an answer, a refresh,
 * a body read, the timer, an abort) comes back to Rust through one handler,
 * `handler(kind, id, ok, value)`, behind the safety net. One handler instead
 * of a closure per request keeps the wasm small and allocates nothing per
 * continuation.
 */
export class Host {
  constructor(handler) {
    this.handler = handler;
    this.timer = undefined;
    /** Abort listeners by request id. */
    this.listeners = new Map();
  }

  /** Calls `handler(kind, id, ok, value)` once `promise` settles. */
  watch(promise, kind, id) {
    let p;
    try {
      p = Promise.resolve(promise);
    } catch (error) {
      p = Promise.reject(error);
    }
    p.then(
      (value) => this.handler(kind, id, true, value),
      (error) => this.handler(kind, id, false, error),
    ).catch(failAll);
  }

  /** Settles `call` with whatever `promise` settles with. */
  forward(promise, call) {
    Promise.resolve(promise).then(
      (value) => call.settle(true, value),
      (error) => call.settle(false, error),
    );
  }

  /** (Re)arms the one timer: `handler(kind, 0, true)` after `ms`. */
  schedule(ms, kind) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#run(kind, 0), ms);
  }

  cancel() {
    clearTimeout(this.timer);
  }

  /** `handler(kind, id, true)` when `signal` aborts, until `unlisten(id)`. */
  listen(signal, kind, id) {
    const listener = () => this.#run(kind, id);
    signal.addEventListener('abort', listener, { once: true });
    this.listeners.set(id, [signal, listener]);
  }

  unlisten(id) {
    const entry = this.listeners.get(id);
    if (entry) {
      this.listeners.delete(id);
      entry[0].removeEventListener('abort', entry[1]);
    }
  }

  #run(kind, id) {
    try {
      this.handler(kind, id, true, undefined);
    } catch (error) {
      failAll(error);
    }
  }
}

/**
 * Calls an app callback. Its exceptions must not break the coordinator, and
 * must not vanish either: they are reported like an event listener's would be.
 */
export function callApp(callback, argument) {
  try {
    callback(argument);
  } catch (error) {
    report(error);
  }
}

export function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else setTimeout(() => {
    throw error;
  });
}

export function discard(response) {
  try {
    if (response && response.body) response.body.cancel().catch(() => {});
  } catch {
    // Already locked or disturbed: nothing left to free.
  }
}

// A refresh in flight is noted in sessionStorage (per tab, kept across
// reloads): if a reload cuts the page off, the next load knows that the
// rotated cookie may still be landing, and waits for it instead of
// refreshing with the token that refresh rotated. Storage can be missing or
// refuse access (sandboxed frames); then there is simply no note.
const NOTE = 'refresh-coordinator:refresh-sent:';

/** Notes (a time in ms since the epoch) or clears the note for `url`. */
export function noteRefresh(url, at) {
  try {
    if (at) sessionStorage.setItem(NOTE + url, String(at));
    else sessionStorage.removeItem(NOTE + url);
  } catch {
    // No storage: no note.
  }
}

/** When a refresh to `url` was sent by a page that never saw it end, or 0. */
export function notedRefresh(url) {
  try {
    return Number(sessionStorage.getItem(NOTE + url)) || 0;
  } catch {
    return 0;
  }
}

/** True when `body` can only be read once (a ReadableStream). */
export function isStream(body) {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
}
