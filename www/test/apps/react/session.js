// A page for www/test/npm/react-hook.test.mjs: one coordinator, one
// component on `useSession`, under StrictMode, built by Vite in development
// mode once against React 18 and once against React 19. It records every
// status it committed, and shows the login view when the session is over,
// as a router would. The test drives requests through `window.app`.

import { StrictMode, createElement as h, useEffect, useLayoutEffect, version } from 'react';
import { createRoot } from 'react-dom/client';
import { createAuthFetch, isLoggedOutError, isSessionExpiredError } from 'refresh-coordinator';
import { useSession } from 'refresh-coordinator/react';

const app = {
  react: version,
  statuses: [],
  effects: 0,
  expiredCallbacks: 0,
  events: [],
};
app.authFetch = createAuthFetch({
  onSessionExpired: () => {
    app.expiredCallbacks += 1;
  },
  onEvent: (event) => app.events.push(event.type),
});

/** Status codes of `count` data requests at once, or the error code that rejected them. */
app.burst = async (count) => {
  const calls = Array.from({ length: count }, (_, i) => app.authFetch(`/api/data/${i + 1}/`));
  const results = await Promise.allSettled(calls);
  return results.map((r) => (r.status === 'fulfilled' ? r.value.status : r.reason.code || String(r.reason)));
};
app.logIn = async () => {
  const response = await app.authFetch('/api/auth/login/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'secret' }),
  });
  return response.status;
};
app.isLoggedOutError = isLoggedOutError;
app.isSessionExpiredError = isSessionExpiredError;
window.app = app;

function Session() {
  const session = useSession(app.authFetch);
  useLayoutEffect(() => {
    if (app.statuses.at(-1) !== session.status) app.statuses.push(session.status);
  }, [session.status]);
  // Runs twice on mount under StrictMode in development: the proof that it is on.
  useEffect(() => {
    app.effects += 1;
  }, []);
  const over = session.status === 'ended' || session.status === 'logged-out';
  return h(
    'main',
    null,
    h('output', { 'data-testid': 'status' }, session.status),
    h('output', { 'data-testid': 'generation' }, String(session.generation)),
    over ? h('p', { 'data-testid': 'login' }, session.status === 'ended' ? 'Session expired' : 'Logged out') : null,
  );
}

createRoot(document.getElementById('root')).render(h(StrictMode, null, h(Session)));
