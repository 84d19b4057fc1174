import os from 'node:os';
import type { Job } from '@offload/protocol';

/** A plain-text table: columns padded to their widest cell, the last one left ragged. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** How long ago an ISO time was, compactly: `5s`, `3m`, `2h`, `4d`. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86_400) return `${Math.floor(sec / 3600)}h`;
  return `${Math.floor(sec / 86_400)}d`;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * SPEC §5 exit codes for a terminal job: the job's own code; 128+N for signal N; 124 on
 * timeout; 130 when canceled; 1 for a failed task job; 0 for a succeeded one; 125 otherwise.
 */
export function jobExitCode(job: Job): number {
  if (job.state === 'succeeded') return job.kind === 'command' ? (job.exitCode ?? 0) : 0;
  if (job.state === 'canceled' || job.error?.code === 'CANCELED') return 130;
  if (job.error?.code === 'TIMEOUT') return 124;
  if (job.state === 'failed') {
    if (job.signal) {
      const n = (os.constants.signals as Record<string, number | undefined>)[job.signal];
      return n === undefined ? 1 : 128 + n;
    }
    if (job.exitCode !== undefined && job.exitCode !== 0) return job.exitCode;
    if (job.kind === 'task') return 1;
    return 125;
  }
  return 125;
}

/** One line for stderr describing how a job ended, when it did not succeed. */
export function endLine(job: Job): string {
  const why = job.error ? `${job.error.code}: ${job.error.message}` : job.state;
  return `job ${job.id} ${job.state} (${why})`;
}
