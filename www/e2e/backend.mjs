// The reference backend for the end-to-end tests: one process per test, on
// 127.0.0.1 and a free port, in-memory SQLite, stopped by its handle.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BINARY = process.env.REFRESH_BACKEND_BIN || `${ROOT}/target/server/refresh-backend`;

export const USER = { username: 'alice', password: 'correct horse' };

/**
 * Starts `refresh-backend` with SimpleJWT rotation and blacklist on, the
 * test hooks, the package and the test pages, plus `flags`.
 */
export async function startBackend(flags = []) {
  const args = [
    '--addr', '127.0.0.1:0',
    '--db', ':memory:',
    '--rotate-refresh-tokens',
    '--blacklist-after-rotation',
    '--test-hooks',
    '--user', `${USER.username}:${USER.password}`,
    '--static', `/pkg=${ROOT}/pkg`,
    '--static', `${ROOT}/www/e2e/pages`,
    ...flags,
  ];
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('refresh-backend did not start in 10 s')), 10_000);
    child.on('exit', (code) => reject(new Error(`refresh-backend exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
    /** The backend's Prometheus counters, as `{ 'name{labels}': value }`. */
    async metrics() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const values = {};
      for (const line of text.split('\n')) {
        const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (match) values[match[1]] = Number(match[2]);
      }
      return values;
    },
    /** Arms `/api/_test/faults` (replacing what was armed). */
    async faults(plan) {
      const response = await fetch(`${url}/api/_test/faults`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(plan),
      });
      if (!response.ok) throw new Error(`arming faults: ${response.status} ${await response.text()}`);
    },
  };
}

/** Refresh attempts the backend saw, whatever their outcome. */
export function refreshCount(metrics) {
  return Object.entries(metrics)
    .filter(([key]) => key.startsWith('refresh_requests_total{'))
    .reduce((sum, [, value]) => sum + value, 0);
}

export function outcome(metrics, name) {
  return metrics[`refresh_requests_total{outcome="${name}"}`] ?? 0;
}
