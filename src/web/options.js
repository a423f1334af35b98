// The options object of `createAuthFetch`, read and checked once, when the
// coordinator is created: a wrong type, a misspelt name, an origin that is
// not bare, an endpoint on an origin that gets no credentials, each is a
// TypeError naming the option, thrown there rather than showing up later as
// a request that silently went without refresh handling. Every option is
// optional; the defaults are the ones the README and index.d.ts document.

import { DIALECTS } from './dialects.js';

const DEFAULTS = {
  'dj-rest-auth': { refreshUrl: '/api/auth/token/refresh/', loginUrl: '/api/auth/login/', logoutUrl: '/api/auth/logout/' },
  simplejwt: { refreshUrl: '/api/token/refresh/', loginUrl: '/api/token/', logoutUrl: '/api/token/blacklist/' },
  // Django OAuth Toolkit's paths; RFC 7009 revocation for the logout.
  oauth2: { refreshUrl: '/o/token/', loginUrl: '/o/token/', logoutUrl: '/o/revoke_token/' },
};

/** Every option name, and the names inside the nested objects. */
const KNOWN = {
  '': [
    'mode',
    'dialect',
    'clientId',
    'scope',
    'refresh',
    'expiredWhen',
    'refreshUrl',
    'refreshMethod',
    'loginUrl',
    'logoutUrl',
    'allowedOrigins',
    'exclude',
    'authScheme',
    'tokenStore',
    'crossTab',
    'csrf',
    'refreshTimeout',
    'waitTimeout',
    'refreshMargin',
    'retry',
    'onSessionExpired',
    'onEvent',
    'fetch',
  ],
  'retry.': ['limit', 'baseDelay', 'maxDelay', 'maxRetryAfter'],
  'csrf.': ['header', 'cookie'],
};

/** A boolean option; `fallback` when left out. */
function readFlag(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw fail(name, 'must be true or false');
  return value;
}

function fail(name, problem) {
  return new TypeError(`refresh-coordinator: options.${name} ${problem}`);
}

/** Edit distance (insertions, deletions, substitutions, swaps), ignoring case. */
function distance(a, b) {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let before = null;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (before && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j], before[j - 2] + 1);
      }
    }
    before = previous;
    previous = row;
  }
  return previous[b.length];
}

/** The known name closest to `name` (the first of equals, in documented order). */
function closest(name, known) {
  let best = known[0];
  for (const candidate of known) if (distance(name, candidate) < distance(name, best)) best = candidate;
  return best;
}

/**
 * A misspelt option would otherwise be ignored without a word
 * (`onSessionExpire` never called): every own key must be a known name.
 */
function rejectUnknown(object, prefix) {
  if (object == null || typeof object !== 'object') return;
  const known = KNOWN[prefix];
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw fail(prefix + key, `is not an option; did you mean options.${prefix}${closest(key, known)}?`);
    }
  }
}

/**
 * An entry of `allowedOrigins`: a bare origin (scheme, host, port), since
 * credentials go by origin and a path in it would suggest otherwise.
 */
function bareOrigin(entry, index) {
  const name = `allowedOrigins[${index}]`;
  let url;
  try {
    url = new URL(entry);
  } catch {
    throw fail(name, `must be an absolute origin like 'https://api.example.com', not ${JSON.stringify(entry)}`);
  }
  const bare = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@]+\/?$/i.test(entry);
  if (url.origin === 'null' || !bare) {
    const hint = url.origin === 'null' ? '' : ` (did you mean '${url.origin}'?)`;
    throw fail(name, `must be a bare origin like 'https://api.example.com', not ${JSON.stringify(entry)}${hint}`);
  }
  return url.origin;
}

/** Typed reads of one object; `prefix` names it in messages. */
function fields(object, prefix) {
  const raw = (key) => (object != null && typeof object === 'object' ? object[key] : undefined);
  const name = (key) => prefix + key;
  return {
    raw,
    string(key) {
      const v = raw(key);
      if (v === undefined) return undefined;
      if (typeof v !== 'string') throw fail(name(key), 'must be a string');
      return v;
    },
    strings(key) {
      const v = raw(key);
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
        throw fail(name(key), 'must be an array of strings');
      }
      return v;
    },
    func(key) {
      const v = raw(key);
      if (v == null) return undefined;
      if (typeof v !== 'function') throw fail(name(key), 'must be a function');
      return v;
    },
    millis(key) {
      const v = raw(key);
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw fail(name(key), 'must be a number of milliseconds, 0 or more');
      }
      return v;
    },
    count(key) {
      const v = raw(key);
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw fail(name(key), 'must be a whole number, 0 or more');
      }
      return v;
    },
  };
}

