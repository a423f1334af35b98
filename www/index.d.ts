// Types of refresh-coordinator's main entry (`refresh-coordinator`).

/** The access and refresh token of bearer mode, as SimpleJWT's `/api/token/` returns them. */
export interface Tokens {
  access: string;
  /** Absent or null when the server issues access tokens only. */
  refresh?: string | null;
}

/**
 * Where bearer mode keeps its tokens. Both methods are called synchronously;
 * an exception in `get` counts as "no tokens" and is reported.
 */
export interface TokenStore {
  /** The current tokens, or null when logged out. */
  get(): Tokens | null;
  /** Replaces the tokens; null clears them (logout, session end). */
  set(tokens: Tokens | null): void;
  /**
   * True when every tab of the origin reads and writes the same tokens (a
   * store over `localStorage`): then tabs share one refresh flight through
   * Web Locks. Leave it out for a store of this tab alone.
   */
  readonly shared?: boolean;
  /** Tells apart two shared stores on one origin (two sessions, two locks). */
  readonly scope?: string;
}

/** Cookie mode's CSRF header, sent with the refresh request. */
export interface CsrfOptions {
  /** The header that carries the token. Defaults to `'X-CSRFToken'` (Django). */
  header?: string;
  /** The cookie whose value is sent. Defaults to `'csrftoken'` (Django). */
  cookie?: string;
}

/** How a refresh that failed transiently (network error, 5xx, 408, 429, timeout) is retried. */
export interface RetryOptions {
  /** Retries after the first attempt. Defaults to `3`. */
  limit?: number;
  /** Milliseconds before the first retry; doubled for each further one, half of it random. Defaults to `300`. */
  baseDelay?: number;
  /** Milliseconds, the cap of the backoff. Defaults to `5000`. */
  maxDelay?: number;
  /**
   * Milliseconds; a `Retry-After` asking for longer is not waited out, the
   * waiting requests are rejected at once with `RefreshUnavailableError`
   * (`reason: 'retry-after-too-long'`). Defaults to `30000`.
   */
  maxRetryAfter?: number;
}

