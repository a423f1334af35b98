// A Rust panic must not leave any caller pending: the web layer's safety net
// rejects every pending call with CoordinatorFaultError, and every later
// call at once.

import { Coordinator } from '../../src/web/coordinator.js';
import * as errors from '../../src/web/errors.js';
import { DATA, FakeServer } from './fake_server.js';

async function settleWithin(promises) {
  let done = false;
  const all = Promise.allSettled(promises).then((results) => {
    done = true;
    return results;
  });
  for (let i = 0; i < 2000 && !done; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  if (!done) throw new Error('a caller was left pending after the panic');
  return all;
}

function expectFault(result, what) {
  if (!(result.status === 'rejected' && result.reason instanceof errors.CoordinatorFaultError)) {
    throw new Error(`${what}: expected CoordinatorFaultError, got ${result.status} ${result.reason}`);
  }
  if (!errors.isCoordinatorFaultError(result.reason) || result.reason.code !== 'COORDINATOR_FAULT') {
    throw new Error('the guard and code identify the fault');
  }
}

export async function panicSettlesEveryCaller(makeCore) {
  let core = null;
  const server = new FakeServer({ mode: 'cookie' });
  const reported = [];
  const onError = (event) => {
    reported.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener('error', onError);
  try {
    const c = new Coordinator({ fetch: server.fetch }, () => (...args) => (core = makeCore(...args)));
    server.expireAccess();
    const calls = [1, 2, 3].map((n) => c.fetch(`${DATA}${n}/`));
    await server.refreshesArrived(1);
    for (let i = 0; i < 2000 && c.state().waiting < 3; i++) await new Promise((r) => setTimeout(r, 0));
    core.injectFault();
    server.rotate(); // the refresh answer's continuation panics in Rust
    const results = await settleWithin(calls);
    results.forEach((r, i) => expectFault(r, `waiting call ${i}`));
    const [later] = await settleWithin([c.fetch(`${DATA}4/`)]);
    expectFault(later, 'a call after the fault');
    if (reported.length === 0) throw new Error('the panic was reported, not swallowed');
  } finally {
    globalThis.removeEventListener('error', onError);
  }
}
