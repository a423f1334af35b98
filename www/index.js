// refresh-coordinator: the package's entry point.
//
// `createAuthFetch(options)` checks the options at once (a TypeError names a
// wrong one) and returns a function with `fetch`'s signature. The Rust core
// (WebAssembly) is loaded behind it; calls made meanwhile wait for it, in
// order.
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
// wasm is not loaded until something uses the coordinator, so a module that
// creates `authFetch` at its top level renders on the server without errors
// or logs. Under Node the package's `node` export condition loads `node.js`,
// which reads the .wasm from disk instead.

import init, { Core } from './refresh_coordinator.js';
import { Coordinator } from './coordinator.js';

export {
  RefreshCoordinatorError,
  SessionExpiredError,
  RefreshUnavailableError,
  ReplayNotPossibleError,
  CoordinatorFaultError,
  LoggedOutError,
  LogoutFailedError,
  RefreshRefusedError,
  isRefreshCoordinatorError,
  isSessionExpiredError,
  isRefreshUnavailableError,
  isReplayNotPossibleError,
  isCoordinatorFaultError,
  isLoggedOutError,
  isLogoutFailedError,
  isRefreshRefusedError,
} from './errors.js';
export { invalidTokenChallenge } from './dialects.js';
export { localStorageTokenStore } from './token-stores.js';

// Deliberately not exported: the Coordinator class, the Core and the wasm
// glue. `createAuthFetch` is the one way in, so the loading stays inside it.

/**
 * Marks functions made by `createAuthFetch`, from any copy of the package
 * (`attachAxios` tells an `authFetch` from an options object by it).
 */
const AUTH_FETCH = Symbol.for('refresh-coordinator.authFetch');

let loading = null;

/** Instantiates the wasm once per page, however many coordinators use it. */
function loadCore() {
  return (loading ??= init().then(() => (...settings) => new Core(...settings)));
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
 * @throws {TypeError} naming the first invalid option.
 */
export function createAuthFetch(options) {
  const coordinator = new Coordinator(options, loadCore, { eager });
  const authFetch = (input, init) => coordinator.fetch(input, init);
  Object.defineProperties(authFetch, {
    // A getter, so that reading it is what starts the loading on a server.
    ready: { enumerable: true, get: () => coordinator.ready },
    [AUTH_FETCH]: { value: true },
  });
  authFetch.setTokens = (tokens) => coordinator.setTokens(tokens);
  authFetch.clearTokens = () => coordinator.clearTokens();
  authFetch.sessionStarted = () => coordinator.sessionStarted();
  authFetch.state = () => coordinator.state();
  authFetch.logout = () => coordinator.logout();
  // Bound once, so each keeps its identity (React resubscribes otherwise).
  authFetch.subscribe = (listener) => coordinator.subscribe(listener);
  authFetch.getSnapshot = () => coordinator.getSnapshot();
  return authFetch;
}
