// The live timeline: one row per request (issued, sent, 401, waiting for a
// refresh, replayed, done or failed) under the refresh bar(s) of the run,
// on a time axis both panels share. Plain SVG, redrawn as a string.

export const COLORS = {
  sent: '#94a3b8',
  unauthorized: '#dc2626',
  waiting: '#f59e0b',
  replayed: '#2563eb',
  done: '#16a34a',
  failed: '#dc2626',
  refreshOk: '#16a34a',
  refreshRefused: '#dc2626',
  refreshPending: '#64748b',
  refreshFailed: '#f97316',
  grid: '#e2e8f0',
  text: '#475569',
};

const WIDTH = 600;
const LEFT = 58;
const RIGHT = 10;
const AXIS = 16;
const LANE = 9;
const MAX_LANES = 6;

/** A round step for about six ticks over `span` ms. */
function tickStep(span) {
  const raw = span / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step || power * 10;
}

function label(ms, step) {
  return step >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s` : `${Math.round(ms)} ms`;
}

/** How long the run has lasted so far, in ms since its start. */
export function runSpan(run, nowMs) {
  if (!run) return 0;
  let last = 0;
  let open = false;
  for (const r of run.requests) {
    if (r.settled === null) open = true;
    last = Math.max(last, (r.settled ?? 0) - run.t0);
  }
  for (const f of run.refreshes) {
    if (f.end === null) open = true;
    last = Math.max(last, (f.end ?? 0) - run.t0);
  }
  return open ? nowMs - run.t0 : last;
}

/** Refresh bars in lanes: each takes the first lane free at its start. */
function lanes(refreshes) {
  const ends = [];
  return refreshes.map((f) => {
    let lane = ends.findIndex((end) => end !== null && end <= f.start);
    if (lane === -1) lane = ends.length < MAX_LANES ? ends.length : ends.length - 1;
    ends[lane] = f.end;
    return lane;
  });
}

/**
 * The SVG for `run` (or an empty frame), `height` px tall, `spanMs` wide,
 * drawn at `nowMs` (performance.now()).
 */
export function render(run, { height, spanMs, nowMs, waitingLabel }) {
  const plot = WIDTH - LEFT - RIGHT;
  const x = (t) => LEFT + (Math.max(0, t) / spanMs) * plot;
  const parts = [];
  const rect = (x0, y, x1, h, fill, extra = '', title = '') => {
    const open = `<rect x="${x0.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(x1 - x0, 0.8).toFixed(1)}" height="${h.toFixed(2)}" fill="${fill}"${extra}`;
    parts.push(title ? `${open}><title>${title}</title></rect>` : `${open}/>`);
  };
  const text = (tx, ty, s, anchor = 'start', extra = '') =>
    parts.push(`<text x="${tx}" y="${ty}" text-anchor="${anchor}"${extra}>${s}</text>`);

  // Axis and grid.
  const step = tickStep(spanMs);
  for (let t = 0; t <= spanMs + 0.001; t += step) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${AXIS - 4}" y2="${height}" stroke="${COLORS.grid}"/>`);
    text(x(t), AXIS - 6, label(t, step), x(t) > WIDTH - RIGHT - 20 ? 'end' : 'middle');
  }

  const refreshes = run ? run.refreshes : [];
  const laneOf = lanes(refreshes);
  const laneCount = Math.min(MAX_LANES, Math.max(1, ...laneOf.map((l) => l + 1)));
  const refreshTop = AXIS + 4;
  const rowsTop = refreshTop + laneCount * LANE + (refreshes.length > 1 ? 18 : 10);
  text(LEFT - 6, refreshTop + 7, refreshes.length > 1 ? `refreshes` : 'refresh', 'end', ' class="axis-label"');
  text(LEFT - 6, rowsTop + 8, 'requests', 'end', ' class="axis-label"');

  if (!run) {
    text(LEFT + plot / 2, (rowsTop + height) / 2, 'Fire requests to draw them here', 'middle', ' class="empty"');
    return `<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="timeline">${parts.join('')}</svg>`;
  }

  const t = (ms) => ms - run.t0;
  const settledAt = (ms) => (ms === null ? nowMs : ms);

  // Refresh bars, and a light band over the requests while each was out.
  refreshes.forEach((f, i) => {
    const fill =
      f.status === null
        ? COLORS.refreshPending
        : f.status >= 200 && f.status < 300
          ? COLORS.refreshOk
          : f.status === 401 || f.status === 403
            ? COLORS.refreshRefused
            : COLORS.refreshFailed;
    const x0 = x(t(f.start));
    const x1 = x(t(settledAt(f.end)));
    // A light band over the requests while a refresh was out, unless it
    // was refused (or there are so many that the bands would hide the rows).
    if ((fill === COLORS.refreshOk || fill === COLORS.refreshPending) && (i < 3 || fill === COLORS.refreshOk)) {
      rect(x0, rowsTop - 4, x1, height - rowsTop + 4, fill, ' opacity="0.08"');
    }
    rect(x0, refreshTop + laneOf[i] * LANE, x1, LANE - 2, fill, ' rx="1.5"', `refresh: ${f.status ?? 'in flight'}`);
  });

  // Another tab's refresh, taken here instead of refreshing: a diamond on
  // the refresh lane where this tab's waiters were let go.
  const adoptions = run.adoptions || [];
  for (const at of adoptions) {
    const ax = x(t(at));
    const half = (LANE - 2) / 2;
    parts.push(
      `<path d="M${ax.toFixed(1)} ${refreshTop} l${half} ${half} l-${half} ${half} l-${half} -${half} z" fill="${COLORS.refreshOk}" data-adopted="true"><title>another tab refreshed: adopted</title></path>`,
    );
  }
  if (adoptions.length > 0 && refreshes.length === 0) {
    text(LEFT + plot - 2, refreshTop + 7, 'no refresh here: adopted another tab\'s', 'end', ' class="note"');
  }

  if (refreshes.length > 1) {
    const refused = refreshes.filter((f) => f.status === 401 || f.status === 403).length;
    text(LEFT + plot - 2, refreshTop + laneCount * LANE + 10, `${refreshes.length} refreshes${refused ? `, ${refused} refused` : ''}`, 'end', ' class="note"');
  }

  // One row per request, in issue order.
  const rows = run.requests.length;
  const rowHeight = Math.min(14, (height - rowsTop - 2) / Math.max(rows, 1));
  const bar = Math.max(rowHeight * 0.6, Math.min(rowHeight, 1));
  run.requests.forEach((r, i) => {
    const y = rowsTop + i * rowHeight + (rowHeight - bar) / 2;
    let waitFrom = r.issued;
    for (const [n, send] of r.sends.entries()) {
      // Issued but not sent yet, or 401'd and waiting for a refresh.
      if (send.start - waitFrom > 1) rect(x(t(waitFrom)), y, x(t(send.start)), bar, COLORS.waiting);
      const end = settledAt(send.end);
      rect(x(t(send.start)), y, x(t(end)), bar, n === 0 ? COLORS.sent : COLORS.replayed);
      if (send.status === 401) rect(x(t(end)) - 1, y - (rowHeight - bar) / 2, x(t(end)) + 1, rowHeight, COLORS.unauthorized);
      waitFrom = end;
    }
    if (r.settled === null) {
      // Still waiting: behind the refresh, or not sent yet.
      const last = r.sends[r.sends.length - 1];
      if (!last || last.end !== null) rect(x(t(waitFrom)), y, x(t(nowMs)), bar, COLORS.waiting);
    } else {
      const last = r.sends[r.sends.length - 1];
      if (!last || last.status === 401) {
        // Rejected while waiting for a refresh (or before any send).
        rect(x(t(waitFrom)), y, x(t(r.settled)), bar, COLORS.waiting);
      }
      const cx = x(t(r.settled));
      const color = r.ok ? COLORS.done : COLORS.failed;
      if (rowHeight >= 6) {
        parts.push(
          r.ok
            ? `<circle cx="${cx.toFixed(1)}" cy="${(y + bar / 2).toFixed(1)}" r="${Math.min(3.5, rowHeight / 2.5).toFixed(1)}" fill="${color}"/>`
            : `<path d="M${cx - 3},${y + bar / 2 - 3}l6,6m0,-6l-6,6" stroke="${color}" stroke-width="1.8"/>`,
        );
      } else {
        rect(cx, y - (rowHeight - bar) / 2, cx + 3, rowHeight, color);
      }
    }
  });
  if (waitingLabel) text(LEFT + plot - 2, height - 4, waitingLabel, 'end', ' class="note"');
  return `<svg viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="timeline">${parts.join('')}</svg>`;
}
