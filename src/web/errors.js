// The typed errors of refresh-coordinator, and their guards.
//
// The guards recognise errors by brand and code rather than `instanceof`, so
// they also work when a bundle ends up with two copies of the package.

const BRAND = Symbol.for('refresh-coordinator.error');

function describe(request) {
  return request ? `${request.method} ${request.url}` : 'a request';
}

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
 * `reason` is 'timeout', 'network', 'status', 'retry-after-too-long' or
 * 'redirect' (the refresh endpoint answered with a redirect, not followed);
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

/**
 * The app logged out (`authFetch.logout()`): a 401 now means there is no
 * session, and starts no refresh until the next login.
 */
export class LoggedOutError extends RefreshCoordinatorError {
  constructor(request, options) {
    super(`Logged out: ${describe(request)} got 401 after logout()`, { ...options, request });
    this.name = 'LoggedOutError';
    this.code = 'LOGGED_OUT';
  }
}

/**
 * The logout request did not reach the server, or the server did not log
 * out: `reason` is 'network' (with `cause`), 'status' (with `status`) or
 * 'redirect'. The session here has ended all the same.
 */
export class LogoutFailedError extends RefreshCoordinatorError {
  constructor(request, reason, status, options) {
    const detail = reason === 'status' ? `the server answered ${status}` : reason;
    super(`Logout not confirmed by the server (${detail}): ${describe(request)}`, { ...options, request });
    this.name = 'LogoutFailedError';
    this.code = 'LOGOUT_FAILED';
    this.reason = reason;
    this.status = status;
  }
}

/**
 * Thrown by an app's own `refresh` function to say the server refused the
 * refresh credential (it is expired, revoked or used up): the session ends,
 * and every waiter fails with SessionExpiredError, this error as its
 * `cause`. Anything else the function throws counts as a refresh that got
 * no answer: retried, and the session kept.
 */
export class RefreshRefusedError extends RefreshCoordinatorError {
  constructor(message, options) {
    super(message ?? 'The refresh was refused', options);
    this.name = 'RefreshRefusedError';
    this.code = 'REFRESH_REFUSED';
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

/** True for every error produced by refresh-coordinator, from any copy of it. */
export const isRefreshCoordinatorError = (error) =>
  error != null && typeof error === 'object' && error[BRAND] === true;
const guard = (code) => (error) => isRefreshCoordinatorError(error) && error.code === code;
export const isSessionExpiredError = guard('SESSION_EXPIRED');
export const isRefreshUnavailableError = guard('REFRESH_UNAVAILABLE');
export const isReplayNotPossibleError = guard('REPLAY_NOT_POSSIBLE');
export const isCoordinatorFaultError = guard('COORDINATOR_FAULT');
export const isLoggedOutError = guard('LOGGED_OUT');
export const isLogoutFailedError = guard('LOGOUT_FAILED');
export const isRefreshRefusedError = guard('REFRESH_REFUSED');

/**
 * Reports an error the way an uncaught one from an event listener is, where
 * the platform can (`reportError`); elsewhere (Node) it is logged, never
 * thrown, so a server process is not taken down by a client's error.
 */
export function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else if (typeof console === 'object') console.error(error);
}