/** Options of `createAuthFetch` (and of `attachAxios` when it creates the coordinator). Every one is optional. */
export interface AuthFetchOptions {
  /**
   * How the credential travels. `'cookie'`: the server keeps HttpOnly
   * cookies (dj-rest-auth); requests go with `credentials: 'same-origin'` to
   * the page's origin and `'include'` to the other allowed origins, unless
   * the caller chose otherwise (a request sent without cookies then gets no
   * refresh handling: its 401 says nothing about the session).
   * `'bearer'`: an `Authorization: <authScheme> <access>` header from the
   * token store, and a SimpleJWT `{"refresh": ...}` body for the refresh.
   * Defaults to `'cookie'`.
   */
  mode?: 'cookie' | 'bearer';
  /**
   * How the refresh (and the logout) is asked for and its answer read.
   * Cookie mode: `'dj-rest-auth'` (no body; the cookie carries the refresh
   * token). Bearer mode: `'simplejwt'` (`{"refresh"}` in, `{"access",
   * "refresh"?}` out) or `'oauth2'` (RFC 6749 §6: a form-encoded
   * `grant_type=refresh_token` with `clientId` and `scope`; `access_token`,
   * a rotated `refresh_token`, `expires_in` out; `invalid_grant` and
   * `invalid_client` end the session, `temporarily_unavailable`, 5xx and 429
   * are retried; the logout is an RFC 7009 revocation). Defaults to
   * `'dj-rest-auth'` in cookie mode and `'simplejwt'` in bearer mode.
   */
  dialect?: 'dj-rest-auth' | 'simplejwt' | 'oauth2';
  /** `dialect: 'oauth2'` only, and required there: the public client's id, sent as `client_id`. */
  clientId?: string;
  /** `dialect: 'oauth2'` only: the `scope` asked for with each refresh. Defaults to none (the grant's own). */
  scope?: string;
  /**
   * The app's own refresh exchange, instead of the dialect's request: it
   * gets the current tokens (bearer mode) and a `fetch` to use, and
   * resolves with the new tokens (bearer mode; a missing `refresh` keeps
   * the old one), or with anything once the server set the rotated cookie
   * (cookie mode). It throws `RefreshRefusedError` when the server refused
   * the refresh credential: the session ends. Anything else it throws, or a
   * result without usable tokens, counts as a refresh that got no answer:
   * retried with backoff, and the session kept. What it threw is the
   * `cause` of the error every waiter gets. The coordinator still owns the
   * single flight across tabs, the queue, `refreshTimeout`, the retries and
   * the replays. `refreshUrl` then only names the credential (tabs share
   * one flight per name) and is excluded from refresh handling.
   */
  refresh?: (context: RefreshContext) => Promise<RefreshResult | void> | RefreshResult | void;
  /**
   * Which answers besides 401 mean the access credential expired (and get
   * a refresh and a replay), decided on the status and headers alone; the
   * body is never read. `invalidTokenChallenge` is a ready one: RFC 6750's
   * `WWW-Authenticate: Bearer error="invalid_token"`, on any status. A
   * throw is reported and counts as `false`. Defaults to none: only 401
   * (403 is a permission answer).
   */
  expiredWhen?: (answer: ExpiredAnswer) => boolean;
  /**
   * Where the refresh is sent, relative to the page (absolute outside a
   * page), on an allowed origin (else a `TypeError`). A redirect answer is
   * not followed: the waiting requests fail with `RefreshUnavailableError`
   * (`reason: 'redirect'`) and the session is kept. Defaults to
   * `'/api/auth/token/refresh/'` in cookie mode, `'/api/token/refresh/'`
   * with `'simplejwt'` and `'/o/token/'` with `'oauth2'` (Django OAuth Toolkit's).
   */
  refreshUrl?: string;
  /** The refresh request's method. Defaults to `'POST'`. */
  refreshMethod?: string;
  /**
   * The login endpoint: never waits behind a refresh, and in cookie mode a
   * 2xx answer to it through `authFetch` starts a new session. On an allowed
   * origin. Defaults to `'/api/auth/login/'` in cookie mode, `'/api/token/'`
   * with `'simplejwt'` and `'/o/token/'` with `'oauth2'`.
   */
  loginUrl?: string;
  /**
   * Where `logout()` sends its request, on an allowed origin: dj-rest-auth's
   * logout (the refresh cookie, with the CSRF header) in cookie mode,
   * SimpleJWT's blacklist (`{"refresh"}` body) in bearer mode; `false` sends
   * none and only ends the session here; with `'oauth2'`, an RFC 7009
   * revocation of the refresh token. Defaults to `'/api/auth/logout/'` in
   * cookie mode, `'/api/token/blacklist/'` with `'simplejwt'` and
   * `'/o/revoke_token/'` with `'oauth2'` (outside a page, on the refresh
   * URL's origin).
   */
  logoutUrl?: string | false;
  /**
   * Bare origins (`'https://api.example.com'`: no path, else a `TypeError`)
   * whose requests get credentials and refresh handling; anything else is
   * sent exactly as written. Defaults to the page's own origin.
   */
  allowedOrigins?: string[];
  /**
   * URL prefixes sent without refresh handling: `'/api/public/'` matches
   * paths on allowed origins, `'https://…'` absolute URLs. The refresh and
   * login URLs are always excluded. Defaults to `[]`.
   */
  exclude?: string[];
  /** Bearer mode's header type, SimpleJWT's `AUTH_HEADER_TYPES` (e.g. `'JWT'`). Defaults to `'Bearer'`. */
  authScheme?: string;
  /**
   * Bearer mode: where the tokens live, e.g. backed by `sessionStorage`.
   * Cookie mode never stores tokens. Defaults to a store in memory (gone on reload).
   */
  tokenStore?: TokenStore;
  /**
   * Share one refresh flight with the other tabs and workers of the origin
   * (Web Locks, a `BroadcastChannel`, the shared generation in
   * `localStorage`): one refresh per expiry per browser, a session end or a
   * logout in every tab. Applies in cookie mode, and in bearer mode with a
   * `shared` token store; where Web Locks are missing (insecure origins)
   * each tab refreshes on its own and a `cross-tab-unavailable` event says
   * so. `false` keeps the flight to this tab. Defaults to `true`.
   */
  crossTab?: boolean;
  /** Cookie mode: a CSRF header sent with the refresh and the logout. Defaults to none. */
  csrf?: CsrfOptions;
  /**
   * Milliseconds the coordinator waits for one refresh attempt's answer.
   * Past that the attempt counts as lost: in cookie mode a waiting request
   * checks whether its rotated cookie landed anyway, then the refresh is
   * retried with backoff (`retry`); when retries run out, the waiters are
   * rejected (`RefreshUnavailableError`, `reason: 'timeout'`) and the next
   * 401 starts afresh. The attempt is never cancelled, and its late
   * rotation is still adopted. Defaults to `10000`.
   */
  refreshTimeout?: number;
  /** Milliseconds a request may wait behind refreshes, retries included. Defaults to `30000`. */
  waitTimeout?: number;
  /**
   * Refresh ahead of a known expiry: a request issued within this many
   * milliseconds of the access credential's expiry first waits for one
   * refresh (through the same single flight, in any tab), and a visible
   * tab refreshes on a timer in that window, so no request spends a 401 on
   * an expired token. Never more than a third of the credential's
   * lifetime. The expiry is known from a refresh answer: the access JWT's
   * `exp − iat` (bearer), or dj-rest-auth's `access_expiration` against the
   * answer's `Date` (cookie), both on the server's clock, so a browser
   * clock that is off changes nothing. A refresh ahead that fails keeps the
   * session and lets the requests go with the still-valid credential.
   * `false` refreshes only after a 401. Defaults to `30000`.
   */
  refreshMargin?: number | false;
  /** Retries of a refresh that failed transiently. Defaults to `{limit: 3, baseDelay: 300, maxDelay: 5000, maxRetryAfter: 30000}`. */
  retry?: RetryOptions;
  /**
   * Called once per session end (the refresh was refused), with the error
   * the waiting requests are rejected with; the place to send the user to
   * the login view. Not called for `logout()`. Defaults to none.
   */
  onSessionExpired?: (error: SessionExpiredError) => void;
  /** Called with every coordinator event; see `AuthFetchEvent`. Defaults to none. */
  onEvent?: (event: AuthFetchEvent) => void;
  /**
   * The `fetch` that sends every request, the refresh included (a test
   * double, or an instrumented fetch). Defaults to `globalThis.fetch` as it
   * is when the coordinator is created.
   */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
}

