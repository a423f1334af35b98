// The demo page: one set of controls driving two panels, the
// refresh-coordinator client against this page's backend and the naive
// interceptor against a second backend (`?naive=URL`, by default this host
// on port 8001, as `make demo` starts it).

import { coordinatorClient, naiveClient } from './clients.js';
import { Recorder, leave } from './recorder.js';
import { render, runSpan } from './timeline.js';

const params = new URLSearchParams(location.search);
const NAIVE_BASE = (params.get('naive') || `${location.protocol}//${location.hostname}:8001`).replace(/\/+$/, '');

/** The "network" setting: a delay on every API request, and on each refresh answer (after the rotation is committed). */
const NETWORKS = {
  slow: { dataDelayMs: 60, refreshHoldMs: 300 },
  fast: { dataDelayMs: 0, refreshHoldMs: 0 },
};
const STORM = 'rc-demo:storm';
const STORM_RELOADS = 10;
const STORM_GAP_MS = 50;
const TIMELINE_HEIGHT = 375;

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const panels = ['coordinator', 'naive'].map((name) => {
  const el = $(`[data-panel="${name}"]`);
  const panel = { name, el };
  panel.recorder = new Recorder(name, () => schedule());
  panel.client = name === 'coordinator' ? coordinatorClient(panel.recorder) : naiveClient(panel.recorder, NAIVE_BASE);
  panel.metricsUrl = `${panel.client.base}/metrics`;
  $('.backend', el).textContent =
    name === 'coordinator'
      ? `${location.origin} (this page's backend)`
      : `${NAIVE_BASE} (its own backend, cookies naive_access / naive_refresh)`;
  return panel;
});

// Drawing: at most once a frame, and every frame while requests are out.

let frame = 0;
let spanMs = 500;
function schedule() {
  frame ||= requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  const nowMs = performance.now();
  const needed = Math.max(300, ...panels.map((p) => runSpan(p.recorder.run, nowMs)));
  // Grow the shared axis in steps, so the drawing does not crawl.
  const step = needed < 2000 ? 250 : 1000;
  spanMs = Math.ceil((needed * 1.08) / step) * step;
  let busy = false;
  for (const panel of panels) {
    const { recorder, el } = panel;
    const pending = recorder.pending();
    const refreshing = recorder.run && recorder.run.refreshes.some((f) => f.end === null);
    busy ||= pending > 0 || refreshing;
    el.dataset.pending = String(pending);
    const c = recorder.counters;
    for (const dd of $$('dd[data-counter]', el)) dd.textContent = String(c[dd.dataset.counter]);
    const cut = c.requests - c.ok - c.failed - pending;
    $('[data-counter="detail"]', el).textContent = c.requests
      ? `${c.ok} ok · ${c.failed} failed${pending ? ` · ${pending} out` : ''}${cut > 0 ? ` · ${cut} cut off by reloads` : ''}`
      : '';
    $('.ends', el).classList.toggle('bad', c.sessionEnds > 0);
    $('.timeline', el).innerHTML = render(recorder.run, { height: TIMELINE_HEIGHT, spanMs, nowMs });
  }
  drawSessions();
  if (busy) schedule();
  else if (needMetrics) refreshMetrics();
}

// The session line of each panel and the hint: ticks every 250 ms.

function seconds(ms) {
  return Math.max(0, Math.round(ms / 1000));
}

function drawSessions() {
  const now = Date.now();
  for (const { recorder, el, name } of panels) {
    const session = recorder.session;
    const expired = session.expiresAt !== null && session.expiresAt !== undefined && now >= session.expiresAt;
    el.dataset.session = session.status;
    el.dataset.expired = String(session.status === 'in' && expired);
    let text;
    if (session.status === 'out') text = 'Not logged in';
    else if (session.status === 'ended') {
      text =
        name === 'naive'
          ? `Session ended (${session.reason}): the app sends ${session.user || 'the user'} back to the login page`
          : `Session ended (${session.reason}): log in again`;
    } else if (!session.expiresAt) text = `Logged in as ${session.user}`;
    else {
      const about = session.approximate ? 'about ' : '';
      text = expired
        ? `Logged in as ${session.user} · access token expired ${about}${seconds(now - session.expiresAt)} s ago`
        : `Logged in as ${session.user} · access token expires in ${about}${seconds(session.expiresAt - now)} s`;
    }
    $('.session-text', el).textContent = text;
  }
  const lead = panels[0].recorder.session;
  const hint = $('#hint');
  const expired = lead.status === 'in' && lead.expiresAt && now >= lead.expiresAt;
  hint.classList.toggle('expired', Boolean(expired));
  if (lead.status === 'out') hint.textContent = '① Log in: each panel logs in to its own backend.';
  else if (lead.status === 'ended') hint.textContent = 'The coordinator’s session ended. Log in again.';
  else if (!expired && lead.expiresAt) {
    hint.textContent =
      `② Access token valid for ${seconds(lead.expiresAt - now)} s: requests go straight through. ` +
      'Wait for the countdown, then fire.';
  } else {
    hint.textContent =
      '③ The access token has expired: fire now (or reload ×10, or fire in every tab). ' +
      'Every request gets a 401 and needs a refresh.';
  }
}
setInterval(drawSessions, 250);
addEventListener('storage', (event) => {
  if (event.key && event.key.startsWith('rc-demo:session:')) schedule();
});

