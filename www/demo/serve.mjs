// `make demo`: both demo backends on their fixed ports until Ctrl-C.
// `make demo-cluster` (`--cluster`): each of them three instances on one
// throw-away PostgreSQL behind a round-robin proxy on that port.
//
//   node www/demo/serve.mjs [--cluster]   (after `make build` and
//                                          `cargo build --profile server -p refresh-backend`)

import { CLUSTER_INSTANCES, DEMO_USER, startDemo } from './backends.mjs';

const PAGE = process.env.DEMO_ADDR || '127.0.0.1:8000';
const NAIVE = process.env.DEMO_NAIVE_ADDR || '127.0.0.1:8001';
const LIFETIME = process.env.DEMO_ACCESS_LIFETIME || '15s';
const CLUSTER = process.argv.includes('--cluster');
const NAME = CLUSTER ? 'make demo-cluster' : 'make demo';

let demo;
try {
  demo = await startDemo({ page: PAGE, naive: NAIVE, accessLifetime: LIFETIME, cluster: CLUSTER });
} catch (error) {
  console.error(`${NAME}: ${error.message}`);
  if (/in use/i.test(error.message)) {
    console.error(`${NAME}: something already listens there; stop it (or an earlier \`make demo\`) and retry.`);
  }
  process.exit(1);
}

// The naive backend's URL is the page's default guess (same host, port
// 8001) only for these fixed ports; name it in the URL otherwise.
const defaultNaive = new URL(demo.pageUrl);
defaultNaive.port = '8001';
const url = demo.naiveUrl === defaultNaive.origin ? `${demo.pageUrl}/` : demo.demoUrl;

const instances = (backend) =>
  backend.instances ? `\n      ${CLUSTER_INSTANCES} instances: ${backend.instances.map((i) => i.url).join(' ')}` : '';
const storage = CLUSTER
  ? `atomic rotation; each panel's backend is ${CLUSTER_INSTANCES} instances on one
  PostgreSQL (127.0.0.1:${demo.postgresPort}, a throw-away cluster under target/, a database each),
  behind a round-robin proxy (test tooling, not for production) at its port.`
  : 'in-memory database.';

console.log(`
refresh-coordinator demo

  Open    ${url}
  Login   ${DEMO_USER.username} / ${DEMO_USER.password}  (filled in on the page)

  ${demo.pageUrl}  the page, and the backend of the refresh-coordinator panel${instances(demo.backends[0])}
  ${demo.naiveUrl}  the backend of the naive-interceptor panel${instances(demo.backends[1])}
  Both: SimpleJWT rotation + blacklist after rotation, no grace window,
  ${LIFETIME} access tokens, ${storage}

Ctrl-C stops ${CLUSTER ? 'every instance, the proxies and PostgreSQL' : 'both backends'}.`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  await demo.stop();
  console.log(`\n${NAME}: stopped ${CLUSTER ? 'every instance, the proxies and PostgreSQL' : 'both backends'} (${signal}).`);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));

// A backend that dies on its own takes the demo down with it.
for (const backend of demo.backends.flatMap((b) => b.instances ?? [b])) {
  backend.child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${NAME}: the backend at ${backend.url} exited (${signal || code}); stopping.`);
    stop('backend exit');
  });
}
