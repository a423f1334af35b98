// Measures how the wasm should be loaded (a benchmark, run by
// `make bench-loading`, never asserted): the shipped package, which fetches
// `refresh_coordinator_bg.wasm` by a URL resolved with `import.meta.url`,
// against the same package with the module inlined as base64 in a JS file.
// Prints the bytes a browser downloads (gzip -9) and the median time from
// navigation to `authFetch.ready` in headless Chromium, on loopback and
// throttled (Slow 4G-like network, 4x slower CPU), cache disabled.

import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../browser.mjs';
import { ROOT, serveStatic } from './harness.mjs';

const RUNS = Number(process.env.RUNS || 9);
const pkg = `${ROOT}pkg`;
const dir = await mkdtemp(join(tmpdir(), 'rc-loading-'));

// The inlined variant: the same files, the wasm as base64 in a module,
// handed to wasm-bindgen's init() as bytes.
await cp(pkg, `${dir}/url`, { recursive: true });
await cp(pkg, `${dir}/inline`, { recursive: true });
const wasm = await readFile(`${pkg}/refresh_coordinator_bg.wasm`);
await writeFile(`${dir}/inline/wasm.js`, `export default ${JSON.stringify(wasm.toString('base64'))};\n`);
await rm(`${dir}/inline/refresh_coordinator_bg.wasm`);
const index = await readFile(`${pkg}/index.js`, 'utf8');
const patched = index
  .replace("import init, { Core } from './refresh_coordinator.js';",
    "import init, { Core } from './refresh_coordinator.js';\nimport base64 from './wasm.js';")
  .replace('(loading ??= init().then(',
    '(loading ??= init({ module_or_path: Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)) }).then(');
if (patched === index || !patched.includes('wasm.js')) throw new Error('index.js changed: update the patch');
await writeFile(`${dir}/inline/index.js`, patched);
await writeFile(
  `${dir}/page.html`,
  `<!doctype html><script type="module">
    const { createAuthFetch } = await import(location.hash.slice(1) + '/index.js');
    await createAuthFetch({ fetch: async () => new Response('{}') }).ready;
    window.__ready = performance.now();
  </script>`,
);

function gzipped(files, root) {
  return files.reduce((sum, file) => sum + execFileSync('gzip', ['-9', '-c', join(root, file)]).length, 0);
}
const js = ['index.js', 'coordinator.js', 'options.js', 'errors.js', 'tabs.js', 'token-stores.js', 'dialects.js', 'refresh_coordinator.js'];
const sizes = {
  url: gzipped([...js, 'refresh_coordinator_bg.wasm'], `${dir}/url`),
  inline: gzipped([...js, 'wasm.js'], `${dir}/inline`),
  wasm: gzipped(['refresh_coordinator_bg.wasm'], `${dir}/url`),
  base64: gzipped(['wasm.js'], `${dir}/inline`),
};

const server = await serveStatic({ '/': dir });
const browser = await launch();
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function time(variant, throttled) {
  const samples = [];
  for (let run = 0; run < RUNS; run += 1) {
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    if (throttled) {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 150,
        downloadThroughput: (1.6 * 1024 * 1024) / 8,
        uploadThroughput: (750 * 1024) / 8,
      });
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    }
    await page.goto(`${server.url}/page.html#./${variant}`);
    await page.waitForFunction(() => window.__ready, null, { timeout: 60_000 });
    samples.push(await page.evaluate(() => window.__ready));
    await page.close();
  }
  return Math.round(median(samples));
}

const rows = [];
for (const throttled of [false, true]) {
  rows.push({
    conditions: throttled ? 'Slow 4G, 4x CPU' : 'loopback',
    url: await time('url', throttled),
    inline: await time('inline', throttled),
  });
}
await browser.close();
await server.close();
await rm(dir, { recursive: true, force: true });

console.log(`bytes a browser downloads (gzip -9): URL ${sizes.url}, inlined ${sizes.inline}`);
console.log(`  the wasm alone: as a file ${sizes.wasm}, as base64 in JS ${sizes.base64}` +
  ` (+${Math.round((100 * (sizes.base64 - sizes.wasm)) / sizes.wasm)}%)`);
console.log(`median ms from navigation to ready, ${RUNS} runs, cache disabled:`);
for (const row of rows) console.log(`  ${row.conditions.padEnd(16)} URL ${row.url}   inlined ${row.inline}`);