// The backends' own count of refreshes, by outcome.

/** The backend's refresh outcomes, as the panels say them. */
const OUTCOMES = {
  missing: 'without a refresh cookie',
  grace_reuse: 'grace reuse',
  reuse_detected: 'reuse detected',
  wrong_type: 'wrong token type',
  missing_claim: 'missing claim',
  no_user: 'no such user',
  injected_500: 'injected 500',
  injected_429: 'injected 429',
};

let needMetrics = true;
async function refreshMetrics() {
  needMetrics = false;
  await Promise.all(
    panels.map(async ({ el, metricsUrl }) => {
      const line = $('.server', el);
      try {
        const text = await (await fetch(metricsUrl)).text();
        const outcomes = {};
        for (const match of text.matchAll(/^refresh_requests_total\{outcome="([a-z_0-9]+)"\} (\d+)$/gm)) {
          if (Number(match[2])) outcomes[match[1]] = Number(match[2]);
        }
        const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
        // `make demo-cluster`'s proxy sums its instances' counters and says so.
        const instances = /^# summed over (\d+) instances/m.exec(text);
        const rotated = outcomes.success || 0;
        const refused = Object.entries(outcomes)
          .filter(([outcome]) => outcome !== 'success')
          .map(([outcome, n]) => `${n} ${OUTCOMES[outcome] || outcome.replaceAll('_', ' ')}`);
        line.textContent =
          `backend /metrics${instances ? ` (${instances[1]} instances, summed)` : ''} since start: ${total} refresh${total === 1 ? '' : 'es'}` +
          (total ? ` (${rotated} rotated${refused.length ? `, refused: ${refused.join(', ')}` : ''})` : '');
      } catch {
        line.textContent = `backend ${metricsUrl} unreachable`;
      }
    }),
  );
}
setInterval(() => {
  if (!document.hidden) refreshMetrics();
}, 2000);

// The actions.

const countSelect = $('#count');
const networkSelect = $('#network');
const count = () => Number(countSelect.value);
let sequence = 0;

function network() {
  return NETWORKS[networkSelect.value] || NETWORKS.slow;
}

/**
 * Fires `n` GETs through each panel's client at once. `fast` leaves out the
 * API delay (the reload storm: its 401s come back, and its refreshes go
 * out, before the page reloads).
 */
function fire(n, { fast = false } = {}) {
  const delay = fast ? 0 : network().dataDelayMs;
  for (const { recorder, client } of panels) {
    recorder.beginRun();
    for (let i = 0; i < n; i++) {
      sequence += 1;
      const url = `${client.base}/api/data/${sequence}/${delay ? `?delay_ms=${delay}` : ''}`;
      const request = recorder.issued(url);
      client.get(url).then(
        (response) => {
          recorder.settled(request, response.ok, response.status);
          response.body?.cancel().catch(() => {});
        },
        (error) => recorder.settled(request, false, (error && error.name) || 'Error'),
      );
    }
  }
  schedule();
}

async function login(event) {
  event.preventDefault();
  const form = new FormData($('#login'));
  const credentials = { username: form.get('username'), password: form.get('password') };
  sessionStorage.removeItem(STORM);
  await Promise.all(
    panels.map(async ({ recorder, client, el }) => {
      recorder.resetCounters();
      try {
        await client.login(credentials);
      } catch (error) {
        recorder.loggedOut();
        $('.session-text', el).textContent = `Login failed: ${error.message}`;
        return;
      }
    }),
  );
  needMetrics = true;
  schedule();
}

