// The backend of the end-to-end tests: SimpleJWT's rotation with blacklist
// after rotation, the fault hooks, the package at /pkg and the test pages at
// /, plus each test's own flags.

import { ROOT, startBackend as start } from '../test/backend.mjs';

export { ROOT, refreshCount } from '../test/backend.mjs';

export const USER = { username: 'alice', password: 'correct horse' };

export function startBackend(flags = []) {
  return start([
    '--rotate-refresh-tokens',
    '--blacklist-after-rotation',
    '--test-hooks',
    '--user', `${USER.username}:${USER.password}`,
    '--static', `/pkg=${ROOT}pkg`,
    '--static', `${ROOT}www/e2e/pages`,
    ...flags,
  ]);
}

/** How many refreshes ended with `name` (`success`, `grace_reuse`, …). */
export function outcome(metrics, name) {
  return metrics[`refresh_requests_total{outcome="${name}"}`] ?? 0;
}
