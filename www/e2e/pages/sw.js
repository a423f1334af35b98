// A module service worker running refresh-coordinator (see
// worker-client.js), created as the worker starts, in the mode its URL
// names (`/sw.js?mode=bearer`). The page's requests to /api/data/ go
// through the worker's coordinator: the worker adds the credential (bearer
// mode) and refreshes; the page's own fetch knows none of it. Everything
// else goes to the network untouched.
import { answer, current, start } from './worker-client.js';

start(new URL(self.location.href).searchParams.get('mode') || 'cookie');

self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('message', (event) => event.waitUntil(answer(event)));
self.addEventListener('fetch', (event) => {
  if (new URL(event.request.url).pathname.startsWith('/api/data/')) event.respondWith(current()(event.request));
});
