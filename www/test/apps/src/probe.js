// What every test app runs once loaded: the package's two entry points,
// used the way an app uses them, against a fake server (401 until one
// refresh went through). The result lands in `window.__probe`.

import { createAuthFetch, isSessionExpiredError } from 'refresh-coordinator';
import { attachAxios } from 'refresh-coordinator/axios';
import axios from 'axios';

export async function probe() {
  let refreshed = false;
  let refreshes = 0;
  const fetch = async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === '/api/auth/token/refresh/') {
      refreshes += 1;
      refreshed = true;
      return Response.json({ access: '' });
    }
    return refreshed ? Response.json({ pathname }) : new Response('{}', { status: 401 });
  };
  const authFetch = createAuthFetch({ fetch });
  const api = axios.create();
  attachAxios(api, authFetch);
  const [viaFetch, viaAxios] = await Promise.all([
    authFetch('/api/data/1/').then((response) => response.json()),
    api.get('/api/data/2/').then((response) => response.data),
  ]);
  return {
    viaFetch,
    viaAxios,
    refreshes,
    guard: typeof isSessionExpiredError === 'function',
    wasm: performance
      .getEntriesByType('resource')
      .map((entry) => new URL(entry.name).pathname)
      .filter((path) => path.endsWith('.wasm')),
  };
}

export function run() {
  probe().then(
    (result) => (window.__probe = result),
    (error) => (window.__probe = { error: String(error && error.stack ? error.stack : error) }),
  );
}
