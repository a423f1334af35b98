// `make screenshot`: www/demo/screenshot.png, the demo in headless Chromium
// (1280×800) right after a burst of 50 requests fired at an expired access
// token, both panels drawn.
//
//   node www/demo/screenshot.mjs [out.png]

import { fileURLToPath } from 'node:url';

import { launch } from '../test/browser.mjs';
import { startDemo } from './backends.mjs';

const OUT = process.argv[2] || fileURLToPath(new URL('screenshot.png', import.meta.url));
const BURST = '50';

// 5 s tokens: the burst (about 2 s) ends with the access token valid again.
const demo = await startDemo({ accessLifetime: '5s' });
let browser;
try {
  browser = await launch();
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(demo.demoUrl);
  await page.waitForFunction(() => window.demoReady === true, null, { timeout: 15_000 });
  await page.evaluate(() => window.demo.networkApplied);
  await page.selectOption('#count', BURST);
  await page.click('[data-action="login"]');
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-panel]')].every((p) => p.dataset.expired === 'true'),
    null,
    { timeout: 15_000, polling: 50 },
  );
  await page.click('[data-action="fire"]');
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('[data-panel]')].every(
        (p) => p.dataset.pending === '0' && p.querySelector('dd[data-counter="requests"]').textContent === n,
      ),
    BURST,
    { timeout: 60_000, polling: 50 },
  );
  // The backends' /metrics lines have caught up with the burst.
  await page.waitForFunction(
    () => /since start: 1 refresh /.test(document.querySelector('[data-panel="coordinator"] .server').textContent),
    null,
    { timeout: 15_000, polling: 100 },
  );
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  if (browser) await browser.close();
  await demo.stop();
}
