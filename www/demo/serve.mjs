// `make demo`: both demo backends on their fixed ports until Ctrl-C.
//
//   node www/demo/serve.mjs   (after `make build` and
//                              `cargo build --profile server -p refresh-backend`)

import { DEMO_USER, startDemo } from './backends.mjs';

const PAGE = process.env.DEMO_ADDR || '127.0.0.1:8000';
const NAIVE = process.env.DEMO_NAIVE_ADDR || '127.0.0.1:8001';
const LIFETIME = process.env.DEMO_ACCESS_LIFETIME || '15s';

let demo;
try {
  demo = await startDemo({ page: PAGE, naive: NAIVE, accessLifetime: LIFETIME });
} catch (error) {
  console.error(`make demo: ${error.message}`);
  if (/in use/i.test(error.message)) {
    console.error('make demo: something already listens there; stop it (or an earlier `make demo`) and retry.');
  }
  process.exit(1);
}

// The naive backend's URL is the page's default guess (same host, port
// 8001) only for these fixed ports; name it in the URL otherwise.
const defaultNaive = new URL(demo.pageUrl);
defaultNaive.port = '8001';
const url = demo.naiveUrl === defaultNaive.origin ? `${demo.pageUrl}/` : demo.demoUrl;

console.log(`
refresh-coordinator demo

  Open    ${url}
  Login   ${DEMO_USER.username} / ${DEMO_USER.password}  (filled in on the page)

  ${demo.pageUrl}  the page, and the backend of the refresh-coordinator panel
  ${demo.naiveUrl}  the backend of the naive-interceptor panel
  Both: SimpleJWT rotation + blacklist after rotation, no grace window,
  ${LIFETIME} access tokens, in-memory database.

Ctrl-C stops both backends.`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  await demo.stop();
  console.log(`\nmake demo: stopped both backends (${signal}).`);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));

// A backend that dies on its own takes the demo down with it.
for (const backend of demo.backends) {
  backend.child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`make demo: the backend at ${backend.url} exited (${signal || code}); stopping.`);
    stop('backend exit');
  });
}