/** `url` made absolute against the page; outside a page it must be absolute. */
function absolute(name, url, base) {
  try {
    return new URL(url, base).href;
  } catch {
    throw fail(name, base ? 'must be a URL' : 'must be an absolute URL outside a page');
  }
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws {TypeError} naming the first option of the wrong type or value.
 */
export function readOptions(options) {
  if (options != null && typeof options !== 'object') {
    throw new TypeError('refresh-coordinator: options must be an object');
  }
  rejectUnknown(options, '');
  const o = fields(options, '');
  const location = globalThis.location;
  const base = location && typeof location.href === 'string' ? location.href : undefined;
  const pageOrigin = location && typeof location.origin === 'string' ? location.origin : undefined;

  const mode = o.string('mode') ?? 'cookie';
  if (mode !== 'cookie' && mode !== 'bearer') throw fail('mode', "must be 'cookie' or 'bearer'");
  const { dialect, clientId, scope } = readDialect(o, mode);

  let tokenStore;
  if (mode === 'bearer') {
    const store = o.raw('tokenStore');
    if (store != null) {
      const methods = fields(store, 'tokenStore.');
      if (!methods.func('get') || !methods.func('set')) {
        throw fail('tokenStore', 'must have get() and set(tokens) methods');
      }
      tokenStore = store;
    }
  }

  const csrfObject = o.raw('csrf');
  let csrf;
  if (csrfObject != null) {
    rejectUnknown(csrfObject, 'csrf.');
    const c = fields(csrfObject, 'csrf.');
    csrf = { header: c.string('header') ?? 'X-CSRFToken', cookie: c.string('cookie') ?? 'csrftoken' };
  }

  const allowed = o.strings('allowedOrigins');
  const allowedOrigins = allowed ? allowed.map(bareOrigin) : pageOrigin ? [pageOrigin] : [];

  // Outside a page (server-side rendering) nothing is coordinated unless the
  // app allows origins; only then must the endpoints be absolute. Where they
  // are resolved, each must land on an allowed origin: the coordinator sends
  // credentials nowhere else, so an endpoint elsewhere could never work, and
  // `'//other/x'` or `'/\\other/x'` (a backslash is a slash to the URL
  // parser) would have sent the refresh token to another host.
  const coordinating = Boolean(base) || allowedOrigins.length > 0;
  const endpoint = (key, url, against = base) => {
    if (!coordinating) return url;
    const href = absolute(key, url, against);
    const origin = new URL(href).origin;
    if (!allowedOrigins.includes(origin)) {
      throw fail(
        key,
        `${JSON.stringify(url)} is on ${origin}, which is not in allowedOrigins ` +
          `(${allowedOrigins.join(', ') || 'none'}): add it there, or give a URL on an allowed origin`,
      );
    }
    return href;
  };
  const refreshUrl = endpoint('refreshUrl', o.string('refreshUrl') ?? DEFAULTS[dialect].refreshUrl);
  const loginUrl = endpoint('loginUrl', o.string('loginUrl') ?? DEFAULTS[dialect].loginUrl);
  const logoutRaw = o.raw('logoutUrl');
  if (logoutRaw !== undefined && logoutRaw !== false && logoutRaw !== null && typeof logoutRaw !== 'string') {
    throw fail('logoutUrl', 'must be a string, or false for no logout request');
  }
  // Outside a page the default logout URL is on the refresh URL's origin,
  // so an app that configured the refresh URL needs nothing more.
  const logoutUrl =
    logoutRaw === false || logoutRaw === null
      ? null
      : logoutRaw === undefined
        ? endpoint('logoutUrl', DEFAULTS[dialect].logoutUrl, base ?? refreshUrl)
        : endpoint('logoutUrl', logoutRaw);

  const retryObject = o.raw('retry');
  rejectUnknown(retryObject, 'retry.');
  const retry = fields(retryObject, 'retry.');
  const ownFetch = o.func('fetch');
  const fetch = ownFetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch : undefined);
  if (!fetch) throw fail('fetch', 'is required: this environment has no global fetch');

  return {
    mode,
    dialect,
    clientId,
    scope,
    /** The app's own refresh exchange, if it gives one. */
    refresh: o.func('refresh'),
    /** Which answers besides 401 mean the access credential expired. */
    expiredWhen: o.func('expiredWhen'),
    refreshUrl,
    refreshMethod: o.string('refreshMethod') ?? 'POST',
    loginUrl,
    logoutUrl,
    allowedOrigins,
    /** The page's own origin; undefined outside a page. */
    pageOrigin,
    // The coordinator's own endpoints never wait behind a refresh.
    exclude: [...(o.strings('exclude') ?? []), refreshUrl, loginUrl, ...(logoutUrl ? [logoutUrl] : [])],
    authScheme: o.string('authScheme') ?? 'Bearer',
    tokenStore,
    crossTab: readFlag(o.raw('crossTab'), 'crossTab', true),
    csrf,
    refreshTimeout: o.millis('refreshTimeout') ?? 10_000,
    waitTimeout: o.millis('waitTimeout') ?? 30_000,
    refreshMargin: readMargin(o),
    retry: {
      limit: retry.count('limit') ?? 3,
      baseDelay: retry.millis('baseDelay') ?? 300,
      maxDelay: retry.millis('maxDelay') ?? 5_000,
      maxRetryAfter: retry.millis('maxRetryAfter') ?? 30_000,
    },
    onSessionExpired: o.func('onSessionExpired'),
    onEvent: o.func('onEvent'),
    // Taken now: if the app later replaces globalThis.fetch with the
    // coordinator itself, the coordinator must not call itself.
    fetch,
    serverWarning: serverWarning(mode, allowedOrigins, ownFetch, base),
  };
}

