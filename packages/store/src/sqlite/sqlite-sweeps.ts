import {
  expireJob,
  promoteJob,
  timeoutAttempt,
  type JobPatch,
  type JobRecord,
} from '@offload/core';
import type { Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';
import { JOB_COLUMNS, type StoredJob } from './sqlite-rows.js';

// Due times are columns with partial indexes; sweeps take the oldest due first, in
// batches, and nextDueAt is three MINs over the same indexes (one timer, not one per job).
// INDEXED BY: without it the planner prefers the list index (state, seq) — an equality —
// and then reads and sorts every job in that state. SQLite refuses the query outright
// rather than scan if the named index ever stops matching.

export const PROMOTE_DUE_SQL = `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_promote WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT ?`;
export const EXPIRE_DUE_SQL =
  `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_expire WHERE state IN ('scheduled', 'queued') AND expire_at IS NOT NULL AND expire_at <= ? ` +
  'ORDER BY expire_at LIMIT ?';
export const TIMEOUT_DUE_SQL = `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_deadline WHERE state = 'running' AND deadline_at <= ? ORDER BY deadline_at LIMIT ?`;

export const NEXT_PROMOTE_SQL =
  "SELECT MIN(run_at) AS t FROM jobs INDEXED BY jobs_promote WHERE state = 'scheduled'";
export const NEXT_EXPIRE_SQL =
  "SELECT MIN(expire_at) AS t FROM jobs INDEXED BY jobs_expire WHERE state IN ('scheduled', 'queued') AND expire_at IS NOT NULL";
export const NEXT_TIMEOUT_SQL =
  "SELECT MIN(deadline_at) AS t FROM jobs INDEXED BY jobs_deadline WHERE state = 'running'";

type SweepMethods = Pick<
  Store,
  'jobsPromoteDue' | 'jobsExpireDue' | 'jobsTimeoutDue' | 'nextDueAt'
>;

export function createSqliteSweeps(ctx: SqliteContext): SweepMethods {
  const sweep = (
    sql: string,
    due: number,
    limit: number,
    patchOf: (job: JobRecord) => JobPatch,
    now: number,
  ): JobRecord[] => {
    if (limit <= 0) return [];
    // endAttempt: a timeout ends the running attempt; promote and expire end none.
    return ctx.tx((w) =>
      ctx.loadAll(sql, due, limit).map((s: StoredJob) => w.endAttempt(s, patchOf(s.job), now)),
    );
  };
  const min = (sql: string): number | null => (ctx.stmt(sql).get() as { t: number | null }).t;

  return {
    async jobsPromoteDue({ now, limit }) {
      return sweep(PROMOTE_DUE_SQL, now, limit, (job) => promoteJob(job, now), now);
    },

    async jobsExpireDue({ now, limit }) {
      return sweep(EXPIRE_DUE_SQL, now, limit, (job) => expireJob(job, now), now);
    },

    async jobsTimeoutDue({ now, graceMs, limit }) {
      return sweep(TIMEOUT_DUE_SQL, now - graceMs, limit, (job) => timeoutAttempt(job, now), now);
    },

    async nextDueAt({ graceMs }) {
      const deadline = min(NEXT_TIMEOUT_SQL);
      const times = [
        min(NEXT_PROMOTE_SQL),
        min(NEXT_EXPIRE_SQL),
        deadline === null ? null : deadline + graceMs,
      ];
      const due = times.filter((t): t is number => t !== null);
      return due.length === 0 ? null : Math.min(...due);
    },
  };
}
