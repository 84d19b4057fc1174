const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a duration written `500ms`, `30s`, `5m`, `2h`, `1d` (or a bare number of seconds)
 * into milliseconds. Returns undefined when the text is not a duration.
 */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? 's') as keyof typeof UNIT_MS;
  const ms = value * UNIT_MS[unit];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Formats milliseconds the way durations are written on the command line. */
export function formatDurationMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