/** What the `refresh` option's function is given. */
export interface RefreshContext {
  /** Bearer mode: the tokens to refresh (the refresh token is never null here). Cookie mode: null. */
  tokens: Tokens | null;
  /** The `fetch` the coordinator sends with (`options.fetch`), not through the coordinator. */
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
}

/** What the `refresh` option's function resolves with. */
export interface RefreshResult {
  /** Bearer mode: the new access token (visible ASCII, 16384 characters at most). */
  access?: string;
  /** Bearer mode: the rotated refresh token; absent or null keeps the old one. */
  refresh?: string | null;
  /** Seconds the new access credential lives (OAuth 2.0's `expires_in`), for refreshing ahead of expiry. */
  expiresIn?: number;
}

/** What `expiredWhen` is given: the answer's status and headers, not its body. */
export interface ExpiredAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly url: string;
}

/** A refresh attempt was sent; `attempt` is 1 for the first, 2 for the first retry, … */
export interface RefreshStartEvent {
  type: 'refresh-start';
  attempt: number;
  /** Sent ahead of the credential's known expiry (`refreshMargin`), before any 401. */
  ahead: boolean;
}

/** A refresh rotated the credential; `generation` is the new credential's number. */
export interface RefreshSucceededEvent {
  type: 'refresh-end';
  ok: true;
  generation: number;
}

/**
 * A refresh attempt failed; `retrying` tells whether another attempt
 * follows. A transient failure (`reason` other than `'refused'`) keeps the
 * session; a refusal that ends it comes as `session-expired` instead. With
 * `retrying: false` the session may also be kept on purpose: `ahead: true`
 * for a refresh ahead of expiry (the credential still works, its 401 will
 * refresh again), or `reason: 'refused'` for a refusal with no waiting
 * request to confirm it with, or one that another tab's newer credential
 * made moot (the next 401 refreshes, and confirms).
 */
export interface RefreshFailedEvent {
  type: 'refresh-end';
  ok: false;
  reason: RefreshUnavailableReason | 'refused';
  /** The HTTP status, for `reason: 'status'`. */
  status?: number;
  retrying: boolean;
  /** Set when the session was kept without a retry: whether the refresh was ahead of expiry. */
  ahead?: boolean;
}

