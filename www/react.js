// refresh-coordinator/react: the session of one coordinator as React state.
//
// `useSession(authFetch)` reads the coordinator's snapshot through
// `useSyncExternalStore`, which keeps every component of a render on the
// same snapshot under concurrent rendering, subscribes and unsubscribes
// cleanly under StrictMode's doubled effects, and renders the server
// snapshot during server-side rendering and hydration. The coordinator
// keeps one frozen snapshot until something in it changes, so a render
// happens per change of status, generation or refresh flight, not per
// request.
//
// React is an optional peer dependency: only this entry imports it.

import { useSyncExternalStore } from 'react';

// Deliberately exported: `useSession` only. Everything it returns is
// described by `SessionSnapshot` in the main entry's types.

const AUTH_FETCH = Symbol.for('refresh-coordinator.authFetch');

/**
 * On the server, and while hydrating, nothing is known yet: the wasm loads
 * in the browser only.
 */
const SERVER_SNAPSHOT = Object.freeze({ status: 'loading', generation: 0, refreshing: false, faulted: false });
const serverSnapshot = () => SERVER_SNAPSHOT;

/**
 * The session of `authFetch`'s coordinator: `{status, generation,
 * refreshing, faulted}`, re-rendered on every change. Route on `status`:
 * `'ended'` (a refresh was refused) and `'logged-out'` (`logout()` was
 * called) are where the login view belongs.
 *
 * @param {import('./index.js').AuthFetch} authFetch made by `createAuthFetch`.
 * @returns {import('./index.js').SessionSnapshot}
 * @throws {TypeError} if `authFetch` was not made by `createAuthFetch`.
 */
export function useSession(authFetch) {
  if (typeof authFetch !== 'function' || authFetch[AUTH_FETCH] !== true) {
    throw new TypeError('refresh-coordinator: useSession(authFetch) takes a function made by createAuthFetch');
  }
  return useSyncExternalStore(authFetch.subscribe, authFetch.getSnapshot, serverSnapshot);
}
