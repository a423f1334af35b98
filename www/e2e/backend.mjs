// The backend of the end-to-end tests: SimpleJWT's rotation with blacklist
// after rotation, the fault hooks, the package at /pkg and the test pages at
// /, plus each test's own flags; one instance on an in-memory database, or
// several on one PostgreSQL database behind a round-robin proxy.

import { ROOT, startBackend as start } from '../test/backend.mjs';
import { startCluster as cluster } from '../test/cluster.mjs';

export { ROOT, refreshCount } from '../test/backend.mjs';

export const USER = { username: 'alice', password: 'correct horse' };

const e2eFlags = (flags) => [
  '--rotate-refresh-tokens',
  '--blacklist-after-rotation',
  '--test-hooks',
  '--user', `${USER.username}:${USER.password}`,
  '--static', `/pkg=${ROOT}pkg`,
  '--static', `${ROOT}www/e2e/pages`,
  ...flags,
];

export function startBackend(flags = []) {
  return start(e2eFlags(flags));
}

/** `instances` of the same backend on a new database of `postgres` (see ../test/cluster.mjs). */
export function startCluster(postgres, flags = [], instances = 3) {
  return cluster(postgres, { flags: e2eFlags(flags), instances });
}

/** How many refreshes ended with `name` (`success`, `grace_reuse`, …). */
export function outcome(metrics, name) {
  return metrics[`refresh_requests_total{outcome="${name}"}`] ?? 0;
}