/** A request that got a 401 was sent again with the new credential. */
export interface ReplayEvent {
  type: 'replay';
  method?: string;
  url?: string;
}

/** The session ended: a refresh was refused, here (`remote: false`) or in another tab. */
export interface SessionExpiredEvent {
  type: 'session-expired';
  remote: boolean;
}

/** Another tab rotated the credential (or logged in); this tab took it instead of refreshing. */
export interface AdoptedEvent {
  type: 'adopted';
  generation: number;
}

/** The tabs cannot share one flight here (no Web Locks): this tab refreshes on its own. Said once. */
export interface CrossTabUnavailableEvent {
  type: 'cross-tab-unavailable';
  reason: 'no-web-locks';
}

/** `logout()` ended the session. */
export interface LoggedOutEvent {
  type: 'logged-out';
}

export type AuthFetchEvent =
  | RefreshStartEvent
  | RefreshSucceededEvent
  | RefreshFailedEvent
  | ReplayEvent
  | SessionExpiredEvent
  | AdoptedEvent
  | CrossTabUnavailableEvent
  | LoggedOutEvent;

/** `RequestInit` plus the per-request opt-out. */
export interface AuthRequestInit extends RequestInit {
  /** Send this request without refresh handling: a 401 comes back as it is. Defaults to `false`. */
  skipAuthRefresh?: boolean;
}

/**
 * Where the session is, as far as the coordinator knows. `'loading'`: the
 * WebAssembly core is not loaded yet. `'active'`: nothing says the session
 * is over (in cookie mode the coordinator cannot see HttpOnly cookies, so
 * this is not proof of a login). `'refreshing'`: active, and a refresh is in
 * flight. `'ended'`: a refresh was refused; log in again. `'logged-out'`:
 * `logout()` was called.
 */
export type SessionStatus = 'loading' | 'active' | 'refreshing' | 'ended' | 'logged-out';

/**
 * What `getSnapshot()` returns and `useSession` renders: a frozen object,
 * the same one until one of its fields changes.
 */
export interface SessionSnapshot {
  readonly status: SessionStatus;
  /** The credential's number: how many refreshes (and logins) succeeded. */
  readonly generation: number;
  /** A refresh is in flight (also while `'ended'` or `'logged-out'`, until its answer). */
  readonly refreshing: boolean;
  /** The coordinator stopped: the wasm did not load, or an internal fault (every call rejects). */
  readonly faulted: boolean;
}

/** `state()`: the snapshot as of now, plus the queue, for debugging and tests. */
export interface AuthFetchState extends SessionSnapshot {
  /** `status` without `'refreshing'`. */
  readonly session: 'loading' | 'active' | 'ended' | 'logged-out';
  /** Requests waiting behind a refresh. */
  readonly waiting: number;
  /** Requests not yet settled. */
  readonly pending: number;
}

/** `fetch` with the coordinator's rules, plus the coordinator's controls. */
export interface AuthFetch {
  (input: RequestInfo | URL, init?: AuthRequestInit): Promise<Response>;
  /**
   * Settles when the WebAssembly core is loaded; rejects with why it could
   * not be (every call then rejects with the same error). Calls need not
   * wait for it: they queue until it is ready.
   */
  readonly ready: Promise<void>;
  /** Bearer mode: stores the tokens of a login and starts a new session. Throws a `TypeError` in cookie mode. */
  setTokens(tokens: Tokens): void;
  /**
   * Bearer mode: forgets the tokens, without ending the session or telling
   * the server (`logout()` does both). Does nothing in cookie mode.
   */
  clearTokens(): void;
  /**
   * A new session after a login made without `authFetch` (in cookie mode a
   * 2xx from `loginUrl` through `authFetch` does this by itself).
   */
  sessionStarted(): void;
  state(): AuthFetchState;
  /**
   * Ends the session here at once (waiting requests reject with
   * `LoggedOutError`, later 401s start no refresh and reject the same way,
   * the `logged-out` event fires, bearer tokens are forgotten), then sends
   * the `logoutUrl` request after any refresh in flight. Resolves when the
   * server logged out (2xx), when the token was dead already (401), or when
   * there was nothing to send; rejects with `LogoutFailedError` otherwise,
   * the session here having ended all the same. A later login starts afresh.
   */
  logout(): Promise<void>;
  /**
   * Calls `listener` after every change of `getSnapshot()`; returns the
   * function that stops it. The shape `useSyncExternalStore` takes.
   */
  subscribe(listener: () => void): () => void;
  /** The current snapshot, the same object until something in it changes. */
  getSnapshot(): SessionSnapshot;
}

