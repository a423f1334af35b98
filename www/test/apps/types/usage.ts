// A sample app's use of both entry points, compiled by `tsc --strict` (see
// www/test/npm/types.test.mjs). Lines marked @ts-expect-error must fail to
// compile: they prove the types are precise rather than `any`.

import axios, { AxiosError } from 'axios';
import {
  createAuthFetch,
  localStorageTokenStore,
  isSessionExpiredError,
  isRefreshUnavailableError,
  isRefreshCoordinatorError,
  isLoggedOutError,
  isLogoutFailedError,
  isRefreshRefusedError,
  invalidTokenChallenge,
  RefreshRefusedError,
  RefreshUnavailableError,
  SessionExpiredError,
  type AuthFetch,
  type AuthFetchEvent,
  type AuthFetchOptions,
  type SessionSnapshot,
  type SessionStatus,
  type TokenStore,
} from 'refresh-coordinator';
import { attachAxios, type AxiosAttachment } from 'refresh-coordinator/axios';
import { useSession } from 'refresh-coordinator/react';

const store: TokenStore = {
  get: () => {
    const saved = sessionStorage.getItem('tokens');
    return saved ? (JSON.parse(saved) as { access: string; refresh: string }) : null;
  },
  set: (tokens) => {
    if (tokens) sessionStorage.setItem('tokens', JSON.stringify(tokens));
    else sessionStorage.removeItem('tokens');
  },
};

function describe(event: AuthFetchEvent): string {
  switch (event.type) {
    case 'refresh-start':
      return `attempt ${event.attempt}${event.ahead ? ' ahead of expiry' : ''}`;
    case 'refresh-end':
      if (event.ok) return `generation ${event.generation}`;
      if (event.ahead) return `ahead of expiry: ${event.reason}, session kept`;
      return `${event.reason} ${event.status ?? ''} retrying=${event.retrying}`;
    case 'replay':
      return `${event.method} ${event.url}`;
    case 'session-expired':
      return event.remote ? 'in another tab' : 'here';
    case 'logged-out':
      return 'logged out';
    case 'adopted':
      return `another tab refreshed: generation ${event.generation}`;
    case 'cross-tab-unavailable':
      return `this tab refreshes alone (${event.reason})`;
  }
}

const options: AuthFetchOptions = {
  mode: 'bearer',
  refreshUrl: '/api/token/refresh/',
  refreshMethod: 'POST',
  loginUrl: '/api/token/',
  logoutUrl: '/api/token/blacklist/',
  allowedOrigins: ['https://api.example.com'],
  exclude: ['/api/public/'],
  authScheme: 'JWT',
  tokenStore: store,
  csrf: { header: 'X-CSRFToken', cookie: 'csrftoken' },
  refreshTimeout: 10_000,
  waitTimeout: 30_000,
  refreshMargin: 30_000,
  retry: { limit: 3, baseDelay: 300, maxDelay: 5_000, maxRetryAfter: 30_000 },
  onSessionExpired: (error) => {
    const code: 'SESSION_EXPIRED' = error.code;
    console.log(code, error.request?.url);
  },
  onEvent: (event) => console.log(describe(event)),
  fetch: (input, init) => fetch(input, init),
};

export const authFetch: AuthFetch = createAuthFetch(options);
createAuthFetch();
createAuthFetch({ mode: 'cookie', csrf: {} });
// Tabs sharing one bearer flight, and a tab that keeps its flight to itself.
const sharedStore = localStorageTokenStore({ key: 'app:tokens' });
const sharedFlag: true = sharedStore.shared;
createAuthFetch({ mode: 'bearer', tokenStore: sharedStore, crossTab: sharedFlag });
createAuthFetch({ crossTab: false });
// @ts-expect-error crossTab is a boolean
createAuthFetch({ crossTab: 'yes' });
createAuthFetch({ logoutUrl: false });
// @ts-expect-error: logoutUrl is a URL or false
createAuthFetch({ logoutUrl: true });
// Refresh only after a 401.
createAuthFetch({ refreshMargin: false });
// @ts-expect-error: refreshMargin is milliseconds or false
createAuthFetch({ refreshMargin: true });

