// Removes the integrity hash npm records for the local refresh-coordinator
// tarball in the given lockfiles (run it after `npm install` in an app that
// depends on the tarball). With the hash, `npm ci` would install the package
// from its cache, keyed by that hash, instead of the freshly built tarball.
//
//   node www/test/npm/unpin-tarball.mjs www/test/apps/package-lock.json

import { readFileSync, writeFileSync } from 'node:fs';

const TARBALL_ENTRY = 'node_modules/refresh-coordinator';

for (const file of process.argv.slice(2)) {
  const lock = JSON.parse(readFileSync(file, 'utf8'));
  const entry = lock.packages?.[TARBALL_ENTRY];
  if (!entry) throw new Error(`${file}: no ${TARBALL_ENTRY}`);
  delete entry.integrity;
  writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
