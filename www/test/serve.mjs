// A static file server for the browser tests: 127.0.0.1, a free port, the
// content types a browser insists on for modules and wasm.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Serves `mounts` (`{ '/pkg/': '/abs/pkg', '/': '/abs/www' }`); resolves to `{ url, close }`. */
export async function serve(mounts) {
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    const prefix = Object.keys(mounts)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p));
    const root = prefix && normalize(mounts[prefix]);
    const file = root && normalize(join(root, path.slice(prefix.length)));
    // `join` resolves `..`; anything that lands outside the mount is refused.
    if (!file || (file !== root && !file.startsWith(root + sep))) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file.endsWith(sep) ? join(file, 'index.html') : file);
      response.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        // Chromium keeps idle keep-alive sockets open, which close() waits for.
        server.closeAllConnections();
      }),
  };
}