// @ts-expect-error: not a mode
createAuthFetch({ mode: 'session' });
// @ts-expect-error: milliseconds are numbers
createAuthFetch({ refreshTimeout: '10s' });
// @ts-expect-error: no such option
createAuthFetch({ refreshURL: '/refresh/' });

export async function load(): Promise<unknown> {
  await authFetch.ready;
  authFetch.setTokens({ access: 'a', refresh: 'r' });
  authFetch.sessionStarted();
  authFetch.clearTokens();
  const state = authFetch.state();
  console.log(state.generation, state.session, state.status, state.waiting, state.pending, state.faulted);
  // @ts-expect-error: state() has no 'refreshing' session, only the status does
  if (state.session === 'refreshing') console.log('never');
  const snapshot: SessionSnapshot = authFetch.getSnapshot();
  const status: SessionStatus = snapshot.status;
  // @ts-expect-error: the snapshot is read-only
  snapshot.generation = 2;
  const unsubscribe: () => void = authFetch.subscribe(() => console.log(authFetch.getSnapshot().refreshing));
  unsubscribe();
  try {
    await authFetch.logout();
  } catch (error) {
    if (isLogoutFailedError(error)) console.log(error.reason, error.status ?? status);
  }
  const response: Response = await authFetch('/api/data/1/', { method: 'POST', body: '{}', skipAuthRefresh: false });
  try {
    return await response.json();
  } catch (error) {
    if (isSessionExpiredError(error)) return error.code satisfies 'SESSION_EXPIRED';
    if (isLoggedOutError(error)) return error.code satisfies 'LOGGED_OUT';
    if (isRefreshUnavailableError(error)) return [error.reason, error.status];
    if (error instanceof RefreshUnavailableError) return error.reason;
    throw error;
  }
}

const api = axios.create({ baseURL: '/api/' });
const attachment: AxiosAttachment = attachAxios(api, authFetch);
attachment.detach();
const own = attachAxios(axios.create(), { mode: 'cookie' });
export const shared: AuthFetch = own.authFetch;

export async function list(): Promise<number[]> {
  await api.get('data/', { skipAuthRefresh: true, timeout: 5_000, signal: AbortSignal.timeout(1_000) });
  try {
    const { data } = await api.get<number[]>('data/');
    return data;
  } catch (error) {
    if (error instanceof AxiosError && isRefreshCoordinatorError(error.cause)) {
      const cause: Error = error.cause;
      if (cause instanceof SessionExpiredError) console.log(cause.name satisfies 'SessionExpiredError');
    }
    return [];
  }
}

// @ts-expect-error: skipAuthRefresh is a boolean
api.get('data/', { skipAuthRefresh: 'yes' });
// @ts-expect-error: an Axios instance is required
attachAxios({}, authFetch);

// The hook's result is the snapshot; its argument must be an AuthFetch.
export function useStatus(): SessionStatus {
  return useSession(authFetch).status;
}
// @ts-expect-error: useSession takes an authFetch, not options
useSession({ mode: 'cookie' });

// Dialects, a custom refresh and expiredWhen.
export const oauth: AuthFetch = createAuthFetch({
  mode: 'bearer',
  dialect: 'oauth2',
  clientId: 'spa',
  scope: 'read write',
  expiredWhen: invalidTokenChallenge,
});
export const custom: AuthFetch = createAuthFetch({
  mode: 'bearer',
  async refresh({ tokens, fetch }) {
    const response = await fetch('/api/token/refresh/', { method: 'POST', body: JSON.stringify({ refresh: tokens?.refresh }) });
    if (response.status === 401) throw new RefreshRefusedError('refused', { cause: response.status });
    const { access } = (await response.json()) as { access: string };
    return { access, expiresIn: 300 };
  },
  expiredWhen: ({ status, headers }) => status === 403 && headers.get('X-Expired') === '1',
});
export const refusedCode: 'REFRESH_REFUSED' = new RefreshRefusedError().code;
export const isRefused: boolean = isRefreshRefusedError(new Error('x'));
// @ts-expect-error: no such dialect
createAuthFetch({ mode: 'bearer', dialect: 'saml' });
// @ts-expect-error: the refresh result's access is a string
createAuthFetch({ mode: 'bearer', refresh: async () => ({ access: 7 }) });
