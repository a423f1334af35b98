// A round-robin HTTP reverse proxy, test and demo tooling only (no TLS, no
// health checks, no limits; put a real load balancer in front of real
// instances): one origin in front of several `refresh-backend` instances,
// so that a page's cookies and same-origin requests reach every instance in
// turn, each request the next instance, however the browser pools its
// connections.
//
// What the backends do to a connection reaches the browser as it would
// directly: an answer lost before its first byte closes the browser's
// connection without a response, a body cut off cuts the browser's off, and
// a browser that goes away closes the request upstream. Each request gets a
// connection of its own upstream, so a refresh never lands on a kept-alive
// socket the backend has just closed, where a retry would send it twice.
//
// Two paths are the cluster's rather than one instance's: `GET /metrics`
// sums every instance's counters (each instance counts only what it served),
// and a POST or DELETE to `/api/_test/…` (the test hooks: faults, clock) is
// handed to every instance in turn, since each keeps its own plan and clock;
// both keep the instances' CORS headers, as the demo's naive panel reads
// them cross-origin.

import http from 'node:http';
import { METRIC_LINE, parseMetrics, sumMetrics } from './backend.mjs';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not the message.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function endToEnd(rawHeaders) {
  const kept = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!HOP.has(rawHeaders[i].toLowerCase())) kept.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return kept;
}

/** Sends `req` to `target` and its answer back on `res`, byte for byte. */
function forward(req, res, target) {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: endToEnd(req.rawHeaders), agent: false },
    (answer) => {
      res.writeHead(answer.statusCode, answer.statusMessage, endToEnd(answer.rawHeaders));
      answer.pipe(res);
      // A body the backend cut off is cut off here too.
      answer.once('close', () => {
        if (!answer.complete) res.destroy();
      });
      answer.once('error', () => res.destroy());
    },
  );
  // No answer at all (the connection closed first): none for the browser either.
  upstream.once('error', () => res.destroy());
  // The browser went away: so does the request upstream.
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.once('error', () => upstream.destroy());
  req.pipe(upstream);
}

/** The CORS headers of an instance's answer, for an answer the proxy makes itself. */
const cors = (answer) => [...answer.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary');

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Counters summed over `texts` (Prometheus text), in the first one's order, its HELP and TYPE lines kept. */
export function sumMetricsText(texts) {
  const sums = sumMetrics(texts.map(parseMetrics));
  return (texts[0] ?? '')
    .split('\n')
    .map((line) => {
      const match = METRIC_LINE.exec(line);
      return match ? `${match[1]} ${sums[match[1]]}` : line;
    })
    .join('\n');
}

/**
 * Starts the proxy at `addr` in front of `upstreams` (base URLs). Resolves to
 * `{ url, served, stop() }`; `served[i]` counts the requests sent to the i-th.
 */
export async function startProxy(upstreams, { addr = '127.0.0.1:0' } = {}) {
  const targets = upstreams.map((u) => new URL(u));
  const served = targets.map(() => 0);
  let next = 0;
  const server = http.createServer(async (req, res) => {
    try {
      const path = req.url.split('?')[0];
      if (req.method === 'GET' && path === '/metrics') {
        // With the page's Origin, so that the instances' CORS answer (kept from the first) is the page's.
        const headers = req.headers.origin ? { Origin: req.headers.origin } : {};
        const answers = await Promise.all(targets.map((t) => fetch(new URL('/metrics', t), { headers })));
        const texts = await Promise.all(answers.map((a) => a.text()));
        const header = `# summed over ${targets.length} instances by the proxy: ${upstreams.join(' ')}\n`;
        res.writeHead(200, [['Content-Type', 'text/plain; version=0.0.4'], ...cors(answers[0])].flat());
        res.end(header + sumMetricsText(texts));
        return;
      }
      if (path.startsWith('/api/_test/') && (req.method === 'POST' || req.method === 'DELETE')) {
        const payload = await body(req);
        const headers = { 'Content-Type': req.headers['content-type'] ?? 'application/json' };
        if (req.headers.origin) headers.Origin = req.headers.origin;
        let last;
        for (const t of targets) {
          last = await fetch(new URL(req.url, t), { method: req.method, headers, body: payload.length ? payload : undefined });
          if (!last.ok) break;
        }
        res.writeHead(last.status, [['Content-Type', last.headers.get('content-type') ?? 'application/json'], ...cors(last)].flat());
        res.end(Buffer.from(await last.arrayBuffer()));
        return;
      }
      const i = next++ % targets.length;
      served[i] += 1;
      forward(req, res, targets[i]);
    } catch (error) {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${error.message}\n`);
    }
  });
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  await new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`proxy on ${addr}: ${error.code === 'EADDRINUSE' ? 'address in use' : error.message}`)));
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${server.address().port}`,
    served,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
