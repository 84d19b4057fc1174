import { progressJob, type JobRecord } from '@offload/core';
import {
  ATTEMPT_COLUMNS,
  rowToAttempt,
  withRunning,
  type AttemptRow,
} from '../shared/attempt-rows.js';
import { completeReported, holdsLease } from '../shared/fencing.js';
import type { Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

/** A job's ended attempts: one range of the primary key, already in order. */
export const ATTEMPTS_SQL = `SELECT ${ATTEMPT_COLUMNS} FROM job_attempts WHERE job_seq = ? ORDER BY started_at, lease_id`;

export function createSqliteAttempts(
  ctx: SqliteContext,
): Pick<Store, 'jobsComplete' | 'jobsProgress' | 'attemptsList'> {
  return {
    async jobsComplete({ agentId, reports, now }) {
      if (reports.length === 0) return [];
      // One transaction for the batch: commits, not rows, are SQLite's cost (~30 µs each).
      return ctx.tx((w) =>
        reports.map((report) =>
          completeReported(ctx.loadById(report.jobId), report, agentId, now, (s, p) =>
            w.endAttempt(s, p, now),
          ),
        ),
      );
    },

    async jobsProgress({ agentId, reports }) {
      if (reports.length === 0) return { stale: [], jobs: [] };
      return ctx.tx((w) => {
        const stale: string[] = [];
        const jobs = new Map<string, JobRecord>();
        for (const report of reports) {
          const stored = ctx.loadById(report.jobId);
          if (stored === null || !holdsLease(stored, agentId, report.leaseId)) {
            if (!stale.includes(report.leaseId)) stale.push(report.leaseId);
            continue;
          }
          const progress: { percent?: number; stage?: string; message?: string } = {};
          if (report.percent !== undefined) progress.percent = report.percent;
          if (report.stage !== undefined) progress.stage = report.stage;
          if (report.message !== undefined) progress.message = report.message;
          jobs.set(report.jobId, w.transition(stored, progressJob(stored.job, progress)));
        }
        return { stale, jobs: [...jobs.values()] };
      });
    },

    async attemptsList({ jobId }) {
      const stored = ctx.mustLoad(jobId);
      const rows = ctx.rowsStmt(ATTEMPTS_SQL).all(stored.seq) as AttemptRow[];
      return withRunning(
        rows.map((r) => rowToAttempt(jobId, r)),
        stored.job,
      );
    },
  };
}
