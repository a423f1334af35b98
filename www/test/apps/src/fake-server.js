// A fake SimpleJWT server behind a `fetch` function, for the in-page tests:
// bearer mode, access token `a<generation>`, a refresh that can be held at
// a gate, and a record of every request it received.

/** Reads what a request carried, for comparing a first send with its replay. */
async function describe(request) {
  return {
    method: request.method,
    path: new URL(request.url).pathname,
    auth: request.headers.get('Authorization'),
    contentType: request.headers.get('Content-Type'),
    body: request.method === 'GET' ? null : await request.text(),
  };
}

export function fakeServer({ refreshStatus = 200 } = {}) {
  const server = {
    generation: 0,
    refreshes: 0,
    /** Data requests, as received, in order. */
    received: [],
    refreshStatus,
    /** While set, refresh answers wait for `release()`. */
    gate: null,
    hold() {
      let open;
      const promise = new Promise((resolve) => (open = resolve));
      server.gate = { promise, open };
    },
    release() {
      server.gate?.open();
      server.gate = null;
    },
    fetch: async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === '/api/token/refresh/') {
        server.refreshes += 1;
        if (server.gate) await server.gate.promise;
        if (server.refreshStatus !== 200) {
          return Response.json({ detail: 'Token is blacklisted', code: 'token_not_valid' }, { status: server.refreshStatus });
        }
        server.generation += 1;
        return Response.json({ access: `a${server.generation}`, refresh: `r${server.generation}` });
      }
      const seen = await describe(request);
      server.received.push(seen);
      if (pathname.startsWith('/api/always401/')) return Response.json({}, { status: 401 });
      if (seen.auth !== `Bearer a${server.generation}` || server.generation === 0) {
        return Response.json({ detail: 'Given token not valid for any token type' }, { status: 401 });
      }
      if (pathname.startsWith('/api/missing/')) return Response.json({ detail: 'Not found.' }, { status: 404 });
      return Response.json({ path: pathname, echo: seen });
    },
  };
  return server;
}

/** Resolves once `condition()` is true; polls at most `attempts` times, 10 ms apart. */
export async function until(condition, attempts = 500) {
  for (let i = 0; i < attempts; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`condition not met: ${condition}`);
}
