// The page's side of the worker scenarios: starts a dedicated worker
// (worker.js) or registers the module service worker (sw.js), and calls
// the commands of worker-client.js in it. Every wait is bounded.

import { settle } from './settle.js';

/** Rejects with `what` after `ms`, unless `promise` settled first. */
function bounded(promise, what, ms = 30_000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `call(command, ...args)` on `target` (a Worker or a ServiceWorker); rejects with the worker's error. */
function caller(target) {
  return (command, ...args) =>
    bounded(
      new Promise((resolve, reject) => {
        const { port1, port2 } = new MessageChannel();
        port1.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
        target.postMessage({ command, args }, [port2]);
      }),
      `the worker's answer to ${command}`,
    );
}

/** A dedicated module worker of this origin. */
export function dedicated() {
  const worker = new Worker('/worker.js', { type: 'module' });
  const errors = [];
  worker.addEventListener('error', (event) => errors.push(event.message || 'worker error'));
  return { call: caller(worker), errors, terminate: () => worker.terminate() };
}

/** The module service worker with a coordinator in `mode`, once it controls this page. */
export async function serviceWorker(mode) {
  const registration = await navigator.serviceWorker.register(`/sw.js?mode=${mode}`, { type: 'module', scope: '/' });
  await bounded(navigator.serviceWorker.ready, 'the service worker to activate');
  if (!navigator.serviceWorker.controller) {
    // Its activate calls clients.claim().
    const claimed = new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    await bounded(claimed, 'the service worker to control the page');
  }
  const active = registration.active;
  return { call: caller(active), unregister: () => registration.unregister() };
}

/** `n` requests at once with the page's own `fetch` (a service worker may take them). */
export const pageBurst = (n, from = 0) => settle(Array.from({ length: n }, (_, i) => fetch(`/api/data/${from + i}/`)));
