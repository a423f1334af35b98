// www/bench/results.svg: the ratios of results.json as horizontal bars,
// each with its target (a tick) where it has one; 1.0 is "as fast as the
// thing compared with". Plain SVG, no dependencies.

import { TARGETS } from './targets.mjs';

const RATIOS = [
  ['overhead_ratio_fetch', 'per call vs raw fetch, sequential'],
  ['overhead_ratio_fetch_noise', 'raw fetch vs raw fetch (the noise floor)'],
  ['overhead_ratio_fetch_parallel', 'per call vs raw fetch, 16 in flight'],
  ['overhead_ratio_axios', 'attachAxios vs plain Axios'],
  ['overhead_ratio_axios_auth_refresh', 'axios-auth-refresh vs plain Axios (peer)'],
  ['burst_100_drain_ratio_reactive', 'burst of 100 after expiry vs hand-written'],
  ['burst_1000_drain_ratio_reactive', 'burst of 1000 after expiry vs hand-written'],
  ['burst_100_drain_ratio_proactive', 'burst of 100 ahead vs valid + 1 refresh'],
  ['burst_1000_drain_ratio_proactive', 'burst of 1000 ahead vs valid + 1 refresh'],
  ['crosstab_4x50_drain_ratio', '4 tabs × 50 after expiry vs 1 tab × 50'],
  ['crosstab_4x50_drain_ratio_same_work', '4 tabs × 50 after expiry vs 1 tab × 200'],
];

const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chart({ results, measured, machine, targets }) {
  const rows = RATIOS.filter(([key]) => typeof results[key] === 'number');
  const scaleMax = Math.max(2, ...rows.map(([key]) => results[key]), ...rows.map(([key]) => TARGETS[key]?.max ?? 0)) * 1.1;
  const label = 330;
  const plot = 420;
  const rowHeight = 26;
  const top = 40;
  const height = top + rows.length * rowHeight + 40;
  const x = (v) => label + (v / scaleMax) * plot;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${label + plot + 70}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">refresh-coordinator: ratios (lower is better; tick = target)</text>`,
    `<line x1="${x(1)}" y1="${top - 8}" x2="${x(1)}" y2="${top + rows.length * rowHeight}" stroke="#888" stroke-dasharray="3,3"/>`,
    `<text x="${x(1)}" y="${top - 10}" text-anchor="middle" fill="#555">1.0</text>`,
  ];
  rows.forEach(([key, text], i) => {
    const value = results[key];
    const target = TARGETS[key]?.max;
    const y = top + i * rowHeight;
    const met = targets[key] ? targets[key].met : true;
    parts.push(`<text x="${label - 8}" y="${y + 15}" text-anchor="end">${escape(text)}</text>`);
    parts.push(`<rect x="${label}" y="${y + 4}" width="${Math.max(1, x(value) - label)}" height="16" fill="${met ? '#2f7d32' : '#c62828'}"/>`);
    parts.push(`<text x="${x(value) + 5}" y="${y + 16}">${value.toFixed(2)}</text>`);
    if (target !== undefined) parts.push(`<line x1="${x(target)}" y1="${y + 1}" x2="${x(target)}" y2="${y + 23}" stroke="#000" stroke-width="2"/>`);
  });
  parts.push(
    `<text x="10" y="${height - 12}" fill="#555">make bench, ${escape(measured)}: ${machine.cores} cores, headless Chromium ${escape(machine.chromium)}, medians of ${machine.runs} runs, each pair interleaved</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
