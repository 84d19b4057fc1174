import { holdsLease } from '../shared/fencing.js';
import { admitChunk } from '../shared/log-tail.js';
import type { LogChunk, Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';
import type { StoredJob } from './sqlite-rows.js';

/**
 * Logs are chunks per job (job_seq, seq) with the job's byte total, next seq and truncated
 * flag on the jobs row, so the cap is enforced without summing chunks: when a job goes over
 * `capBytes` its oldest chunks are deleted (the tail is kept).
 */
export function createSqliteLogs(ctx: SqliteContext): Pick<Store, 'logsAppend' | 'logsRead'> {
  return {
    async logsAppend({ agentId, chunks, capBytes, now }) {
      if (chunks.length === 0) return { stale: [], appended: [] };
      return ctx.tx(() => {
        const stale: string[] = [];
        const appended: LogChunk[] = [];
        const touched = new Map<string, StoredJob>();
        const insert = ctx.stmt(
          'INSERT INTO job_logs (job_seq, seq, stream, data, bytes, at) VALUES (?, ?, ?, ?, ?, ?)',
        );
        for (const chunk of chunks) {
          const stored = touched.get(chunk.jobId) ?? ctx.loadById(chunk.jobId);
          if (stored === null || !holdsLease(stored, agentId, chunk.leaseId)) {
            if (!stale.includes(chunk.leaseId)) stale.push(chunk.leaseId);
            continue;
          }
          touched.set(chunk.jobId, stored);
          if (chunk.data === '') continue;
          const kept = admitChunk(stored.log, chunk.data, capBytes);
          if (kept === null) continue;
          insert.run(stored.seq, kept.seq, chunk.stream, kept.data, kept.bytes, now);
          appended.push({
            jobId: chunk.jobId,
            seq: kept.seq,
            stream: chunk.stream,
            data: kept.data,
            at: now,
          });
        }
        for (const stored of touched.values()) {
          if (stored.log.bytes > capBytes) trimOldest(ctx, stored, capBytes);
          ctx
            .stmt('UPDATE jobs SET log_seq = ?, log_bytes = ?, log_truncated = ? WHERE seq = ?')
            .run(stored.log.seq, stored.log.bytes, stored.log.truncated ? 1 : 0, stored.seq);
        }
        return { stale, appended };
      });
    },

    async logsRead({ jobId, afterSeq, limit }) {
      const stored = ctx.mustLoad(jobId);
      const rows = ctx
        .stmt(
          'SELECT seq, stream, data, at FROM job_logs WHERE job_seq = ? AND seq > ? ORDER BY seq LIMIT ?',
        )
        .all(stored.seq, afterSeq ?? 0, limit ?? -1) as Array<{
        seq: number;
        stream: LogChunk['stream'];
        data: string;
        at: number;
      }>;
      return {
        chunks: rows.map((r) => ({ jobId, seq: r.seq, stream: r.stream, data: r.data, at: r.at })),
        truncated: stored.log.truncated,
      };
    },
  };
}

/** Deletes the job's oldest chunks until its total is within the cap. */
function trimOldest(ctx: SqliteContext, stored: StoredJob, capBytes: number): void {
  let excess = stored.log.bytes - capBytes;
  let lastSeq = 0;
  let freed = 0;
  for (const r of ctx
    .stmt('SELECT seq, bytes FROM job_logs WHERE job_seq = ? ORDER BY seq')
    .iterate(stored.seq) as Iterable<{
    seq: number;
    bytes: number;
  }>) {
    if (excess <= 0) break;
    lastSeq = r.seq;
    freed += r.bytes;
    excess -= r.bytes;
  }
  if (lastSeq === 0) return;
  ctx.stmt('DELETE FROM job_logs WHERE job_seq = ? AND seq <= ?').run(stored.seq, lastSeq);
  stored.log.bytes -= freed;
  stored.log.truncated = true;
}
