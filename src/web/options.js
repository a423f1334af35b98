// The options object of `createAuthFetch`, read and checked once, when the
// coordinator is created: a wrong type is a TypeError naming the option,
// thrown there rather than on some later request. Every option is optional;
// the defaults are the ones the README and index.d.ts document.

const DEFAULTS = {
  cookie: { refreshUrl: '/api/auth/token/refresh/', loginUrl: '/api/auth/login/' },
  bearer: { refreshUrl: '/api/token/refresh/', loginUrl: '/api/token/' },
};

function fail(name, problem) {
  return new TypeError(`refresh-coordinator: options.${name} ${problem}`);
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
  const o = fields(options, '');
  const location = globalThis.location;
  const base = location && typeof location.href === 'string' ? location.href : undefined;

  const mode = o.string('mode') ?? 'cookie';
  if (mode !== 'cookie' && mode !== 'bearer') throw fail('mode', "must be 'cookie' or 'bearer'");

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
    const c = fields(csrfObject, 'csrf.');
    csrf = { header: c.string('header') ?? 'X-CSRFToken', cookie: c.string('cookie') ?? 'csrftoken' };
  }

  const allowed = o.strings('allowedOrigins');
  const allowedOrigins = allowed
    ? allowed.map((origin) => {
        try {
          return new URL(origin).origin;
        } catch {
          throw fail('allowedOrigins', "must list absolute origins like 'https://api.example.com'");
        }
      })
    : location && typeof location.origin === 'string'
      ? [location.origin]
      : [];

  // Outside a page (server-side rendering) nothing is coordinated unless the
  // app allows origins; only then must the endpoints be absolute.
  const resolve = (key) => {
    const url = o.string(key) ?? DEFAULTS[mode][key];
    if (!base && allowedOrigins.length === 0) return url;
    return absolute(key, url, base);
  };
  const refreshUrl = resolve('refreshUrl');
  const loginUrl = resolve('loginUrl');

  const retry = fields(o.raw('retry'), 'retry.');
  const fetch = o.func('fetch') ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch : undefined);
  if (!fetch) throw fail('fetch', 'is required: this environment has no global fetch');

  return {
    mode,
    refreshUrl,
    refreshMethod: o.string('refreshMethod') ?? 'POST',
    loginUrl,
    allowedOrigins,
    // The coordinator's own endpoints never wait behind a refresh.
    exclude: [...(o.strings('exclude') ?? []), refreshUrl, loginUrl],
    authScheme: o.string('authScheme') ?? 'Bearer',
    tokenStore,
    csrf,
    refreshTimeout: o.millis('refreshTimeout') ?? 10_000,
    waitTimeout: o.millis('waitTimeout') ?? 30_000,
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
  };
}
