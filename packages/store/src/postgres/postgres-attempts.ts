import { progressJob, type JobRecord } from '@offload/core';
import {
  ATTEMPT_COLUMNS,
  rowToAttempt,
  withRunning,
  type AttemptRow,
} from '../shared/attempt-rows.js';
import { completeReported, holdsLease } from '../shared/fencing.js';
import type { StoredJob } from '../shared/job-rows.js';
import type { Store } from '../store.js';
import { PgEndedAttempts } from './postgres-attempt-rows.js';
import { jobNotFound, LOCK_BY_IDS_SQL, type PgContext, type PgTx } from './postgres-context.js';

/** A job's ended attempts: one range of the primary key, in order. */
const ATTEMPTS_SQL = `SELECT ${ATTEMPT_COLUMNS} FROM job_attempts WHERE job_seq = $1 ORDER BY started_at, lease_id`;

/** Locks every job a batch of reports names, in one statement, in seq order. */
export async function lockReported(
  t: PgTx,
  reports: ReadonlyArray<{ jobId: string }>,
): Promise<Map<string, StoredJob>> {
  const ids = [...new Set(reports.map((r) => r.jobId))];
  const stored = await t.jobs(LOCK_BY_IDS_SQL, [ids]);
  return new Map(stored.map((s) => [s.job.id, s]));
}

export function createPgAttempts(
  ctx: PgContext,
): Pick<Store, 'jobsComplete' | 'jobsProgress' | 'attemptsList'> {
  return {
    /**
     * One transaction per batch, four statements whatever its size: lock the reported
     * jobs, insert the ended attempts, one UPDATE per distinct transition shape (usually
     * one), one counts upsert.
     */
    async jobsComplete({ agentId, reports, now }) {
      if (reports.length === 0) return [];
      return ctx.tx(async (t) => {
        const byId = await lockReported(t, reports);
        const ended = new PgEndedAttempts(t, now);
        const results = reports.map((report) =>
          completeReported(byId.get(report.jobId), report, agentId, now, (s, p) =>
            ended.transition(s, p),
          ),
        );
        await ended.write();
        return results;
      });
    },

    async jobsProgress({ agentId, reports }) {
      if (reports.length === 0) return { stale: [], jobs: [] };
      return ctx.tx(async (t) => {
        const byId = await lockReported(t, reports);
        const stale: string[] = [];
        const jobs = new Map<string, JobRecord>();
        for (const report of reports) {
          const stored = byId.get(report.jobId);
          if (stored === undefined || !holdsLease(stored, agentId, report.leaseId)) {
            if (!stale.includes(report.leaseId)) stale.push(report.leaseId);
            continue;
          }
          const progress: { percent?: number; stage?: string; message?: string } = {};
          if (report.percent !== undefined) progress.percent = report.percent;
          if (report.stage !== undefined) progress.stage = report.stage;
          if (report.message !== undefined) progress.message = report.message;
          jobs.set(report.jobId, t.transition(stored, progressJob(stored.job, progress)));
        }
        return { stale, jobs: [...jobs.values()] };
      });
    },

    async attemptsList({ jobId }) {
      const stored = await ctx.loadById(ctx.pool, jobId);
      if (stored === null) throw jobNotFound(jobId);
      // Read after the job: an attempt that ends in between is in both, and withRunning
      // keeps its record; read before, it would be in neither.
      const res = await ctx.pool.query(ctx.arrayConfig(ATTEMPTS_SQL, [stored.seq]));
      return withRunning(
        (res.rows as AttemptRow[]).map((r) => rowToAttempt(jobId, r)),
        stored.job,
      );
    },
  };
}
