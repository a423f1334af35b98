// A Rust panic inside a continuation must not leave any caller pending: the
// bridge's safety net rejects every live call with CoordinatorFaultError,
// and every later call at once.

import * as errors from '../../src/web/bridge.js';
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

export async function panicSettlesEveryCaller(create) {
  const server = new FakeServer({ mode: 'cookie' });
  const c = create({ fetch: server.fetch });
  server.expireAccess();
  const calls = [1, 2, 3].map((n) => c.fetch(`${DATA}${n}/`));
  await server.refreshesArrived(1);
  for (let i = 0; i < 2000 && c.state().waiting < 3; i++) await new Promise((r) => setTimeout(r, 0));
  c.injectFault();
  server.rotate(); // the refresh answer's continuation panics
  const results = await settleWithin(calls);
  for (const r of results) {
    if (!(r.status === 'rejected' && r.reason instanceof errors.CoordinatorFaultError)) {
      throw new Error(`expected CoordinatorFaultError, got ${r.status} ${r.reason}`);
    }
    if (!errors.isCoordinatorFaultError(r.reason) || r.reason.code !== 'COORDINATOR_FAULT') {
      throw new Error('the guard and code identify the fault');
    }
  }
  const [later] = await settleWithin([new errors.Call().promise]);
  if (!(later.reason instanceof errors.CoordinatorFaultError)) {
    throw new Error('calls after the fault are rejected at once');
  }
}
