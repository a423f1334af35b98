// Types of refresh-coordinator's React entry (`refresh-coordinator/react`).

import type { AuthFetch, SessionSnapshot, SessionStatus } from './index.js';

export type { SessionSnapshot, SessionStatus };

/**
 * The session of `authFetch`'s coordinator, re-rendered on every change of
 * status, generation or refresh flight (not per request). Built on
 * `useSyncExternalStore`; during server-side rendering and hydration it is
 * `{status: 'loading', generation: 0, refreshing: false, faulted: false}`.
 * Throws a `TypeError` if `authFetch` was not made by `createAuthFetch`.
 */
export function useSession(authFetch: AuthFetch): SessionSnapshot;
