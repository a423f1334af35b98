// refresh-coordinator inside a worker, as an app's worker uses it: a
// dedicated worker (worker.js) or a module service worker (sw.js), where
// there is no document, no sessionStorage and no localStorage. The page
// drives it with messages: `{command, args}` with a MessagePort, answered
// on that port with `{ok, value}` or `{ok: false, error}`.

import { createAuthFetch } from '/pkg/index.js';
import { USER } from './clients.js';
import { settle } from './settle.js';

let authFetch = null;
let events = [];
let sessionEnds = 0;

/** The worker's coordinator, once `setup` made one. */
export const current = () => authFetch;

/**
 * Creates the worker's coordinator in `mode`, once (a service worker does
 * it as it starts, as an app's would; a dedicated worker on `setup`).
 */
export function start(mode, options = {}) {
  if (authFetch) return;
  authFetch = createAuthFetch({
    mode,
    onEvent: (event) => events.push(event),
    onSessionExpired: () => {
      sessionEnds += 1;
    },
    ...options,
  });
}

const commands = {
  /**
   * The coordinator in `mode`, logged in from here in bearer mode (the
   * tokens in the default in-memory store). Answers what this global lacks.
   */
  async setup(mode, options = {}) {
    start(mode, options);
    if (mode === 'bearer') {
      const response = await fetch('/api/token/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(USER),
      });
      if (!response.ok) throw new Error(`login failed: ${response.status}`);
      authFetch.setTokens(await response.json());
    }
    await authFetch.ready;
    return {
      document: typeof document,
      localStorage: typeof localStorage,
      sessionStorage: typeof sessionStorage,
      locks: Boolean(globalThis.navigator && navigator.locks),
      channel: typeof BroadcastChannel,
    };
  },

  /** `n` requests at once, `/api/data/<from + i>/`: what they came to. */
  async burst(n, from = 0) {
    const summary = await settle(Array.from({ length: n }, (_, i) => authFetch(`/api/data/${from + i}/`)));
    return { ...summary, ...commands.seen() };
  },

  /** What the coordinator told: its events' types, session ends, its state. */
  seen() {
    return { events: events.map((event) => event.type), sessionEnds, state: authFetch.state() };
  },
};

/** Answers one message from the page (a `message` event with a port). */
export async function answer(event) {
  const { command, args = [] } = event.data || {};
  const [port] = event.ports;
  try {
    if (!Object.hasOwn(commands, command)) throw new Error(`no command ${command}`);
    port.postMessage({ ok: true, value: await commands[command](...args) });
  } catch (error) {
    port.postMessage({ ok: false, error: `${error && error.name}: ${error && error.message}` });
  }
}
