// The README's React code is a working app as written: every ```tsx block
// of its "### React" section, each named by its first line (`// App.tsx`),
// is written into www/test/apps/readme-react/ (where the packed tarball,
// React, its types and Axios are installed), type-checked with
// `tsc --strict`, built with Vite and run in Chromium against the reference
// backend through an expiry, a refusal and a logout, with what the app shows
// checked at each step. The only addition is a page that loads main.tsx and
// hands the test the app's `authFetch` to send requests with.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { build } from 'vite';
import { launch } from '../browser.mjs';
import { APPS, ROOT, refreshOutcomes, startBackend } from './harness.mjs';

const tsc = `${ROOT}www/node_modules/typescript/bin/tsc`;
const OUT = `${APPS}/readme-react`;

/** `{name: code}` of the tsx blocks in the README section under `heading`. */
function codeBlocks(readme, heading) {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `the README has a "${heading}" section`);
  const rest = readme.slice(start + heading.length + 2);
  const next = rest.search(/\n#{2,3} /);
  const section = next === -1 ? rest : rest.slice(0, next);
  const files = {};
  for (const [, code] of section.matchAll(/```tsx\n([\s\S]*?)```/g)) {
    const name = /^\/\/ ([\w.-]+\.tsx?)\b/.exec(code)?.[1];
    assert.ok(name, `a tsx block starts with "// <file name>": ${code.split('\n')[0]}`);
    files[name] = code;
  }
  return files;
}

let files;

before(async () => {
  files = codeBlocks(await readFile(`${ROOT}README.md`, 'utf8'), '### React');
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  for (const [name, code] of Object.entries(files)) await writeFile(`${OUT}/${name}`, code);
  await writeFile(
    `${OUT}/tsconfig.json`,
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        module: 'ESNext',
        moduleResolution: 'bundler',
        jsx: 'react-jsx',
        skipLibCheck: false,
        types: [],
      },
      files: Object.keys(files),
    }),
  );
});

after(async () => {
  await rm(OUT, { recursive: true, force: true });
});

test("the README's React code type-checks with --strict", async () => {
  assert.deepEqual(Object.keys(files).sort(), ['App.tsx', 'auth.ts', 'main.tsx']);
  const run = promisify(execFile)(process.execPath, [tsc, '-p', `${OUT}/tsconfig.json`], { timeout: 120_000 });
  const { stdout, stderr } = await run.catch((error) => error);
  assert.equal(stdout + stderr, '', 'tsc reported errors');
});

test("the README's React app survives an expiry, a refusal and a logout, showing each", async (t) => {
  await writeFile(
    `${OUT}/index.html`,
    '<!doctype html><meta charset="utf-8"><div id="root"></div>' +
      '<script type="module" src="./main.tsx"></script><script type="module" src="./test-hook.ts"></script>',
  );
  await writeFile(`${OUT}/test-hook.ts`, "import { authFetch } from './auth';\nObject.assign(window, { authFetch });\n");
  await build({ root: OUT, base: '/readme/', logLevel: 'warn', build: { outDir: 'dist' } });
  const backend = await startBackend(['--static', `/readme=${OUT}/dist`]);
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await backend.stop();
  });
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${backend.url}/readme/`);

  const logIn = async () => {
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'secret');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Hello alice');
  };
  /** Status codes of three requests at once, or the codes they rejected with. */
  const burst = () =>
    page.evaluate(() =>
      Promise.all(
        [1, 2, 3].map((n) =>
          window.authFetch(`/api/data/${n}/`).then(
            (response) => response.status,
            (error) => error.code,
          ),
        ),
      ),
    );

  await logIn();
  // An expiry: the access cookie goes, as when its Max-Age runs out.
  await browser.context.clearCookies({ name: 'access' });
  assert.deepEqual(await burst(), [200, 200, 200]);
  assert.deepEqual(refreshOutcomes(await backend.metrics()), { success: 1 });
  assert.equal(await page.locator('text=Hello alice').count(), 1, 'still logged in');

  // A refusal: the session is revoked behind the page's back.
  assert.equal((await browser.context.request.post(`${backend.url}/api/auth/logout/`)).status(), 200);
  assert.deepEqual(await burst(), ['SESSION_EXPIRED', 'SESSION_EXPIRED', 'SESSION_EXPIRED']);
  await page.waitForSelector('text=Your session expired. Please log in again.');

  // A new login, then the app's own Log out button.
  await logIn();
  await page.click('text=Log out');
  await page.waitForSelector('button[type=submit]');
  assert.equal(await page.locator('text=Your session expired').count(), 0, 'a logout is not an expiry');
  assert.deepEqual(await burst(), ['LOGGED_OUT', 'LOGGED_OUT', 'LOGGED_OUT']);
  const metrics = await backend.metrics();
  assert.equal(metrics.logouts_total, 2);
  assert.deepEqual(refreshOutcomes(metrics), { success: 1, missing: 1 }, 'no refresh after the logout');
  assert.deepEqual(errors, []);
});
