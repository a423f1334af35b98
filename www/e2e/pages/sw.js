// A module service worker running refresh-coordinator (see
// worker-client.js). Once the page set it up, the page's requests to
// /api/data/ go through the worker's coordinator: the worker adds the
// credential (bearer mode) and refreshes; the page's own fetch knows none
// of it. Everything else goes to the network untouched.
import { answer, current } from './worker-client.js';

self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('message', (event) => event.waitUntil(answer(event)));
self.addEventListener('fetch', (event) => {
  const authFetch = current();
  if (authFetch && new URL(event.request.url).pathname.startsWith('/api/data/')) {
    event.respondWith(authFetch(event.request));
  }
});
