// How long an app waits from importing the package to its first request
// going out (the module and the .wasm fetched and compiled), against one
// raw round trip to the same backend; www/bench/bench.mjs reads `window.first`.

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Logged in first, as an app is by the time it sends: the request then
// needs no refresh, and the connection is open for both sides.
const login = await fetch('/api/auth/login/', {
  method: 'POST',
  credentials: 'include',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'alice', password: 'correct horse' }),
});
if (!login.ok) throw new Error(`login: ${login.status}`);

const start = performance.now();
const { createAuthFetch } = await import('refresh-coordinator');
let onWire = 0;
const authFetch = createAuthFetch({
  fetch: (request) => {
    onWire ||= performance.now();
    return fetch(request);
  },
});
const first = await authFetch('/api/data/0/');
await first.text();
const raw = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await (await fetch('/api/data/1/', { credentials: 'include' })).text();
  raw.push(performance.now() - t);
}
window.first = { importToWireMs: onWire - start, rawRoundTripMs: median(raw), status: first.status };