async function logout() {
  sessionStorage.removeItem(STORM);
  await Promise.all(panels.map(({ client }) => client.logout()));
  schedule();
}

/** Arms (or clears) the refresh hold on both backends through their fault hooks. */
async function applyNetwork() {
  localStorage.setItem('rc-demo:network', networkSelect.value);
  const hold = network().refreshHoldMs;
  await Promise.all(
    panels.map(({ client }) =>
      fetch(`${client.base}/api/_test/faults`, {
        method: hold ? 'POST' : 'DELETE',
        headers: { 'Content-Type': 'application/json' },
        body: hold ? JSON.stringify({ delay_after_ms: hold }) : undefined,
      }).catch(() => null),
    ),
  );
}

// Other tabs of this page: counted, and told to fire.

const tabId = Math.random().toString(36).slice(2);
const otherTabs = new Set();
const channel = 'BroadcastChannel' in globalThis ? new BroadcastChannel('rc-demo') : null;
function showTabs() {
  const n = otherTabs.size + 1;
  $('#tabs').textContent = `(${n} tab${n === 1 ? '' : 's'})`;
}
if (channel) {
  channel.onmessage = ({ data }) => {
    if (!data || data.from === tabId) return;
    if (data.type === 'hello') {
      otherTabs.add(data.from);
      channel.postMessage({ type: 'here', from: tabId });
    } else if (data.type === 'here') otherTabs.add(data.from);
    else if (data.type === 'bye') otherTabs.delete(data.from);
    else if (data.type === 'fire') fire(data.n);
    else if (data.type === 'network') {
      networkSelect.value = data.value;
      updateFireLabel();
    }
    showTabs();
  };
  channel.postMessage({ type: 'hello', from: tabId });
  addEventListener('pagehide', () => channel.postMessage({ type: 'bye', from: tabId }));
}

function fireEverywhere() {
  if (channel) channel.postMessage({ type: 'fire', from: tabId, n: count() });
  fire(count());
}

// Reload ×10: fire, reload 50 ms later, ten times; the last load fires once
// more and stays. The counters survive the reloads (sessionStorage).

const banner = $('#banner');
function startStorm() {
  sessionStorage.setItem(STORM, JSON.stringify({ left: STORM_RELOADS, n: count() }));
  stormStep();
}

function stormStep() {
  let storm;
  try {
    storm = JSON.parse(sessionStorage.getItem(STORM) || 'null');
  } catch {
    storm = null;
  }
  if (!storm) return;
  countSelect.value = String(storm.n);
  updateFireLabel();
  fire(storm.n, { fast: true });
  if (storm.left > 0) {
    banner.textContent = `Reload storm: load ${STORM_RELOADS - storm.left + 1} of ${STORM_RELOADS + 1}, reloading in ${STORM_GAP_MS} ms…`;
    banner.hidden = false;
    sessionStorage.setItem(STORM, JSON.stringify({ ...storm, left: storm.left - 1 }));
    setTimeout(() => {
      leave();
      location.reload();
    }, STORM_GAP_MS);
  } else {
    sessionStorage.removeItem(STORM);
    banner.textContent = `Reload storm done: ${STORM_RELOADS} reloads with requests in flight. Counters include every load.`;
    banner.hidden = false;
    setTimeout(() => {
      banner.hidden = true;
    }, 8000);
  }
}

function updateFireLabel() {
  $('[data-action="fire"]').textContent = `Fire ${count()}`;
}

$('#login').addEventListener('submit', login);
$('[data-action="logout"]').addEventListener('click', logout);
$('[data-action="fire"]').addEventListener('click', () => fire(count()));
$('[data-action="fire-all"]').addEventListener('click', fireEverywhere);
$('[data-action="second-tab"]').addEventListener('click', () => window.open(location.href, '_blank', 'noopener'));
$('[data-action="storm"]').addEventListener('click', startStorm);
countSelect.addEventListener('change', updateFireLabel);
networkSelect.addEventListener('change', () => {
  applyNetwork();
  if (channel) channel.postMessage({ type: 'network', from: tabId, value: networkSelect.value });
});

networkSelect.value = localStorage.getItem('rc-demo:network') || 'slow';
updateFireLabel();
showTabs();
let networkApplied = Promise.resolve();
if (sessionStorage.getItem(STORM)) {
  stormStep();
} else {
  networkApplied = applyNetwork();
}
schedule();
// For the console (and the demo's test): the panels and their records, and
// the arming of the network setting on load.
window.demo = { panels, networkApplied };
window.demoReady = true;
