// refresh-coordinator: the package's entry point.
//
// `createAuthFetch(options)` returns a function with `fetch`'s signature at
// once; the WebAssembly module is loaded behind it, and calls made meanwhile
// wait for it, in order.
//
// Loading: the .wasm is a separate file found with
// `new URL('refresh_coordinator_bg.wasm', import.meta.url)` (wasm-bindgen's
// `init()`), a pattern Vite, webpack 5, Rollup and browsers follow with no
// configuration. It compiles while it streams in and stays cached when the
// app's bundle changes; inlined as base64 it would be 28% bigger gzipped for
// no faster start (`make bench-loading` measures both; see the README).
//
// Server-side rendering: importing this module and calling `createAuthFetch`
// touch no DOM global. Where there is no `location` (Node, Bun, Deno), the
// coordinator is not built until something uses it, so a module that creates
// `authFetch` at its top level renders on the server without errors or
// logs. Under Node the package's `node` export condition loads `node.js`,
// which reads the .wasm from disk instead.

import init, { AuthCoordinator } from './refresh_coordinator.js';
import { failAll, faulted } from './bridge.js';

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

// Deliberately not exported: the AuthCoordinator class and the wasm glue.
// `createAuthFetch` is the one way in, so the loading stays inside it.

/**
 * Marks functions made by `createAuthFetch`, from any copy of the package
 * (`attachAxios` tells an `authFetch` from an options object by it).
 */
const AUTH_FETCH = Symbol.for('refresh-coordinator.authFetch');

let loading = null;

/** Instantiates the wasm once per page, however many coordinators use it. */
function load() {
  return (loading ??= init());
}

/**
 * Pages and workers have a `location`; server runtimes don't. Only the
 * former start loading the wasm as soon as a coordinator is created.
 */
const eager = typeof globalThis.location === 'object' && globalThis.location !== null;

/**
 * A coordinator behind a function with `fetch`'s exact signature.
 *
 * @param {import('./index.js').AuthFetchOptions} [options]
 * @returns {import('./index.js').AuthFetch}
 */
export function createAuthFetch(options) {
  let coordinator = null;
  let started = null;

  /** Loads the wasm and builds the coordinator, once. */
  function start() {
    if (!started) {
      started = load().then(() => {
        coordinator = new AuthCoordinator(options);
        return coordinator;
      });
      // A bad option rejects every call; it is also reported at once, so a
      // misconfiguration shows up before the first request.
      started.catch(report);
    }
    return started;
  }

  /** Runs `f` on the coordinator now if it is built, else once it is. */
  const use = (f) => (coordinator ? guarded(f, coordinator) : start().then((c) => guarded(f, c)));

  function authFetch(input, init) {
    try {
      return use((c) => c.fetch(input, init));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  let ready = null;
  Object.defineProperties(authFetch, {
    // A getter, so that reading it is what starts the loading on a server,
    // and a rejection nobody asked for is never left unhandled.
    ready: { enumerable: true, get: () => (ready ??= start().then(() => undefined)) },
    [AUTH_FETCH]: { value: true },
  });
  authFetch.setTokens = (tokens) => later(use, (c) => c.setTokens(tokens));
  authFetch.clearTokens = () => later(use, (c) => c.clearTokens());
  authFetch.sessionStarted = () => later(use, (c) => c.sessionStarted());
  authFetch.state = () => (coordinator ? coordinator.state() : { loading: true });
  if (eager) start();
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

/**
 * Reports an error the way an uncaught one from an event listener is, where
 * the platform can (`reportError`); elsewhere (Node) it is logged, never
 * thrown, so a server process is not taken down by a client's misconfiguration.
 */
function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else if (typeof console === 'object') console.error(error);
}
