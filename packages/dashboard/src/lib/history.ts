import type { StatsMinute } from '@offload/protocol';

const MINUTE = 60_000;

/**
 * The server's last hour, moved to the viewer's clock: minutes after the server's last bucket
 * (nothing happened since the last event) are filled with zeros, so the chart's "now" is now
 * without asking the server again.
 */
export function alignToNow(
  minutes: readonly StatsMinute[],
  nowMs: number,
  span = 60,
): StatsMinute[] {
  const byMinute = new Map(minutes.map((m) => [Math.floor(Date.parse(m.at) / MINUTE), m]));
  const current = Math.floor(nowMs / MINUTE);
  const out: StatsMinute[] = [];
  for (let m = current - span + 1; m <= current; m++) {
    out.push(
      byMinute.get(m) ?? {
        at: new Date(m * MINUTE).toISOString(),
        started: 0,
        succeeded: 0,
        failed: 0,
        queueWaitP50Ms: 0,
        queueWaitP95Ms: 0,
      },
    );
  }
  return out;
}
