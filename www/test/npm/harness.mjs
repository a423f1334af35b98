// Shared plumbing of the package tests: paths, the reference backend, static
// files, and bounded waiting on a condition.

import { existsSync } from 'node:fs';
import { ROOT, startBackend as start } from '../backend.mjs';
import { launch } from '../browser.mjs';

export { ROOT, refreshOutcomes } from '../backend.mjs';
export { serve as serveStatic } from '../serve.mjs';

export const APPS = `${ROOT}www/test/apps`;
export const EXAMPLE = `${ROOT}www/examples/react`;
export const TARBALL = `${ROOT}target/npm/refresh-coordinator.tgz`;

/**
 * Polls `condition` until it returns a truthy value (returned), at most
 * `attempts` times `interval` ms apart; throws naming `what` after that.
 */
export async function waitFor(what, condition, { attempts = 100, interval = 50 } = {}) {
  for (let i = 0; i < attempts; i += 1) {
    const value = await condition();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  throw new Error(`gave up waiting for ${what} after ${attempts * interval} ms`);
}

/**
 * Flags for tests that expire access tokens: ten-minute tokens, which no
 * test's queue outlives on any machine, and the test hooks, with which
 * `expireAccess` puts the backend's clock past the current one's life.
 */
export const EXPIRABLE = ['--access-token-lifetime', '10m', '--test-hooks'];

/**
 * Expires the access token the browser `context` holds: the backend's
 * clock goes past it, and a request with the context's cookies is refused.
 */
export async function expireAccess(backend, context) {
  await backend.advanceClock(601);
  await waitFor('the access token to be refused', async () => {
    const response = await context.request.get(`${backend.url}/api/data/1/`);
    return response.status() === 401;
  });
}

/**
 * Logs `page` in with its own `fetch` as alice:secret at dj-rest-auth's
 * login (cookie mode: the browser keeps the HttpOnly cookies).
 */
export async function logInPage(page) {
  const status = await page.evaluate(async () => {
    const response = await fetch('/api/auth/login/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'secret' }),
    });
    return response.status;
  });
  if (status !== 200) throw new Error(`logging in: ${status}`);
}

/**
 * The reference backend on a free 127.0.0.1 port: cookie and body mode,
 * rotation with blacklisting and no grace window (SimpleJWT's behaviour),
 * user alice:secret, `extra` flags appended.
 */
export function startBackend(extra = []) {
  return start([
    '--rotate-refresh-tokens',
    '--blacklist-after-rotation',
    '--user', 'alice:secret',
    ...extra,
  ]);
}

/**
 * The built React example (www/examples/react/dist) served by a fresh
 * backend (`flags` added), and a page of a fresh browser for it:
 * `{backend, browser, page}`. Close the browser, then stop the backend.
 */
export async function openExample(flags = []) {
  if (!existsSync(`${EXAMPLE}/dist/index.html`)) throw new Error('build the example first: make test-npm');
  const backend = await startBackend([...flags, '--static', `${EXAMPLE}/dist`]);
  const browser = await launch();
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  return { backend, browser, page };
}

/** Logs in from the example's login form, as alice:secret. */
export async function logInExample(page, backend) {
  await page.goto(`${backend.url}/`);
  await page.fill('input[name=password]', 'secret');
  await page.click('button[type=submit]');
}
