// Strict options (issue 11): every mistake that used to pass silently is a
// TypeError at createAuthFetch, with a message that says what to do. The
// options module is plain JS, so these run in Node against src/web/options.js,
// once as a page (a `location`) and once as a server.

import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readOptions } from '../../src/web/options.js';

const PAGE = 'http://127.0.0.1:8000/app/';

function asPage() {
  globalThis.location = new URL(PAGE);
}

afterEach(() => {
  delete globalThis.location;
});

/** The TypeError `readOptions(options)` throws, asserted to be one. */
function thrown(options) {
  try {
    readOptions(options);
  } catch (error) {
    assert.ok(error instanceof TypeError, `${error} is a TypeError`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(options)} was accepted`);
}

describe('unknown names', () => {
  test('a misspelt option names the closest known one', () => {
    asPage();
    assert.equal(
      thrown({ onSessionExpire: () => {} }),
      'refresh-coordinator: options.onSessionExpire is not an option; did you mean options.onSessionExpired?',
    );
    assert.equal(
      thrown({ refreshURL: '/r/' }),
      'refresh-coordinator: options.refreshURL is not an option; did you mean options.refreshUrl?',
    );
    assert.equal(
      thrown({ allowedOrigin: [] }),
      'refresh-coordinator: options.allowedOrigin is not an option; did you mean options.allowedOrigins?',
    );
    assert.equal(
      thrown({ logoutURL: false }),
      'refresh-coordinator: options.logoutURL is not an option; did you mean options.logoutUrl?',
    );
  });

  test('a per-request option given to createAuthFetch is unknown there', () => {
    asPage();
    assert.match(thrown({ skipAuthRefresh: true }), /^refresh-coordinator: options\.skipAuthRefresh is not an option; did you mean options\.\w+\?$/);
  });

  test('nested objects are checked too', () => {
    asPage();
    assert.equal(
      thrown({ retry: { limt: 2 } }),
      'refresh-coordinator: options.retry.limt is not an option; did you mean options.retry.limit?',
    );
    assert.equal(
      thrown({ retry: { maxRetryAfterMs: 2 } }),
      'refresh-coordinator: options.retry.maxRetryAfterMs is not an option; did you mean options.retry.maxRetryAfter?',
    );
    assert.equal(
      thrown({ csrf: { headerName: 'X-CSRFToken' } }),
      'refresh-coordinator: options.csrf.headerName is not an option; did you mean options.csrf.header?',
    );
  });

  test('every documented name is accepted', () => {
    asPage();
    readOptions({
      mode: 'bearer',
      refreshUrl: '/api/token/refresh/',
      refreshMethod: 'POST',
      loginUrl: '/api/token/',
      logoutUrl: '/api/token/blacklist/',
      allowedOrigins: ['http://127.0.0.1:8000'],
      exclude: [],
      authScheme: 'JWT',
      tokenStore: { get: () => null, set: () => {} },
      csrf: { header: 'X-CSRFToken', cookie: 'csrftoken' },
      refreshTimeout: 1,
      waitTimeout: 1,
      refreshMargin: 1,
      retry: { limit: 1, baseDelay: 1, maxDelay: 1, maxRetryAfter: 1 },
      onSessionExpired: () => {},
      onEvent: () => {},
      fetch: async () => new Response(),
      dialect: 'simplejwt',
      refresh: async () => ({ access: 'a' }),
      expiredWhen: () => false,
    });
    readOptions({ mode: 'bearer', dialect: 'oauth2', clientId: 'c', scope: 'read' });
  });
});

describe('dialect', () => {
  test("each mode's default, and its endpoints", () => {
    asPage();
    assert.equal(readOptions({}).dialect, 'dj-rest-auth');
    assert.equal(readOptions({ mode: 'bearer' }).dialect, 'simplejwt');
    const oauth = readOptions({ mode: 'bearer', dialect: 'oauth2', clientId: 'spa' });
    assert.equal(oauth.refreshUrl, 'http://127.0.0.1:8000/o/token/');
    assert.equal(oauth.logoutUrl, 'http://127.0.0.1:8000/o/revoke_token/');
    assert.equal(oauth.clientId, 'spa');
    assert.equal(oauth.scope, undefined);
  });

  test('a dialect of the other mode, or none known, names the right ones', () => {
    asPage();
    assert.equal(
      thrown({ dialect: 'oauth2', clientId: 'spa' }),
      "refresh-coordinator: options.dialect must be 'dj-rest-auth' in mode 'cookie' ('oauth2' is for mode: 'bearer')",
    );
    assert.equal(
      thrown({ mode: 'bearer', dialect: 'dj-rest-auth' }),
      "refresh-coordinator: options.dialect must be 'simplejwt' or 'oauth2' in mode 'bearer' ('dj-rest-auth' is for mode: 'cookie')",
    );
    assert.equal(
      thrown({ mode: 'bearer', dialect: 'oidc' }),
      "refresh-coordinator: options.dialect must be 'simplejwt' or 'oauth2' in mode 'bearer'",
    );
  });

  test('oauth2 needs a client id; clientId and scope are for oauth2 only', () => {
    asPage();
    assert.equal(
      thrown({ mode: 'bearer', dialect: 'oauth2' }),
      "refresh-coordinator: options.clientId is required with dialect: 'oauth2' (the public client's id, sent as client_id)",
    );
    assert.equal(thrown({ mode: 'bearer', dialect: 'oauth2', clientId: 7 }), 'refresh-coordinator: options.clientId must be a string');
    assert.equal(thrown({ mode: 'bearer', clientId: 'spa' }), "refresh-coordinator: options.clientId is only for dialect: 'oauth2'");
    assert.equal(thrown({ mode: 'bearer', scope: 'read' }), "refresh-coordinator: options.scope is only for dialect: 'oauth2'");
  });

  test('refresh and expiredWhen must be functions', () => {
    asPage();
    assert.equal(thrown({ refresh: '/refresh' }), 'refresh-coordinator: options.refresh must be a function');
    assert.equal(thrown({ expiredWhen: [403] }), 'refresh-coordinator: options.expiredWhen must be a function');
  });
});

describe('refreshMargin', () => {
  test('30 s by default, milliseconds, or false for refreshing only after a 401', () => {
    asPage();
    assert.equal(readOptions({}).refreshMargin, 30_000);
    assert.equal(readOptions({ refreshMargin: 5_000 }).refreshMargin, 5_000);
    assert.equal(readOptions({ refreshMargin: false }).refreshMargin, false);
    for (const margin of [true, -1, '30s', Number.NaN]) {
      assert.equal(
        thrown({ refreshMargin: margin }),
        'refresh-coordinator: options.refreshMargin must be a number of milliseconds, 0 or more, or false to refresh only after a 401',
      );
    }
  });
});

describe('allowedOrigins', () => {
  test('an entry with a path is refused, and the bare origin suggested', () => {
    asPage();
    assert.equal(
      thrown({ allowedOrigins: ['http://127.0.0.1:8000', 'http://example.com/api'] }),
      "refresh-coordinator: options.allowedOrigins[1] must be a bare origin like 'https://api.example.com', " +
        `not "http://example.com/api" (did you mean 'http://example.com'?)`,
    );
  });

  test('a query, a fragment or user info is not a bare origin either', () => {
    asPage();
    for (const entry of ['https://api.example?x=1', 'https://api.example#top', 'https://me@api.example']) {
      assert.match(thrown({ allowedOrigins: [entry] }), /^refresh-coordinator: options\.allowedOrigins\[0\] must be a bare origin/);
    }
  });

  test('something that is not a URL, or has no origin, is refused', () => {
    asPage();
    assert.equal(
      thrown({ allowedOrigins: ['api.example.com'] }),
      `refresh-coordinator: options.allowedOrigins[0] must be an absolute origin like 'https://api.example.com', not "api.example.com"`,
    );
    assert.equal(
      thrown({ allowedOrigins: ['file:///tmp'] }),
      `refresh-coordinator: options.allowedOrigins[0] must be a bare origin like 'https://api.example.com', not "file:///tmp"`,
    );
  });

  test('a bare origin is kept as the URL parser serialises it', () => {
    asPage();
    const { allowedOrigins } = readOptions({
      allowedOrigins: ['http://127.0.0.1:8000', 'HTTPS://API.Example.com:443/'],
    });
    assert.deepEqual(allowedOrigins, ['http://127.0.0.1:8000', 'https://api.example.com']);
  });
});

describe('endpoints on an origin that is not allowed', () => {
  const NOT_ALLOWED = (key, url, origin) =>
    `refresh-coordinator: options.${key} ${JSON.stringify(url)} is on ${origin}, which is not in allowedOrigins ` +
    '(http://127.0.0.1:8000): add it there, or give a URL on an allowed origin';

  test('absolute, protocol-relative and backslash forms are all caught', () => {
    asPage();
    for (const key of ['refreshUrl', 'loginUrl', 'logoutUrl']) {
      for (const url of ['http://127.0.0.1:8001/x', '//127.0.0.1:8001/x', '/\\127.0.0.1:8001/x']) {
        assert.equal(thrown({ [key]: url }), NOT_ALLOWED(key, url, 'http://127.0.0.1:8001'));
      }
    }
  });

  test('in bearer mode too, where the refresh token would travel in the body', () => {
    asPage();
    assert.equal(
      thrown({ mode: 'bearer', refreshUrl: '//evil.example/api/token/refresh/' }),
      NOT_ALLOWED('refreshUrl', '//evil.example/api/token/refresh/', 'http://evil.example'),
    );
  });

  test('the defaults are refused when the page origin is left out of allowedOrigins', () => {
    asPage();
    assert.equal(
      thrown({ allowedOrigins: ['https://api.example.com'] }),
      'refresh-coordinator: options.refreshUrl "/api/auth/token/refresh/" is on http://127.0.0.1:8000, which is ' +
        'not in allowedOrigins (https://api.example.com): add it there, or give a URL on an allowed origin',
    );
  });

  test('endpoints on an allowed API origin are accepted', () => {
    asPage();
    const api = 'https://api.example.com';
    const options = readOptions({
      allowedOrigins: [api],
      refreshUrl: `${api}/api/auth/token/refresh/`,
      loginUrl: `${api}/api/auth/login/`,
      logoutUrl: `${api}/api/auth/logout/`,
    });
    assert.equal(options.logoutUrl, `${api}/api/auth/logout/`);
  });

  test('logoutUrl: false sends no logout request; anything else must be a string', () => {
    asPage();
    assert.equal(readOptions({ logoutUrl: false }).logoutUrl, null);
    assert.equal(
      thrown({ logoutUrl: true }),
      'refresh-coordinator: options.logoutUrl must be a string, or false for no logout request',
    );
  });
});

describe('on a server', () => {
  test('endpoints must be absolute once origins are allowed', () => {
    assert.equal(
      thrown({ allowedOrigins: ['https://api.example.com'] }),
      'refresh-coordinator: options.refreshUrl must be an absolute URL outside a page',
    );
  });

  test('the default logout URL is on the refresh URL origin', () => {
    const api = 'https://api.example.com';
    const options = readOptions({
      mode: 'bearer',
      allowedOrigins: [api],
      refreshUrl: `${api}/api/token/refresh/`,
      loginUrl: `${api}/api/token/`,
    });
    assert.equal(options.logoutUrl, `${api}/api/token/blacklist/`);
  });

  test('without allowedOrigins it warns once in use that nothing is coordinated', () => {
    assert.match(readOptions({}).serverWarning, /^refresh-coordinator: no options\.allowedOrigins outside a page/);
  });

  test("cookie mode with the runtime's own fetch warns that it keeps no cookies", () => {
    const api = 'https://api.example.com';
    const endpoints = { allowedOrigins: [api], refreshUrl: `${api}/r/`, loginUrl: `${api}/l/` };
    assert.match(readOptions(endpoints).serverWarning, /^refresh-coordinator: cookie mode with this runtime's fetch, which keeps no cookies/);
    assert.equal(readOptions({ ...endpoints, fetch: async () => new Response() }).serverWarning, null, 'an own fetch is trusted');
    assert.equal(readOptions({ ...endpoints, mode: 'bearer' }).serverWarning, null);
  });

  test('in a page there is nothing to warn about', () => {
    asPage();
    assert.equal(readOptions({}).serverWarning, null);
  });
});
