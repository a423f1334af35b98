// The README's React code compiles as written: every ```tsx block of its
// "### React" section, each named by its first line (`// App.tsx`), is
// written into www/test/apps/readme-react/ (where the packed tarball, React's
// types and Axios are installed) and type-checked with `tsc --strict`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { APPS, ROOT } from './harness.mjs';

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

test("the README's React code type-checks with --strict", async () => {
  const files = codeBlocks(await readFile(`${ROOT}README.md`, 'utf8'), '### React');
  assert.deepEqual(Object.keys(files).sort(), ['App.tsx', 'auth.ts']);
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
  try {
    const run = promisify(execFile)(process.execPath, [tsc, '-p', `${OUT}/tsconfig.json`], { timeout: 120_000 });
    const { stdout, stderr } = await run.catch((error) => error);
    assert.equal(stdout + stderr, '', 'tsc reported errors');
  } finally {
    await rm(OUT, { recursive: true, force: true });
  }
});
