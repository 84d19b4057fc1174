import { progressJob, type JobRecord } from '@offload/core';
import { completeReported, holdsLease } from '../shared/fencing.js';
import type { Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

export function createSqliteAttempts(
  ctx: SqliteContext,
): Pick<Store, 'jobsComplete' | 'jobsProgress'> {
  return {
    async jobsComplete({ agentId, reports, now }) {
      if (reports.length === 0) return [];
      // One transaction for the batch: commits, not rows, are SQLite's cost (~30 µs each).
      return ctx.tx((w) =>
        reports.map((report) =>
          completeReported(ctx.loadById(report.jobId), report, agentId, now, (s, p) =>
            w.transition(s, p),
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
  };
}
