// Several `refresh-backend` instances on one PostgreSQL database behind the
// round-robin proxy (proxy.mjs): one origin for the browser, every request
// the next instance. What the e2e cluster tests and `make demo-cluster` run.
//
// The instances share a signing key (each would otherwise refuse the
// others' tokens) and rotate atomically (`--atomic-rotation`: of concurrent
// refreshes of one token exactly one wins, wherever each lands). Each keeps
// its own counters, fault plan and test clock, so the handle reads and sets
// those on every instance directly, not through the proxy.

import { randomBytes } from 'node:crypto';
import { startBackend, sumMetrics } from './backend.mjs';
import { startProxy } from './proxy.mjs';

/**
 * Starts `instances` backends (`flags`, plus the database and the key) on a
 * new database of `postgres` (a `startPostgres()` handle), then the proxy at
 * `addr`. Resolves to a handle shaped as `startBackend`'s (`url` is the
 * proxy's; `metrics()` the sum) plus `instances`, `instanceMetrics()` and
 * `served` (requests the proxy sent each instance).
 */
export async function startCluster(postgres, { flags = [], instances = 3, addr = '127.0.0.1:0' } = {}) {
  const db = postgres.createDatabase();
  const env = { REFRESH_BACKEND_SIGNING_KEY: randomBytes(32).toString('hex') };
  const backends = [];
  const stopAll = () => Promise.all(backends.map((b) => b.stop()));
  try {
    // One after the other: the first creates the schema (under an advisory
    // lock anyway), the others find it.
    for (let i = 0; i < instances; i++) {
      backends.push(await startBackend(['--atomic-rotation', ...flags], { db, env }));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  let proxy;
  try {
    proxy = await startProxy(backends.map((b) => b.url), { addr });
  } catch (error) {
    await stopAll();
    throw error;
  }
  const instanceMetrics = () => Promise.all(backends.map((b) => b.metrics()));
  return {
    url: proxy.url,
    db,
    instances: backends,
    children: backends.map((b) => b.child),
    served: proxy.served,
    instanceMetrics,
    /** Every instance's counters, summed. */
    metrics: async () => sumMetrics(await instanceMetrics()),
    /** Puts every instance's clock `seconds` ahead (each has its own). */
    async advanceClock(seconds) {
      for (const b of backends) await b.advanceClock(seconds);
    },
    /** Arms the same fault plan on every instance (each keeps its own). */
    async faults(plan) {
      for (const b of backends) await b.faults(plan);
    },
    async stop() {
      await proxy.stop();
      await stopAll();
    },
  };
}
