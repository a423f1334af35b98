// The demo's two reference backends, as `make demo`, the demo test and the
// screenshot start them: SimpleJWT's worst case (rotation, blacklist after
// rotation, no grace window), an in-memory database, one seeded user.
//
// - The page backend serves the demo page at / and the package at /pkg, and
//   answers the coordinator panel (cookies `access`, `refresh`).
// - The naive backend answers the naive panel cross-origin (same site:
//   both on 127.0.0.1, so SameSite=Lax cookies flow). Cookies ignore ports,
//   so it names its cookies `naive_access`, `naive_refresh`; otherwise the
//   two panels would overwrite each other's session in the one cookie jar.
//
// Both have the fault hooks on: the page's "network" setting uses them to
// hold each refresh answer back, as a slow network would.
//
// With `cluster` (`make demo-cluster`) each of the two is three instances on
// one throw-away PostgreSQL (a database each), with atomic rotation, behind
// a round-robin proxy at the same address (../test/cluster.mjs; the proxy
// sums their /metrics and hands the fault hooks to every instance).

import { ROOT, startBackend } from '../test/backend.mjs';
import { startCluster } from '../test/cluster.mjs';
import { startPostgres } from '../test/postgres.mjs';

export { ROOT };

export const DEMO_USER = { username: 'alice', password: 'wonderland' };

export const CLUSTER_INSTANCES = 3;

/**
 * One of the demo's backends, at `addr`, with `flags` on top of the common
 * ones: one process, or with `postgres` (a `startPostgres()` handle) a
 * cluster on a new database of it.
 */
function start(addr, flags, postgres) {
  const all = [
    '--rotate-refresh-tokens',
    '--blacklist-after-rotation',
    '--test-hooks',
    '--user', `${DEMO_USER.username}:${DEMO_USER.password}`,
    ...flags,
  ];
  return postgres ? startCluster(postgres, { flags: all, addr, instances: CLUSTER_INSTANCES }) : startBackend(all, { addr });
}

/**
 * Starts both backends (each a cluster with `cluster`). `page` and `naive`
 * are addresses (`127.0.0.1:8000`, or port 0 for a free one);
 * `accessLifetime` is the access token lifetime (`15s`). The naive backend
 * allows the page's origin (and its `localhost` spelling) for credentialed
 * CORS.
 */
export async function startDemo({ page = '127.0.0.1:0', naive = '127.0.0.1:0', accessLifetime = '15s', cluster = false } = {}) {
  const lifetime = ['--access-token-lifetime', accessLifetime];
  const postgres = cluster ? await startPostgres('demo') : null;
  let pageBackend;
  let naiveBackend;
  try {
    pageBackend = await start(page, [...lifetime, '--static', `${ROOT}www/demo`, '--static', `/pkg=${ROOT}pkg`], postgres);
    const { port } = new URL(pageBackend.url);
    naiveBackend = await start(
      naive,
      [
        ...lifetime,
        '--access-cookie-name', 'naive_access',
        '--refresh-cookie-name', 'naive_refresh',
        '--cors-origin', pageBackend.url,
        '--cors-origin', `http://localhost:${port}`,
      ],
      postgres,
    );
  } catch (error) {
    await pageBackend?.stop();
    postgres?.stop();
    throw error;
  }
  return {
    pageUrl: pageBackend.url,
    naiveUrl: naiveBackend.url,
    backends: [pageBackend, naiveBackend],
    /** The page with the naive backend named in the query, as the test opens it. */
    demoUrl: `${pageBackend.url}/?naive=${encodeURIComponent(naiveBackend.url)}`,
    /** The PostgreSQL cluster's port, with `cluster`. */
    postgresPort: postgres?.port,
    async stop() {
      await Promise.all([pageBackend.stop(), naiveBackend.stop()]);
      postgres?.stop();
    },
  };
}
