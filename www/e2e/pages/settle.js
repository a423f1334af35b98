// What a batch of calls came to, for the page scenarios and the worker
// ones alike (this module touches no page global). Every call must settle.

/** `{issued, settled, ok, statuses, errors, failed}` of `calls` (promises of Responses). */
export async function settle(calls) {
  const results = await Promise.allSettled(calls);
  const summary = { issued: calls.length, settled: results.length, ok: 0, statuses: {}, errors: {} };
  for (const r of results) {
    if (r.status === 'fulfilled') {
      summary.statuses[r.value.status] = (summary.statuses[r.value.status] || 0) + 1;
      if (r.value.ok) summary.ok += 1;
    } else {
      const name = (r.reason && r.reason.name) || String(r.reason);
      summary.errors[name] = (summary.errors[name] || 0) + 1;
    }
  }
  summary.failed = summary.issued - summary.ok;
  return summary;
}
