// refresh-coordinator: the package's entry point.
//
// `createAuthFetch(options)` returns a function with `fetch`'s signature at
// once; the WebAssembly module is fetched and instantiated in the background
// on first use, and calls made meanwhile wait for it, in order.

import init, { AuthCoordinator } from './refresh_coordinator.js';
import { failAll, faulted, report } from './bridge.js';

export {
  RefreshCoordinatorError,
  SessionExpiredError,
  RefreshUnavailableError,
  ReplayNotPossibleError,
  CoordinatorFaultError,
  isRefreshCoordinatorError,
  isSessionExpiredError,
  isRefreshUnavailableError,
  isReplayNotPossibleError,
  isCoordinatorFaultError,
} from './bridge.js';

let loading = null;

/** Instantiates the wasm once per page, however many coordinators use it. */
function load() {
  return (loading ??= init());
}

/**
 * A coordinator behind a function with `fetch`'s exact signature.
 *
 * @param {import('./index.js').AuthFetchOptions} [options]
 * @returns {import('./index.js').AuthFetch}
 */
export function createAuthFetch(options) {
  let coordinator = null;
  const ready = load().then(() => {
    coordinator = new AuthCoordinator(options);
    return coordinator;
  });
  // A bad option rejects every call; it is also reported at once, so a
  // misconfiguration shows up before the first request.
  ready.catch(report);

  /** Runs `f` on the coordinator now if it is loaded, else once it is. */
  const use = (f) => (coordinator ? guarded(f, coordinator) : ready.then((c) => guarded(f, c)));

  function authFetch(input, init) {
    try {
      return use((c) => c.fetch(input, init));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  authFetch.ready = ready.then(() => undefined);
  authFetch.setTokens = (tokens) => later(use, (c) => c.setTokens(tokens));
  authFetch.clearTokens = () => later(use, (c) => c.clearTokens());
  authFetch.sessionStarted = () => later(use, (c) => c.sessionStarted());
  authFetch.state = () => (coordinator ? coordinator.state() : { loading: true });
  return authFetch;
}

/** Calls into the wasm; a trap there settles every pending call. */
function guarded(f, coordinator) {
  const fault = faulted();
  if (fault) throw fault;
  try {
    return f(coordinator);
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      failAll(error);
      throw faulted();
    }
    throw error;
  }
}

/**
 * For methods that return nothing: applied at once when loaded (throwing
 * synchronously on bad input), otherwise queued, with errors reported.
 */
function later(use, f) {
  const result = use(f);
  if (result instanceof Promise) result.catch(report);
}
