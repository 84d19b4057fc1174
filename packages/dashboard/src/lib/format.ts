// Formatting for people: relative times, durations, sizes. Pure functions, no React.

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'narrow' });

/** "3 min ago", "in 2 hr"; "just now" within five seconds. */
export function relativeTime(iso: string, nowMs: number): string {
  const diff = Date.parse(iso) - nowMs;
  if (Number.isNaN(diff)) return '—';
  if (Math.abs(diff) < 5_000) return 'just now';
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms || unit === 'second') return rtf.format(Math.trunc(diff / ms), unit);
  }
  return rtf.format(0, 'second');
}

/** The absolute time, for a tooltip: local time with the zone, and ISO. */
export function absoluteTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })} (${iso})`;
}

/** 950 ms, 12.4 s, 3 m 05 s, 2 h 10 m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}

/** Memory given in MiB: 512 MB, 15.6 GB. */
export function megabytes(mb: number): string {
  return mb >= 1_024 ? `${(mb / 1_024).toFixed(mb >= 10_240 ? 0 : 1)} GB` : `${Math.round(mb)} MB`;
}

/** 0.5, 2, 1.25 → at most two decimals, no trailing zeros. */
export function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}

/** The command as one line: argv joined with shell-ish quoting, a string as is. */
export function commandLine(command: string | string[] | undefined): string {
  if (command === undefined) return '';
  if (typeof command === 'string') return command;
  return command
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}
