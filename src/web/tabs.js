// The browser-wide side of a coordinator (rule 9): the Web Lock under which
// one tab refreshes, the shared state every tab reads (the browser-wide
// credential generation, and whether the session is active, ended or logged
// out), and the BroadcastChannel that tells the other tabs it changed. A
// message is a hint; the stored state is the truth. The core decides when
// to lock, what to store and what to adopt; this only carries it out.

/** Shared session codes, as `core_binding.rs` names them. */
export const SESSION = { ACTIVE: 0, ENDED: 1, LOGGED_OUT: 2 };

/**
 * Why the tabs cannot share one flight here, or null if they can: the app
 * must not have turned it off (`crossTab: false`), the credential must be shared between tabs (the cookie jar; in bearer mode a
 * token store that says `shared: true`), and the browser must have Web
 * Locks (insecure origins and old browsers do not). A `localStorage`
 * "lock" would not be atomic, so there is no fallback: each tab then has
 * its flight, and rule 5's confirmation still saves a tab that loses a race.
 */
export function crossTabUnavailable(options) {
  if (!options.crossTab) return 'turned-off';
  if (options.mode === 'bearer' && !(options.tokenStore && options.tokenStore.shared === true)) {
    return 'credential-not-shared';
  }
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (!locks || typeof locks.request !== 'function') return 'no-web-locks';
  return null;
}

/** The name tabs share for one credential: its refresh URL and store scope. */
export function sharedName(options) {
  const scope = options.tokenStore && typeof options.tokenStore.scope === 'string' ? `:${options.tokenStore.scope}` : '';
  return `refresh-coordinator:${options.mode}:${options.refreshUrl}${scope}`;
}

function storage() {
  try {
    return globalThis.localStorage || null;
  } catch {
    // Sandboxed frames throw on access.
    return null;
  }
}

/**
 * `{generation, session, expiresAt}` from a stored or sent value; null if it
 * is not one. `expiresAt` (ms since the epoch, on the clock the tabs share)
 * is when an active session's credential expires, null when unknown.
 */
function parseShared(value) {
  if (!value || typeof value !== 'object') return null;
  const { generation, session } = value;
  if (!Number.isSafeInteger(generation) || generation < 0) return null;
  if (session !== SESSION.ACTIVE && session !== SESSION.ENDED && session !== SESSION.LOGGED_OUT) return null;
  const expiresAt = Number.isFinite(value.expiresAt) && value.expiresAt > 0 ? value.expiresAt : null;
  return { generation, session, expiresAt };
}

const INITIAL = Object.freeze({ generation: 0, session: SESSION.ACTIVE, expiresAt: null });

export class SharedFlight {
  #key;
  #channel = null;
  /** Where storage is missing (a worker): the newest state seen. */
  #latest = INITIAL;
  /** The pending lock request's AbortController. */
  #request = null;
  /** Resolves the held lock's callback promise: releases it. */
  #release = null;

  /**
   * @param name from `sharedName`.
   * @param changed called (with no argument) when another tab may have
   *   changed the shared state: a message, a storage event, this page shown
   *   again or made visible. It re-reads `read()`.
   */
  constructor(name, changed) {
    this.#key = name;
    const heard = (value) => {
      const state = parseShared(value);
      if (state && state.generation >= this.#latest.generation) this.#latest = state;
      changed();
    };
    if (typeof BroadcastChannel === 'function') {
      try {
        this.#channel = new BroadcastChannel(name);
        this.#channel.onmessage = (event) => heard(event.data);
      } catch {
        // Opaque origins have no channel; storage events still come.
      }
    }
    const target = globalThis;
    if (typeof target.addEventListener === 'function') {
      target.addEventListener('storage', (event) => {
        if (event.key === this.#key) changed();
      });
      // A page restored from the back/forward cache, or a tab shown again,
      // may have slept through messages: re-read before it sends. (Not the
      // first pageshow of a load: a stored end of a session is never taken
      // on joining, only when it happens.)
      target.addEventListener('pageshow', (event) => event.persisted && changed());
      const doc = globalThis.document;
      if (doc && typeof doc.addEventListener === 'function') {
        doc.addEventListener('visibilitychange', () => doc.visibilityState === 'visible' && changed());
      }
    }
  }

  /** The shared state now: stored if there is storage, else the newest heard. */
  read() {
    const store = storage();
    if (!store) return this.#latest;
    try {
      return parseShared(JSON.parse(store.getItem(this.#key))) || INITIAL;
    } catch {
      return INITIAL;
    }
  }

  /** Stores the state, unless a newer generation is stored already. */
  persist(generation, session, expiresAt) {
    const state = { generation, session, expiresAt };
    if (generation >= this.#latest.generation) this.#latest = state;
    const store = storage();
    if (!store || this.read().generation > generation) return;
    try {
      store.setItem(this.#key, JSON.stringify(state));
    } catch {
      // Full or refused: the message still carries it.
    }
  }

  announce(generation, session, expiresAt) {
    try {
      if (this.#channel) this.#channel.postMessage({ generation, session, expiresAt });
    } catch {
      // A closed channel: storage events still tell.
    }
  }

  /**
   * Requests the lock; `granted()` runs when it is this tab's. The lock is
   * held until `release()`; a request withdrawn with `cancel()` before the
   * grant never runs `granted`, and a grant that comes anyway is given back.
   */
  acquire(granted) {
    const request = new AbortController();
    this.#request = request;
    globalThis.navigator.locks
      .request(this.#key, { signal: request.signal }, () => {
        if (this.#request !== request) return undefined; // withdrawn: give it back
        this.#request = null;
        return new Promise((release) => {
          this.#release = release;
          granted();
        });
      })
      .catch(() => {
        // AbortError when withdrawn; nothing else rejects a request.
      });
  }

  cancel() {
    const request = this.#request;
    this.#request = null;
    if (request) request.abort();
  }

  release() {
    const release = this.#release;
    this.#release = null;
    if (release) release();
  }
}
