// What `make bench` aims at (the bench reports each as met or missed; no
// test asserts a timing). A target is a bound on one key of results.json,
// or a comparison with another key.

export const TARGETS = {
  overhead_ratio_fetch: { max: 1.05, below: 'overhead_ratio_axios_auth_refresh' },
  overhead_us_canned: { max: 10 },
  burst_100_refreshes: { equals: 1 },
  burst_1000_refreshes: { equals: 1 },
  burst_10000_refreshes: { equals: 1 },
  burst_100_drain_ratio_reactive: { max: 1.0 },
  burst_1000_drain_ratio_reactive: { max: 1.0 },
  burst_100_drain_ratio_proactive: { max: 1.1 },
  burst_1000_drain_ratio_proactive: { max: 1.1 },
  crosstab_4x50_refreshes: { equals: 1 },
  crosstab_4x50_drain_ratio: { max: 1.5 },
  bundle_gzip_bytes: { max: 15_000 },
  // Growth over 100 000 request cycles: noise of a few pages of the JS
  // heap, never a per-request residue (that would be megabytes).
  leak_bytes_100k: { max: 256 * 1024 },
};

/** Each target with the value measured and whether it was met; keys not measured are left out. */
export function verdicts(results) {
  const out = {};
  for (const [key, t] of Object.entries(TARGETS)) {
    const value = results[key];
    if (typeof value !== 'number') continue;
    const parts = [];
    let met = true;
    if (t.max !== undefined) {
      parts.push(`≤ ${t.max}`);
      met &&= value <= t.max;
    }
    if (t.equals !== undefined) {
      parts.push(`= ${t.equals}`);
      met &&= value === t.equals;
    }
    if (t.below !== undefined && typeof results[t.below] === 'number') {
      parts.push(`< ${t.below} (${results[t.below]})`);
      met &&= value < results[t.below];
    }
    out[key] = { value, target: parts.join(', '), met };
  }
  return out;
}
