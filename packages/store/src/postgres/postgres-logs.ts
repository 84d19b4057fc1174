import { holdsLease } from '../shared/fencing.js';
import type { StoredJob } from '../shared/job-rows.js';
import { admitChunk } from '../shared/log-tail.js';
import type { LogChunk, Store } from '../store.js';
import { lockReported } from './postgres-attempts.js';
import { jobNotFound, type PgContext, type PgTx } from './postgres-context.js';

const INSERT_LOGS_SQL =
  'INSERT INTO job_logs (job_seq, seq, stream, data, bytes, at) ' +
  'SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::int[], $6::bigint[])';
const UPDATE_LOG_STATE_SQL =
  'UPDATE jobs AS j SET log_seq = u.log_seq, log_bytes = u.log_bytes, log_truncated = u.log_truncated ' +
  'FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[]) AS u(seq, log_seq, log_bytes, log_truncated) ' +
  'WHERE j.seq = u.seq';
const READ_LOG_SQL =
  'SELECT seq, stream, data, at FROM job_logs WHERE job_seq = $1 AND seq > $2 ORDER BY seq LIMIT $3';

/**
 * Logs are chunks per job (job_seq, seq) with the job's byte total, next seq and truncated
 * flag on the jobs row, so the cap is enforced without summing chunks: when a job goes over
 * `capBytes` its oldest chunks are deleted (the tail is kept). The job rows are locked for
 * the append: two appends for one job (from two servers) must not hand out the same seq.
 */
export function createPgLogs(ctx: PgContext): Pick<Store, 'logsAppend' | 'logsRead'> {
  return {
    async logsAppend({ agentId, chunks, capBytes, now }) {
      if (chunks.length === 0) return { stale: [], appended: [] };
      return ctx.tx(async (t) => {
        const byId = await lockReported(t, chunks);
        const stale: string[] = [];
        const appended: LogChunk[] = [];
        const touched = new Map<string, StoredJob>();
        const rows: [number[], number[], string[], string[], number[], number[]] = [
          [],
          [],
          [],
          [],
          [],
          [],
        ];
        for (const chunk of chunks) {
          const stored = byId.get(chunk.jobId);
          if (stored === undefined || !holdsLease(stored, agentId, chunk.leaseId)) {
            if (!stale.includes(chunk.leaseId)) stale.push(chunk.leaseId);
            continue;
          }
          touched.set(chunk.jobId, stored);
          if (chunk.data === '') continue;
          t.changes.logs.add(chunk.jobId);
          const kept = admitChunk(stored.log, chunk.data, capBytes);
          if (kept === null) continue;
          rows[0].push(stored.seq);
          rows[1].push(kept.seq);
          rows[2].push(chunk.stream);
          rows[3].push(kept.data);
          rows[4].push(kept.bytes);
          rows[5].push(now);
          appended.push({
            jobId: chunk.jobId,
            seq: kept.seq,
            stream: chunk.stream,
            data: kept.data,
            at: now,
          });
        }
        if (rows[0].length > 0) await t.rows(INSERT_LOGS_SQL, rows);
        if (touched.size === 0) return { stale, appended };
        for (const stored of touched.values())
          if (stored.log.bytes > capBytes) await trimOldest(t, stored, capBytes);
        const jobs = [...touched.values()];
        await t.rows(UPDATE_LOG_STATE_SQL, [
          jobs.map((s) => s.seq),
          jobs.map((s) => s.log.seq),
          jobs.map((s) => s.log.bytes),
          jobs.map((s) => (s.log.truncated ? 1 : 0)),
        ]);
        return { stale, appended };
      });
    },

    async logsRead({ jobId, afterSeq, limit }) {
      const [job] = await ctx.rows<{ seq: number; log_truncated: number }>(
        ctx.pool,
        'SELECT seq, log_truncated FROM jobs WHERE id = $1',
        [jobId],
      );
      if (job === undefined) throw jobNotFound(jobId);
      const rows = await ctx.rows<{
        seq: number;
        stream: LogChunk['stream'];
        data: string;
        at: number;
      }>(ctx.pool, READ_LOG_SQL, [job.seq, afterSeq ?? 0, limit ?? null]);
      return {
        chunks: rows.map((r) => ({ jobId, seq: r.seq, stream: r.stream, data: r.data, at: r.at })),
        truncated: job.log_truncated !== 0,
      };
    },
  };
}

/**
 * Deletes the job's oldest chunks until its total is within the cap: a running sum over
 * the job's chunks (its primary-key range) finds the last one to go, then one DELETE.
 */
async function trimOldest(t: PgTx, stored: StoredJob, capBytes: number): Promise<void> {
  const excess = stored.log.bytes - capBytes;
  const [cut] = await t.rows<{ last_seq: number; freed: number }>(
    'SELECT seq AS last_seq, freed FROM (SELECT seq, SUM(bytes) OVER (ORDER BY seq)::bigint AS freed FROM job_logs WHERE job_seq = $1) s ' +
      'WHERE freed >= $2 ORDER BY seq LIMIT 1',
    [stored.seq, excess],
  );
  if (cut === undefined) return;
  await t.rows('DELETE FROM job_logs WHERE job_seq = $1 AND seq <= $2', [stored.seq, cut.last_seq]);
  stored.log.bytes -= cut.freed;
  stored.log.truncated = true;
}
