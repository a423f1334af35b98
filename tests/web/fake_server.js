// A scripted stand-in for `fetch`, installed by the browser tests in place
// of the network. It plays a SimpleJWT server with rotation and blacklist
// after rotation, and the browser's cookie jar, using the platform's real
// Request, Response, Headers, FormData and Blob. Data requests are answered
// at once unless the test holds them; refreshes are held until the test
// answers them, so every interleaving is chosen by the test (gates, not
// sleeps).

const ORIGIN = globalThis.location.origin;

export const DATA = `${ORIGIN}/api/data/`;
export const COOKIE_REFRESH = `${ORIGIN}/api/auth/token/refresh/`;
export const BEARER_REFRESH = `${ORIGIN}/api/token/refresh/`;
export const LOGIN = `${ORIGIN}/api/auth/login/`;

/**
 * How long (ms) `refreshesArrived` waits: far past the few ms a refresh
 * takes to be sent even on a loaded machine, well inside the test runner's
 * limit for the whole page.
 */
const REFRESH_WAIT = 15000;

/** A promise and its resolver: a gate the test opens. */
export function gate() {
  let open;
  const promise = new Promise((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export class FakeServer {
  constructor({ mode = 'cookie' } = {}) {
    this.mode = mode;
    // Credentials are numbers: access `a<N>`, refresh `r<N>`. The server
    // accepts exactly one access and one refresh credential at a time.
    this.validAccess = 'a1';
    this.validRefresh = 'r1';
    this.nextNumber = 2;
    // The browser's cookie jar (cookie mode).
    this.jar = { access: 'a1', refresh: 'r1' };
    /** Every data request as the server saw it. */
    this.seen = [];
    /** Refreshes received, each waiting for the test's answer. */
    this.refreshes = [];
    this.refreshArrived = gate();
    /** When set, data requests wait until the test releases them. */
    this.holdData = false;
    this.held = [];
    this.fetch = (input, init) => this.#fetch(input, init);
  }

  /** The access credential expires: every request with it now gets 401. */
  expireAccess() {
    this.validAccess = 'expired';
  }

  async #fetch(input, init) {
    const request = new Request(input, init);
    // A page's two-tab scenarios each use their own refresh URL (a query
    // after the path), so no coordinator of an earlier scenario shares it.
    const endpoint = request.url.split('?')[0];
    if (endpoint === COOKIE_REFRESH || endpoint === BEARER_REFRESH) {
      return this.#refresh(request);
    }
    if (request.url === LOGIN) {
      return this.#login();
    }
    const record = {
      url: request.url,
      method: request.method,
      credentials: request.credentials,
      authorization: request.headers.get('Authorization'),
      contentType: request.headers.get('Content-Type'),
      body: request.method === 'GET' ? null : new Uint8Array(await request.arrayBuffer()),
      // The credential as it is when the request leaves: a cookie is read
      // from the jar at send time, which is what makes replays meaningful.
      credential: this.#credentialOf(request),
    };
    this.seen.push(record);
    if (this.holdData) {
      const g = gate();
      this.held.push({ record, release: g.open });
      await g.promise;
    }
    return this.#answerData(record);
  }

  #credentialOf(request) {
    if (this.mode === 'bearer') {
      const header = request.headers.get('Authorization') || '';
      return header.startsWith('Bearer ') ? header.slice(7) : null;
    }
    return request.credentials === 'omit' ? null : this.jar.access;
  }

  #answerData(record) {
    if (record.credential !== this.validAccess) {
      return json(401, { detail: 'Given token not valid for any token type', code: 'token_not_valid' });
    }
    if (record.url.includes('/forbidden/')) return json(403, { detail: 'You do not have permission.' });
    return json(200, { url: record.url, credential: record.credential });
  }

  /** Releases held data requests, answering with the server state of now. */
  releaseHeld() {
    const held = this.held;
    this.held = [];
    for (const h of held) h.release();
  }

  #refresh(request) {
    const exchange = {
      request,
      keepalive: request.keepalive,
      credentials: request.credentials,
      refreshToken: null,
    };
    const answered = new Promise((resolve, reject) => {
      exchange.resolve = resolve;
      exchange.reject = reject;
    });
    const arrived = (async () => {
      if (this.mode === 'bearer') {
        const body = await request.clone().json();
        exchange.refreshToken = body.refresh;
      } else {
        exchange.refreshToken = this.jar.refresh;
      }
    })();
    arrived.then(() => {
      this.refreshes.push(exchange);
      const g = this.refreshArrived;
      this.refreshArrived = gate();
      g.open(exchange);
    });
    return answered;
  }

  /**
   * Waits until `count` refreshes have arrived in all; throws if they have
   * not after `REFRESH_WAIT` ms, so a scenario that sends too few fails
   * saying so instead of holding the test page.
   */
  async refreshesArrived(count) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out waiting for refresh ${count}: ${this.refreshes.length} arrived`)),
        REFRESH_WAIT,
      );
    });
    try {
      while (this.refreshes.length < count) await Promise.race([this.refreshArrived.promise, late]);
    } finally {
      clearTimeout(timer);
    }
    return this.refreshes[count - 1];
  }

  /**
   * Answers the oldest unanswered refresh as the real server would. With
   * `lifetimeSecs` the answer tells the new access token's life as
   * SimpleJWT and dj-rest-auth do: a JWT with `iat` and `exp` (bearer), or
   * `access_expiration` beside a `Date` header (cookie). Without it, the
   * answer tells nothing the client can count from: an opaque token, or an
   * `access_expiration` without a `Date`. `newest` answers the newest
   * unanswered refresh instead of the oldest.
   */
  rotate({ lifetimeSecs, newest = false } = {}) {
    const exchange = this.#unanswered(newest);
    if (exchange.refreshToken !== this.validRefresh) {
      exchange.resolve(json(401, { detail: 'Token is blacklisted', code: 'token_not_valid' }));
      return;
    }
    const n = this.nextNumber++;
    const iat = Math.floor(Date.now() / 1000);
    const told = lifetimeSecs !== undefined;
    this.validAccess = told && this.mode === 'bearer' ? fakeJwt({ token_type: 'access', iat, exp: iat + lifetimeSecs, n }) : `a${n}`;
    this.validRefresh = `r${n}`;
    if (this.mode === 'bearer') {
      exchange.resolve(json(200, { access: this.validAccess, refresh: this.validRefresh }));
    } else {
      this.jar = { access: this.validAccess, refresh: this.validRefresh };
      const expiration = new Date((iat + (told ? lifetimeSecs : 300)) * 1000).toISOString();
      const headers = told ? { Date: new Date(iat * 1000).toUTCString() } : {};
      exchange.resolve(json(200, { access: '', access_expiration: expiration }, headers));
    }
  }

  /** Answers the oldest unanswered refresh with `status` (and no rotation). */
  refuse(status = 401, headers = {}) {
    const body =
      status === 401
        ? { detail: 'Token is blacklisted', code: 'token_not_valid' }
        : { detail: 'Server error' };
    this.#unanswered().resolve(json(status, body, headers));
  }

  /**
   * The rotation happens on the server (and the cookie lands when `cookieLands`),
   * but the page gets a network error instead of the answer.
   */
  loseAnswer({ cookieLands = false } = {}) {
    const exchange = this.#unanswered();
    const n = this.nextNumber++;
    this.validAccess = `a${n}`;
    this.validRefresh = `r${n}`;
    if (cookieLands) this.jar = { access: this.validAccess, refresh: this.validRefresh };
    exchange.reject(new TypeError('Failed to fetch'));
  }

  #unanswered(newest = false) {
    const open = this.refreshes.filter((e) => !e.done);
    const exchange = newest ? open[open.length - 1] : open[0];
    if (!exchange) throw new Error('no refresh is waiting for an answer');
    exchange.done = true;
    return exchange;
  }

  #login() {
    this.login();
    return json(200, { access: '', refresh: '' });
  }

  /** A new login: fresh credentials, set as cookies, returned as tokens. */
  login() {
    const n = this.nextNumber++;
    this.validAccess = `a${n}`;
    this.validRefresh = `r${n}`;
    this.jar = { access: this.validAccess, refresh: this.validRefresh };
    return this.tokens();
  }

  /** The currently valid tokens, as a bearer-mode app holds them. */
  tokens() {
    return { access: this.validAccess, refresh: this.validRefresh };
  }
}

/** A JWT-shaped token with these claims (base64url, unsigned: a stand-in). */
function fakeJwt(claims) {
  const encode = (value) => btoa(JSON.stringify(value)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}.signature`;
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/**
 * Checks the stand-in itself against the SimpleJWT behaviour the scenarios
 * rely on; throws on the first difference.
 */
export async function selfCheck() {
  const server = new FakeServer({ mode: 'bearer' });
  const ok = (r, status, what) => {
    if (r.status !== status) throw new Error(`${what}: ${r.status}, not ${status}`);
  };
  const auth = (token) => ({ headers: { Authorization: `Bearer ${token}` } });
  ok(await server.fetch(`${DATA}1/`, auth('a1')), 200, 'valid access');
  server.expireAccess();
  ok(await server.fetch(`${DATA}1/`, auth('a1')), 401, 'expired access');
  const body = (refresh) => ({ method: 'POST', body: JSON.stringify({ refresh }) });
  const first = server.fetch(BEARER_REFRESH, body('r1'));
  await server.refreshesArrived(1);
  server.rotate();
  const tokens = await (await first).json();
  ok(await server.fetch(`${DATA}1/`, auth(tokens.access)), 200, 'rotated access');
  const reuse = server.fetch(BEARER_REFRESH, body('r1'));
  await server.refreshesArrived(2);
  server.rotate();
  ok(await reuse, 401, 'blacklisted refresh token reused');
}
