/** @typedef {{ median: number, min: number, max: number, n: number }} Summary */

/**
 * Nearest-rank percentile of an unsorted sample (the anchors use the same definition).
 * @param {number[]} values
 * @param {number} p
 */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return /** @type {number} */ (sorted[rank - 1]);
}

/**
 * The lone-job figures of one run, the same for offload and every anchor: nearest-rank
 * p50/p95/p99, the worst job and the mean, in ms.
 * @param {number[]} lat
 */
export function latencyFigures(lat) {
  return {
    p50Ms: percentile(lat, 50),
    p95Ms: percentile(lat, 95),
    p99Ms: percentile(lat, 99),
    maxMs: Math.max(...lat),
    meanMs: mean(lat),
  };
}

/** @param {number[]} values */
export function mean(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** @param {number[]} values */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  const hi = v[mid] ?? NaN;
  return v.length % 2 ? hi : ((v[mid - 1] ?? NaN) + hi) / 2;
}

/**
 * Median, min and max over repetitions (non-finite values left out).
 * @param {Array<number | null | undefined>} values
 * @returns {Summary}
 */
export function summarize(values) {
  const v = /** @type {number[]} */ (
    values.filter((x) => typeof x === 'number' && Number.isFinite(x))
  );
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/**
 * A number with a precision that suits its size: 85,012 · 123 · 12.3 · 1.23 · 0.452.
 * @param {number | null | undefined} x
 */
export function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/**
 * "median (min–max)", or just the value for a single repetition.
 * @param {Summary | undefined} s
 * @param {(x: number) => string} [f]
 */
export function fmtSummary(s, f = fmt) {
  if (!s || !Number.isFinite(s.median)) return '—';
  if (s.n <= 1 || s.min === s.max) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}
