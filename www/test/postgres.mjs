// A throw-away PostgreSQL cluster for the JS tests and `make demo-cluster`,
// as the backend's Rust tests start theirs (backend/tests/common/postgres.rs):
// a data directory under target/, a free loopback port, the Unix socket in
// the same folder, run as `postgres` when we are root (the server refuses
// root), stopped with `pg_ctl stop` (it finds the postmaster by this data
// directory's PID file: this cluster and nothing else) and its folder
// removed, also when the process exits without calling stop().

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { ROOT } from './backend.mjs';

/** Debian's server binaries, the newest version installed. */
function binDir() {
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: `make postgres` installs it');
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`;
}

const asRoot = process.getuid?.() === 0;

/** A server binary's command line, as `postgres` when we are root. */
function command(bin, program, args) {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', `${bin}/${program}`, ...args]] : [`${bin}/${program}`, args];
}

/** Runs a server binary; throws with its stderr if it fails. */
function run(bin, program, args) {
  return execFileSync(...command(bin, program, args), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

/** A port nothing listens on now (the server binds it a moment later). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Creates and starts a cluster in `target/pg-<tag>-<pid>-<random>`; resolves
 * once it accepts connections. Returns `{ port, createDatabase(), stop() }`.
 */
export async function startPostgres(tag = 'js') {
  const bin = binDir();
  const dir = `${ROOT}target/pg-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = `${dir}/data`;
  run(bin, 'initdb', ['--auth=trust', '--username=postgres', '--no-sync', '-D', data]);

  let stopped = false;
  // Synchronous, so that it also runs from process.on('exit').
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stop);
    spawnSync(...command(bin, 'pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30']), { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);

  // A port picked free can be taken before the server binds it: try a few.
  let port;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      // -w: pg_ctl returns once the server accepts connections (at most -t s).
      run(bin, 'pg_ctl', ['start', '-D', data, '-l', `${dir}/log`, '-w', '-t', '60', '-o',
        `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`]);
      break;
    } catch (error) {
      if (attempt === 3) {
        stop();
        throw new Error(`PostgreSQL did not start: ${error.stderr || error.message}`);
      }
    }
  }

  let databases = 0;
  return {
    port,
    /** A new empty database; returns its URL. */
    createDatabase() {
      const name = `db${++databases}`;
      execFileSync(`${bin}/createdb`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name], { stdio: ['ignore', 'pipe', 'pipe'] });
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
