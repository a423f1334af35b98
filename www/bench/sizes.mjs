// Sizes for `make bench`: what the package ships, and what it adds to an
// app's production build. Each app of www/test/apps/sizes is built by Vite
// from the installed tarball (as an app builds it); an app's size is the
// sum of gzip -9 of every file the build emits (JS and .wasm, each as a
// server would send it), and a client's cost is its app minus the app
// without it.

import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { ROOT } from '../test/backend.mjs';

const APPS = `${ROOT}www/test/apps/sizes`;
const OUT = `${ROOT}target/bench/sizes`;
const PKG = `${ROOT}pkg`;
/** What a browser downloads for `createAuthFetch`, file by file (the Makefile's `size` list). */
const PAYLOAD = [
  'refresh_coordinator_bg.wasm',
  'refresh_coordinator.js',
  'index.js',
  'coordinator.js',
  'options.js',
  'errors.js',
  'tabs.js',
  'token-stores.js',
  'dialects.js',
];

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;

/** Every file under `dir`, recursively. */
async function files(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await files(path)));
    else found.push(path);
  }
  return found;
}

/** Builds one app; resolves to gzip bytes of its output. */
async function appSize(name) {
  const outDir = join(OUT, name);
  await rm(outDir, { recursive: true, force: true });
  await build({
    root: APPS,
    logLevel: 'warn',
    configFile: false,
    build: {
      outDir,
      emptyOutDir: true,
      // No inlining of the .wasm as base64: it is fetched as its own file,
      // as the package loads it.
      assetsInlineLimit: 0,
      rollupOptions: { input: join(APPS, `${name}.js`) },
    },
  });
  let total = 0;
  for (const file of await files(outDir)) {
    if (/\.(js|mjs|wasm)$/.test(file)) total += gzip(await readFile(file));
  }
  return total;
}

/** The size keys of www/bench/results.json. */
export async function measureSizes() {
  const app = {};
  for (const name of ['base', 'fetch', 'axios', 'axios-attach', 'axios-auth-refresh']) app[name] = await appSize(name);
  let shipped = 0;
  let wasm = 0;
  for (const file of PAYLOAD) {
    const bytes = gzip(await readFile(join(PKG, file)));
    shipped += bytes;
    if (file.endsWith('.wasm')) wasm = bytes;
  }
  return {
    bundle_gzip_bytes: app.fetch - app.base,
    bundle_gzip_bytes_axios: app['axios-attach'] - app.axios,
    shipped_gzip_bytes: shipped,
    wasm_gzip_bytes: wasm,
    peer_gzip_bytes: {
      'axios-auth-refresh': app['axios-auth-refresh'] - app.axios,
      axios: app.axios - app.base,
    },
  };
}
