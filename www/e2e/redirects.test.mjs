// Credentials never follow a redirect off the allowed origins (issue 11), in
// headless Chromium against the reference backend, cookie and bearer mode.
//
// The page's origin is a small front server that proxies to the backend
// and answers `/redir/...` with a 307 to a second origin on the same host
// (another port: cookies ignore ports, so the browser holds the backend's
// cookies for it too). That origin records what reached it. A refresh
// redirected there must not be followed; a coordinated request redirected
// there may be followed, as fetch does, but must carry no credential.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as forward } from 'node:http';
import { launchBrowser } from '../test/browser.mjs';
import { USER, refreshCount, startBackend } from './backend.mjs';

/** Starts `handler` on a free 127.0.0.1 port; resolves to `{url, close}`. */
async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

let backend;
let other;
let front;
let browser;
/** Every request the other origin received: {method, path, cookie, authorization, body}. */
const received = [];

before(async () => {
  backend = await startBackend();
  other = await listen((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({
        method: req.method,
        path: req.url,
        cookie: req.headers.cookie ?? null,
        authorization: req.headers.authorization ?? null,
        body,
      });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  const target = new URL(backend.url);
  front = await listen((req, res) => {
    if (req.url.startsWith('/redir/')) {
      req.resume();
      res.writeHead(307, { Location: `${other.url}/stolen${req.url.slice('/redir'.length)}` }).end();
      return;
    }
    const proxied = forward(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    proxied.on('error', () => res.writeHead(502).end());
    req.pipe(proxied);
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await front?.close();
  await other?.close();
  await backend?.stop();
});

/**
 * A fresh browser context (its own cookie jar) with a page on the front
 * origin, logged in in `mode` through a coordinator made with `options`
 * (kept as `window.t`).
 */
async function loggedIn(mode, options) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${front.url}/e2e.html`);
  await page.evaluate(
    async ([m, o, user]) => {
      const pkg = await import('/pkg/index.js');
      const authFetch = pkg.createAuthFetch({ mode: m, ...o });
      const login = m === 'cookie' ? '/api/auth/login/' : '/api/token/';
      const response = await authFetch(login, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(user),
      });
      if (!response.ok) throw new Error(`login: ${response.status}`);
      const tokens = m === 'bearer' ? await response.json() : null;
      if (tokens) authFetch.setTokens(tokens);
      window.t = { pkg, authFetch, tokens };
    },
    [mode, options, USER],
  );
  return { context, page };
}

/** Makes the access credential stale, as an expiry does. */
async function expireAccess(context, page, mode) {
  if (mode === 'cookie') await context.clearCookies({ name: 'access' });
  else await page.evaluate(() => window.t.authFetch.setTokens({ access: 'expired', refresh: window.t.tokens.refresh }));
}

describe('a refresh answered with a redirect to another origin', () => {
  for (const mode of ['cookie', 'bearer']) {
    test(`is not followed, fails typed, keeps the session (${mode})`, async () => {
      received.length = 0;
      const refreshesBefore = refreshCount(await backend.metrics());
      const { context, page } = await loggedIn(mode, { refreshUrl: '/redir/refresh/' });
      try {
        await expireAccess(context, page, mode);
        const result = await page.evaluate(async () => {
          const { authFetch, pkg } = window.t;
          const error = await authFetch('/api/data/1/').then(
            (response) => new Error(`answered ${response.status}`),
            (e) => e,
          );
          return {
            typed: pkg.isRefreshUnavailableError(error),
            reason: error.reason,
            session: authFetch.state().session,
          };
        });
        assert.deepEqual(result, { typed: true, reason: 'redirect', session: 'active' });
        assert.deepEqual(received, [], 'the other origin received nothing');
        assert.equal(refreshCount(await backend.metrics()), refreshesBefore, 'the backend saw no refresh');
      } finally {
        await context.close();
      }
    });
  }
});

describe('a coordinated request redirected to another origin', () => {
  test('carries no cookie there (cookie mode), where credentials: include would have', async () => {
    received.length = 0;
    const { context, page } = await loggedIn('cookie', {});
    try {
      const outcome = await page.evaluate(() =>
        window.t.authFetch('/redir/data/1/').then(
          (response) => response.status,
          (error) => error.name,
        ),
      );
      assert.equal(received.length, 1, `followed, as fetch does (${outcome})`);
      assert.equal(received[0].cookie, null, 'no cookie reached the other origin');

      // The control: the same redirect with cookies for every origin shows
      // the cookies the browser holds for that host.
      await page.evaluate(() => fetch('/redir/data/2/', { credentials: 'include' }).catch(() => {}));
      assert.equal(received.length, 2);
      assert.match(received[1].cookie ?? '', /(^|; )refresh=/, 'the test would see a leak');
    } finally {
      await context.close();
    }
  });

  test('carries no Authorization header there (bearer mode)', async () => {
    received.length = 0;
    const { context, page } = await loggedIn('bearer', {});
    try {
      await page.evaluate(() => window.t.authFetch('/redir/data/1/').catch(() => {}));
      assert.equal(received.length, 1);
      assert.equal(received[0].authorization, null, 'the browser dropped it at the origin change');
      assert.equal(received[0].cookie, null);
    } finally {
      await context.close();
    }
  });
});
