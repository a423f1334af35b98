// refresh-coordinator under Node (the package's `node` export condition):
// server-side rendering, scripts and tests get the same API as a browser.
//
// Node's `fetch` cannot read `file:` URLs, so the .wasm is read from the
// package's own directory, synchronously, the first time a coordinator is
// created; importing this module does nothing. Outside a page there is no
// base URL: give `refreshUrl`, `loginUrl` and `allowedOrigins` absolutely.

import { readFileSync } from 'node:fs';
import { initSync } from './refresh_coordinator.js';
import { createAuthFetch as create } from './index.js';

export * from './index.js';

let loaded = false;

/** @type {typeof import('./index.js').createAuthFetch} */
export function createAuthFetch(options) {
  if (!loaded) {
    loaded = true;
    try {
      initSync({ module: readFileSync(new URL('./refresh_coordinator_bg.wasm', import.meta.url)) });
    } catch {
      // The file is missing (a bundler left it behind): the browser loader
      // below tries again by URL and rejects `ready` and every call with why.
    }
  }
  return create(options);
}