/**
 * Creates a coordinator and returns a function with `fetch`'s signature that
 * applies it. Usable at once; the WebAssembly module loads behind it.
 * Throws a `TypeError` naming the first invalid option.
 */
export function createAuthFetch(options?: AuthFetchOptions): AuthFetch;

/**
 * Bearer mode: a token store over `localStorage[key]` (default
 * `'refresh-coordinator:tokens'`), shared by every tab of the origin, so the
 * tabs share one refresh flight. Anything running on the page can read
 * `localStorage`: cookie mode keeps tokens out of scripts' reach.
 */
export function localStorageTokenStore(options?: { key?: string }): TokenStore & { readonly shared: true; readonly scope: string };

export type RefreshUnavailableReason = 'timeout' | 'network' | 'status' | 'retry-after-too-long' | 'redirect';

/** Base class of every error the coordinator produces. */
export class RefreshCoordinatorError extends Error {
  readonly code: string;
  /** The request the error is about, when there is one. */
  readonly request: Request | undefined;
}

/** The refresh was refused (401/403): the user must log in again. */
export class SessionExpiredError extends RefreshCoordinatorError {
  readonly name: 'SessionExpiredError';
  readonly code: 'SESSION_EXPIRED';
}

/** Refreshing failed for now; the session is kept and a later try may work. */
export class RefreshUnavailableError extends RefreshCoordinatorError {
  readonly name: 'RefreshUnavailableError';
  readonly code: 'REFRESH_UNAVAILABLE';
  readonly reason: RefreshUnavailableReason;
  /** The last HTTP status, for `reason: 'status'`. */
  readonly status: number | undefined;
}

/** The request needed a replay, but its body was a stream already sent. */
export class ReplayNotPossibleError extends RefreshCoordinatorError {
  readonly name: 'ReplayNotPossibleError';
  readonly code: 'REPLAY_NOT_POSSIBLE';
}

/** A 401 after `logout()`: there is no session, and no refresh is tried until the next login. */
export class LoggedOutError extends RefreshCoordinatorError {
  readonly name: 'LoggedOutError';
  readonly code: 'LOGGED_OUT';
}

/** The logout request failed or was answered otherwise than 2xx/401; the session here has ended anyway. */
export class LogoutFailedError extends RefreshCoordinatorError {
  readonly name: 'LogoutFailedError';
  readonly code: 'LOGOUT_FAILED';
  readonly reason: 'network' | 'status' | 'redirect';
  /** The HTTP status, for `reason: 'status'`. */
  readonly status: number | undefined;
}

/** A bug inside the coordinator; every pending call is rejected with it rather than left hanging. */
export class CoordinatorFaultError extends RefreshCoordinatorError {
  readonly name: 'CoordinatorFaultError';
  readonly code: 'COORDINATOR_FAULT';
}

// The guards recognise errors from any copy of the package (by brand and
// code, not `instanceof`).
export function isRefreshCoordinatorError(error: unknown): error is RefreshCoordinatorError;
export function isSessionExpiredError(error: unknown): error is SessionExpiredError;
export function isRefreshUnavailableError(error: unknown): error is RefreshUnavailableError;
export function isReplayNotPossibleError(error: unknown): error is ReplayNotPossibleError;
export function isCoordinatorFaultError(error: unknown): error is CoordinatorFaultError;
export function isLoggedOutError(error: unknown): error is LoggedOutError;
export function isLogoutFailedError(error: unknown): error is LogoutFailedError;
export function isRefreshRefusedError(error: unknown): error is RefreshRefusedError;

/**
 * Thrown by the `refresh` option's function when the server refused the
 * refresh credential: the session ends, and every waiter's
 * `SessionExpiredError` has this error as its `cause`.
 */
export class RefreshRefusedError extends RefreshCoordinatorError {
  constructor(message?: string, options?: { cause?: unknown });
  readonly name: 'RefreshRefusedError';
  readonly code: 'REFRESH_REFUSED';
}

/** For `expiredWhen`: true when the answer has `WWW-Authenticate: Bearer error="invalid_token"`. */
export function invalidTokenChallenge(answer: ExpiredAnswer): boolean;
