// Shared plumbing of the package tests: paths, the reference backend as a
// child process, its /metrics, and bounded waiting on a condition.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const APPS = `${ROOT}www/test/apps`;
export const EXAMPLE = `${ROOT}www/examples/react`;
export const TARBALL = `${ROOT}target/npm/refresh-coordinator.tgz`;
export const BACKEND = process.env.REFRESH_BACKEND || `${ROOT}target/server/refresh-backend`;

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
 * Starts the reference backend on a free 127.0.0.1 port: cookie and body
 * mode, rotation with blacklisting and no grace window (SimpleJWT's
 * behaviour), user alice:secret, `extra` flags appended. Resolves to
 * `{ url, metrics(), stop() }` once it printed its address.
 */
export async function startBackend(extra = []) {
  if (!existsSync(BACKEND)) {
    throw new Error(`${BACKEND} is missing: cargo build --profile server -p refresh-backend`);
  }
  const child = spawn(
    BACKEND,
    [
      '--addr', '127.0.0.1:0',
      '--db', ':memory:',
      '--rotate-refresh-tokens',
      '--blacklist-after-rotation',
      '--user', 'alice:secret',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`backend did not start: ${stderr}`)), 10_000);
    child.on('exit', (code) => reject(new Error(`backend exited with ${code}: ${stderr}`)));
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    url,
    /** `/metrics` as `{ 'name{labels}': value }`. */
    async metrics() {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Object.fromEntries(
        text
          .split('\n')
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => {
            const at = line.lastIndexOf(' ');
            return [line.slice(0, at), Number(line.slice(at + 1))];
          }),
      );
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Refresh requests by outcome from a `metrics()` snapshot. */
export function refreshOutcomes(metrics) {
  const outcomes = {};
  for (const [key, value] of Object.entries(metrics)) {
    const match = /^refresh_requests_total\{outcome="(\w+)"\}$/.exec(key);
    if (match && value) outcomes[match[1]] = value;
  }
  return outcomes;
}

/**
 * `serve(mounts)` of ../serve.mjs, with a `close()` that does not wait for
 * the browser's idle keep-alive sockets (Chromium keeps some open, unused,
 * for minutes; `server.close()` alone waits for them).
 */
export async function serveStatic(mounts) {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { extname, join, normalize, sep } = await import('node:path');
  const types = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.wasm': 'application/wasm',
    '.json': 'application/json',
  };
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    const prefix = Object.keys(mounts)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p));
    const root = prefix && normalize(mounts[prefix]);
    const file = root && normalize(join(root, path.slice(prefix.length)));
    if (!file || (file !== root && !file.startsWith(root + sep))) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
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
