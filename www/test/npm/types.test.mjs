// The package's TypeScript declarations: a sample app (apps/types/usage.ts)
// using both entry points compiles under `tsc --strict`, resolved through
// the installed package's `exports` as a bundler does and as Node does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APPS, ROOT } from './harness.mjs';

const tsc = `${ROOT}www/node_modules/typescript/bin/tsc`;

for (const [resolution, config] of [
  ['bundler', 'tsconfig.json'],
  ['NodeNext', 'tsconfig.node.json'],
]) {
  test(`a sample app type-checks with --strict (moduleResolution ${resolution})`, async () => {
    const run = promisify(execFile)(process.execPath, [tsc, '-p', `${APPS}/types/${config}`], {
      timeout: 120_000,
    });
    const { stdout, stderr } = await run.catch((error) => error);
    assert.equal(stdout + stderr, '', 'tsc reported errors');
  });
}
