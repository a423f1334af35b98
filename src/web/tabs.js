// The browser-wide side of a coordinator (rule 9): the Web Lock under which
// one tab refreshes, the shared state every tab reads (the browser-wide
// credential generation, and whether the session is active, ended or logged
// out), and the BroadcastChannel that tells the other tabs it changed. A
// message is a hint; the stored state is the truth. The core decides when
// to lock, what to store and what to adopt; this only carries it out.
//
// Workers (dedicated and service workers) have Web Locks and the channel
// but no localStorage, and a page cannot read what a worker would keep in
// memory. So the shared state is also kept in IndexedDB, which every
// agent of the origin has: written before the lock is released, read when
// the lock is granted and when joining. Messages stay hints; without
// IndexedDB the lock still orders the refreshes, and the newest state
// heard stands in for the stored one.

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
 * How long (ms) the lock waits for IndexedDB before going on without it:
 * a read or write that takes longer than this is not waited for. Far past
 * a healthy one (a few ms), short beside `refreshTimeout`.
 */
export const STORE_BOUND = 2000;

/** How often (ms) a lock grant re-checks whether the credential store caught up. */
export const CATCH_UP_POLL = 10;

/** `promise`'s value, or `fallback` if it has not settled within `ms`. */
function within(promise, ms, fallback) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}

/** `check()`, with a throw counting as true: nothing to wait for then. */
function settled(check) {
  try {
    return check();
  } catch {
    return true;
  }
}

const DATABASE = 'refresh-coordinator';
const STATES = 'shared';
/** The key of a shared state's refresh note: its lock name and this. */
const SENT = ':refresh-sent';
let opening = null;

/** This origin's database of shared states (one per agent); null without IndexedDB. */
function database() {
  opening ??= new Promise((resolve) => {
    try {
      const request = globalThis.indexedDB.open(DATABASE, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STATES);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    } catch {
      // No IndexedDB (a server), or refused (opaque origins).
      resolve(null);
    }
  });
  return opening;
}

/**
 * Runs `f(store, done)` in one transaction of the states; resolves to what
 * `done` was given, or null if anything fails. A write resolves only once
 * its transaction committed: what another agent reads after that sees it.
 */
async function transact(mode, f) {
  const db = await database();
  if (!db) return null;
  return new Promise((resolve) => {
    try {
      const transaction = db.transaction(STATES, mode);
      let result = null;
      f(transaction.objectStore(STATES), (value) => {
        result = value;
      });
      transaction.oncomplete = () => resolve(result);
      transaction.onerror = () => resolve(null);
      transaction.onabort = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
}

/**
 * The newer of two shared states: the higher generation; within one, an
 * end or a logout (a generation starts active and can only end).
 */
function newest(a, b) {
  if (!a) return b;
  if (!b || a.generation > b.generation) return a;
  if (b.generation > a.generation) return b;
  return a.session === SESSION.ACTIVE && b.session !== SESSION.ACTIVE ? b : a;
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
  /** The newest state this agent heard, persisted or read from IndexedDB. */
  #latest = INITIAL;
  /** This agent's IndexedDB writes, in order: the lock is released after them. */
  #writing = Promise.resolve();
  /** Resolves to the shared generation when this agent joined (see `joined`). */
  #joined;
  /** The refresh note (see `noteSent`) as last read or written here. */
  #sent = 0;
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
      this.#latest = newest(parseShared(value), this.#latest);
      changed();
    };
    const stored = this.read().generation;
    this.#joined = this.#fetchStored().then((state) => Math.max(stored, state ? state.generation : 0));
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

  /**
   * Resolves, within a bound, to the shared generation when this agent
   * joined: localStorage's or, where a worker stored it, IndexedDB's.
   */
  get joined() {
    return this.#joined;
  }

  /** The shared state now: the newest of localStorage's and what this agent heard or read. */
  read() {
    const store = storage();
    if (!store) return this.#latest;
    let stored = INITIAL;
    try {
      stored = parseShared(JSON.parse(store.getItem(this.#key))) || INITIAL;
    } catch {
      // Unreadable: what was heard stands.
    }
    return newest(this.#latest, stored);
  }

  /**
   * Reads IndexedDB's state into `#latest` and its refresh note into
   * `#sent`, and resolves to the state (bounded; null if it fails).
   */
  #fetchStored() {
    const read = transact('readonly', (states, done) => {
      const state = states.get(this.#key);
      const sent = states.get(this.#key + SENT);
      // Requests of one transaction succeed in order: `state` is read.
      sent.onsuccess = () => done({ state: parseShared(state.result), sent: Number(sent.result) || 0 });
    });
    return within(read, STORE_BOUND, null).then((stored) => {
      if (!stored) return null;
      this.#latest = newest(this.#latest, stored.state);
      this.#sent = stored.sent;
      return stored.state;
    });
  }

  /**
   * Notes that this page sent a refresh at `at` (ms since the epoch), or
   * that none is out (0): the refresh note of coordinator.js, kept here too
   * for the workers, which cannot read localStorage (written before the
   * lock goes, like the state; best effort for a page that goes away at
   * once). Only a page notes one: its `keepalive` refresh outlives it, a
   * worker's does not (Chromium cancels a terminated worker's fetches,
   * keepalive or not; www/e2e/workers.test.mjs), and a note would only
   * make the next holder wait for a cookie that never lands.
   */
  noteSent(at) {
    if (!storage()) return;
    this.#sent = at;
    const key = this.#key + SENT;
    const write = () =>
      transact('readwrite', (states) => {
        if (at) states.put(at, key);
        else states.delete(key);
      });
    this.#writing = this.#writing.then(() => within(write(), STORE_BOUND, null));
  }

  /** When the last noted refresh was sent, as of the last grant or join; 0 for none. */
  sentAt() {
    return this.#sent;
  }

  /** Stores the state, unless a newer generation is stored already. */
  persist(generation, session, expiresAt) {
    const state = { generation, session, expiresAt };
    this.#latest = newest(state, this.#latest);
    const key = this.#key;
    const write = () =>
      transact('readwrite', (states) => {
        const request = states.get(key);
        request.onsuccess = () => {
          const current = parseShared(request.result);
          if (!current || current.generation <= generation) states.put(state, key);
        };
      });
    this.#writing = this.#writing.then(() => within(write(), STORE_BOUND, null));
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
   * Before `granted()` runs, `caughtUp()` is polled until it says true, for
   * `STORE_BOUND` at most: the state read may be ahead of the credential
   * this agent can read (see coordinator.js).
   */
  acquire(granted, caughtUp = () => true) {
    const request = new AbortController();
    this.#request = request;
    globalThis.navigator.locks
      .request(this.#key, { signal: request.signal }, async () => {
        if (this.#request !== request) return undefined; // withdrawn: give it back
        // What the last holder stored before it let go, wherever it ran:
        // a worker's state is only in IndexedDB.
        await this.#fetchStored();
        for (let waited = 0; waited < STORE_BOUND && !settled(caughtUp); waited += CATCH_UP_POLL) {
          if (this.#request !== request) return undefined;
          await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL));
        }
        if (this.#request !== request) return undefined; // withdrawn meanwhile
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

  /** Releases the lock once this agent's IndexedDB writes are done (bounded each). */
  release() {
    const release = this.#release;
    this.#release = null;
    if (release) this.#writing.then(release);
  }
}