/**
 * The refresh dialect (see dialects.js) and, for OAuth 2.0, the client it
 * refreshes as. Each mode has its own dialects: cookie mode's refresh token
 * is a cookie the page never sees, bearer mode's is sent in the body.
 */
function readDialect(o, mode) {
  const known = DIALECTS[mode];
  const dialect = o.string('dialect') ?? known[0];
  if (!known.includes(dialect)) {
    const other = mode === 'cookie' ? 'bearer' : 'cookie';
    const hint = DIALECTS[other].includes(dialect) ? ` ('${dialect}' is for mode: '${other}')` : '';
    throw fail('dialect', `must be ${known.map((d) => `'${d}'`).join(' or ')} in mode '${mode}'${hint}`);
  }
  const clientId = o.string('clientId');
  const scope = o.string('scope');
  if (dialect === 'oauth2') {
    if (!clientId) throw fail('clientId', "is required with dialect: 'oauth2' (the public client's id, sent as client_id)");
  } else {
    if (clientId !== undefined) throw fail('clientId', "is only for dialect: 'oauth2'");
    if (scope !== undefined) throw fail('scope', "is only for dialect: 'oauth2'");
  }
  return { dialect, clientId, scope };
}

/**
 * How long before a known expiry to refresh ahead (ms), or false for only
 * after a 401. 30 s by default: a refresh round trip on a slow mobile
 * network and the requests held behind it fit in it, and with five-minute
 * tokens it costs one refresh in ten more. The core never uses more than a
 * third of a credential's lifetime.
 */
function readMargin(o) {
  const value = o.raw('refreshMargin');
  if (value === undefined) return 30_000;
  if (value === false) return false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw fail('refreshMargin', 'must be a number of milliseconds, 0 or more, or false to refresh only after a 401');
  }
  return value;
}

/**
 * What to say once, on first use, when the coordinator runs on a server
 * and cannot do what it is asked; null when nothing. Not thrown: a module
 * shared by server and client creates its `authFetch` on both, and the
 * server may never use it. Not said at creation, which must stay quiet for
 * server-side rendering.
 */
function serverWarning(mode, allowedOrigins, ownFetch, base) {
  const process = globalThis.process;
  const server = process != null && process.versions != null && typeof process.versions.node === 'string';
  if (!server || base !== undefined) return null;
  if (allowedOrigins.length === 0) {
    return (
      'refresh-coordinator: no options.allowedOrigins outside a page: every request is sent as written, ' +
      'without credentials or refresh handling. Give allowedOrigins and absolute URLs to coordinate on a server.'
    );
  }
  if (mode === 'cookie' && !ownFetch) {
    return (
      "refresh-coordinator: cookie mode with this runtime's fetch, which keeps no cookies: the cookies a " +
      'login sets are never sent back, and the first 401 ends the session. Give options.fetch a fetch ' +
      "that keeps cookies (a cookie jar), or use mode: 'bearer'."
    );
  }
  return null;
}
