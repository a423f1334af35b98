// What one panel saw: the requests and refreshes of the run on screen (for
// the timeline), counters since the last login in this tab (kept across
// reloads in sessionStorage), and the session: logged in or not and when
// the access token expires, as every tab knows it (localStorage, like the
// cookies; never a token), and whether this tab's client ended it
// (sessionStorage: an app that saw its session end shows the login page,
// whatever the other tabs do).

/** Set when the page is going away: requests cut off by a reload are not failures of the client. */
let leaving = false;
addEventListener('pagehide', () => {
  leaving = true;
});
export function leave() {
  leaving = true;
}

const now = () => performance.now();

const COUNTERS = ['requests', 'ok', 'failed', 'refreshes', 'replays', 'sessionEnds'];

/** A send of a request (or a refresh) on the wire, until its answer. */
class Send {
  constructor(onAnswer) {
    this.start = now();
    this.end = null;
    /** The HTTP status, or 'network'. */
    this.status = null;
    this.onAnswer = onAnswer;
  }
  answered(status) {
    this.end = now();
    this.status = status;
    if (this.onAnswer) this.onAnswer(this);
  }
}

export class Recorder {
  /** `name` keys the storage; `changed()` is called after every change. */
  constructor(name, changed) {
    this.name = name;
    this.changed = changed;
    this.counterKey = `rc-demo:counters:${name}`;
    this.sessionKey = `rc-demo:session:${name}`;
    this.endedKey = `rc-demo:ended:${name}`;
    this.counters = { ...Object.fromEntries(COUNTERS.map((c) => [c, 0])), ...this.read(sessionStorage, this.counterKey) };
    this.run = null;
    this.byUrl = new Map();
  }

  read(storage, key) {
    try {
      return JSON.parse(storage.getItem(key) || 'null') || {};
    } catch {
      return {};
    }
  }

  bump(counter) {
    this.counters[counter] += 1;
    sessionStorage.setItem(this.counterKey, JSON.stringify(this.counters));
    this.changed();
  }

  resetCounters() {
    for (const c of COUNTERS) this.counters[c] = 0;
    sessionStorage.setItem(this.counterKey, JSON.stringify(this.counters));
    this.run = null;
    this.byUrl.clear();
    this.changed();
  }

  // The session, shared by the tabs.

  /** `{status: 'out' | 'in' | 'ended', user, expiresAt, reason}`. */
  get session() {
    const shared = { status: 'out', expiresAt: null, ...this.read(localStorage, this.sessionKey) };
    const ended = sessionStorage.getItem(this.endedKey);
    return ended !== null && shared.status === 'in' ? { ...shared, status: 'ended', reason: ended } : shared;
  }

  setSession(update) {
    const shared = { status: 'out', expiresAt: null, ...this.read(localStorage, this.sessionKey) };
    localStorage.setItem(this.sessionKey, JSON.stringify({ ...shared, ...update }));
    this.changed();
  }

  loggedIn(user, expiration) {
    sessionStorage.removeItem(this.endedKey);
    const expiresAt = Date.parse(expiration) || null;
    // The access token lifetime, to estimate the expiry of a refresh whose
    // answer this page never reads (a reload cut it off; the cookie landed).
    const lifetime = expiresAt && Math.round((expiresAt - Date.now()) / 1000) * 1000;
    this.setSession({ status: 'in', user, expiresAt, lifetime, approximate: false });
  }

  loggedOut() {
    sessionStorage.removeItem(this.endedKey);
    this.setSession({ status: 'out', expiresAt: null });
  }

  expiresAt(expiration) {
    this.setSession({ expiresAt: Date.parse(expiration) || null, approximate: false });
  }

  // The run on screen.

  /** Starts a new run unless the current one still has requests out. */
  beginRun() {
    if (this.run && this.pending() > 0) return this.run;
    this.run = { t0: now(), requests: [], refreshes: [], adoptions: [] };
    this.byUrl.clear();
    return this.run;
  }

  pending() {
    return this.run ? this.run.requests.filter((r) => r.settled === null).length : 0;
  }

  /** The app issued a request (the timeline's row). */
  issued(url) {
    const request = { url, issued: now(), sends: [], settled: null, ok: null, outcome: null };
    this.run.requests.push(request);
    this.byUrl.set(url, request);
    this.bump('requests');
    return request;
  }

  /** A request went on the wire; null for requests not on the timeline. */
  sent(url) {
    const request = this.byUrl.get(url);
    if (!request) return null;
    const send = new Send(() => this.changed());
    request.sends.push(send);
    this.changed();
    return send;
  }

  settled(request, ok, outcome) {
    if (leaving) return;
    request.settled = now();
    request.ok = ok;
    request.outcome = outcome;
    this.bump(ok ? 'ok' : 'failed');
  }

  refreshStarted() {
    const { lifetime } = this.session;
    if (lifetime) this.setSession({ expiresAt: Date.now() + lifetime, approximate: true });
    const send = new Send(() => this.changed());
    if (this.run) this.run.refreshes.push(send);
    this.bump('refreshes');
    return send;
  }

  replayed() {
    this.bump('replays');
  }

  /** Another tab refreshed, and this tab's client took its rotation instead of refreshing. */
  adopted() {
    if (this.run) this.run.adoptions.push(now());
    this.changed();
  }

  sessionEnded(reason) {
    sessionStorage.setItem(this.endedKey, reason);
    this.bump('sessionEnds');
  }
}
