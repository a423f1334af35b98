// The reference backend as the JS tests, the benchmarks and `make demo` run
// it: one `refresh-backend` process on 127.0.0.1 (a free port unless told),
// an in-memory database (or the one named), stopped by its handle.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BINARY = process.env.REFRESH_BACKEND_BIN || `${ROOT}target/server/refresh-backend`;

/**
 * Starts `refresh-backend --addr ADDR --db DB --password-iterations 1000` plus
 * `flags`, with `env` added to its environment (a shared signing key, say:
 * the environment keeps it out of `ps`). Resolves,
 * once it printed its address, to `{ url, child, stop(), metrics(),
 * faults(plan) }`; rejects with its stderr if it exits first (a port in
 * use, say) or does not start within 10 s.
 */
export async function startBackend(flags = [], { addr = '127.0.0.1:0', db = ':memory:', env = {} } = {}) {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: cargo build --profile server -p refresh-backend`);
  }
  // Django's 1,000,000 PBKDF2 iterations would make every login of every
  // test pay a tenth of a second; the hashes' format is the same.
  const child = spawn(BINARY, ['--addr', addr, '--db', db, '--password-iterations', '1000', ...flags], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`refresh-backend on ${addr} did not start within 10 s`));
    }, 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${BINARY}: ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // The random-key notice is not why it stopped.
      const why = stderr
        .split('\n')
        .filter((line) => line.trim() && !line.includes('no --signing-key given'))
        .join('\n');
      reject(new Error(`refresh-backend on ${addr} exited (${code}): ${why}`));
    });
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
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    },
    /** The backend's Prometheus counters, as `{ 'name{labels}': value }`. */
    async metrics() {
      return parseMetrics(await (await fetch(`${url}/metrics`)).text());
    },
    /**
     * Puts the backend's clock `seconds` ahead (`/api/_test/clock`, needs
     * `--test-hooks`): its tokens age at once, where a test would otherwise
     * sleep through their lifetime and race it.
     */
    async advanceClock(seconds) {
      const response = await fetch(`${url}/api/_test/clock`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ advance_secs: seconds }),
      });
      if (!response.ok) throw new Error(`putting the clock ahead: ${response.status} ${await response.text()}`);
    },
    /** Arms `/api/_test/faults` (needs `--test-hooks`), replacing what was armed. */
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

/** One sample of Prometheus text: `name{labels}` and its value. */
export const METRIC_LINE = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/;

/** Prometheus text as `{ 'name{labels}': value }`. */
export function parseMetrics(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const match = METRIC_LINE.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

/** Sums `{ 'name{labels}': value }` objects key by key (the counters of several instances). */
export function sumMetrics(list) {
  const sums = {};
  for (const metrics of list) {
    for (const [key, value] of Object.entries(metrics)) sums[key] = (sums[key] ?? 0) + value;
  }
  return sums;
}

/** Refresh requests by outcome (`{ success: 1, blacklisted: 3 }`), zeros left out. */
export function refreshOutcomes(metrics) {
  const outcomes = {};
  for (const [key, value] of Object.entries(metrics)) {
    const match = /^refresh_requests_total\{outcome="(\w+)"\}$/.exec(key);
    if (match && value) outcomes[match[1]] = value;
  }
  return outcomes;
}

/** Refresh requests the backend saw, whatever their outcome. */
export function refreshCount(metrics) {
  return Object.values(refreshOutcomes(metrics)).reduce((sum, n) => sum + n, 0);
}
