// Server-side rendering: the package imported and used in Node, with every
// read of `window` or `document` recorded along with the file that made it
// (Axios itself probes them with `typeof`, which is fine). Prints one JSON
// line.

const touched = [];
for (const name of ['window', 'document']) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      // The frame below this getter is the code that read the global.
      const caller = new Error().stack.split('\n')[2] || '';
      if (caller.includes('refresh-coordinator')) touched.push(`${name} ${caller.trim()}`);
      return undefined;
    },
  });
}

const logged = [];
console.error = (...args) => logged.push(args.map(String).join(' '));
console.warn = console.error;

const main = await import('refresh-coordinator');
const { attachAxios } = await import('refresh-coordinator/axios');
const { default: axios } = await import('axios');

// What a module shared by server and client does at its top level: relative
// URLs, which only mean something in a page. Nothing may happen yet.
const shared = main.createAuthFetch({ refreshUrl: '/api/auth/token/refresh/' });
attachAxios(axios.create({ baseURL: '/api/' }), shared);
await new Promise((resolve) => setTimeout(resolve, 0));
const quietAtImport = logged.length === 0;
const touchedAtImport = touched.splice(0);

// Used on the server with absolute URLs, it works: one refresh, one replay.
let refreshes = 0;
const fetch = async (request) => {
  if (request.url.endsWith('/refresh/')) {
    refreshes += 1;
    return Response.json({ access: '' });
  }
  return new Response('{}', { status: refreshes ? 200 : 401 });
};
const authFetch = main.createAuthFetch({
  fetch,
  refreshUrl: 'http://api.test/api/auth/token/refresh/',
  loginUrl: 'http://api.test/api/auth/login/',
  allowedOrigins: ['http://api.test'],
});
const api = axios.create({ baseURL: 'http://api.test/api/' });
attachAxios(api, authFetch);
const statuses = await Promise.all([
  authFetch('http://api.test/api/data/1/').then((response) => response.status),
  api.get('data/2/').then((response) => response.status),
]);

// Relative URLs on the server fail the call, as fetch would, not the import.
const misuse = await shared('/api/data/1/').catch((error) => `${error.name}: ${error.message}`);

console.log(JSON.stringify({ touchedAtImport, touchedInUse: touched, quietAtImport, statuses, refreshes, misuse, exports: Object.keys(main).sort() }));
