// The page's side of the worker scenarios: starts a dedicated worker
// (worker.js) or registers the module service worker (sw.js), and calls
// the commands of worker-client.js in it.

/** `call(command, ...args)` on `target` (a Worker or a ServiceWorker); rejects with the worker's error. */
function caller(target) {
  return (command, ...args) =>
    new Promise((resolve, reject) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
      target.postMessage({ command, args }, [port2]);
    });
}

/** A dedicated module worker of this origin. */
export function dedicated() {
  const worker = new Worker('/worker.js', { type: 'module' });
  const errors = [];
  worker.addEventListener('error', (event) => errors.push(event.message || 'worker error'));
  return { call: caller(worker), errors, terminate: () => worker.terminate() };
}

/** The module service worker, once it controls this page. */
export async function serviceWorker() {
  const registration = await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    // clients.claim() in its activate: bounded by the test's own timeout.
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  const active = registration.active;
  return { call: caller(active), unregister: () => registration.unregister() };
}

import { settle } from './settle.js';

/** `n` requests at once with the page's own `fetch` (a service worker may take them). */
export const pageBurst = (n, from = 0) => settle(Array.from({ length: n }, (_, i) => fetch(`/api/data/${from + i}/`)));
