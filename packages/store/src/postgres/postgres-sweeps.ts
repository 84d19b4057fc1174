import {
  expireJob,
  promoteJob,
  timeoutAttempt,
  type JobPatch,
  type JobRecord,
} from '@offload/core';
import { JOB_COLUMNS } from '../shared/job-rows.js';
import type { Store } from '../store.js';
import { PgEndedAttempts } from './postgres-attempt-rows.js';
import type { PgContext } from './postgres-context.js';

// Due times are columns with partial indexes; sweeps take the oldest due first, in
// batches, locked with SKIP LOCKED so that two servers sweeping at once split the work
// instead of queueing behind each other. nextDueAt is three MINs over the same indexes
// in one statement (one timer, not one per job).

export const PROMOTE_DUE_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'scheduled' AND run_at <= $1 ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED`;
export const EXPIRE_DUE_SQL =
  `SELECT ${JOB_COLUMNS} FROM jobs WHERE state IN ('scheduled', 'queued') AND expire_at IS NOT NULL AND expire_at <= $1 ` +
  'ORDER BY expire_at LIMIT $2 FOR UPDATE SKIP LOCKED';
export const TIMEOUT_DUE_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'running' AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2 FOR UPDATE SKIP LOCKED`;

export const NEXT_PROMOTE_SQL = "SELECT MIN(run_at) FROM jobs WHERE state = 'scheduled'";
export const NEXT_EXPIRE_SQL =
  "SELECT MIN(expire_at) FROM jobs WHERE state IN ('scheduled', 'queued') AND expire_at IS NOT NULL";
export const NEXT_TIMEOUT_SQL = "SELECT MIN(deadline_at) FROM jobs WHERE state = 'running'";
const NEXT_DUE_SQL = `SELECT (${NEXT_PROMOTE_SQL}) AS promote, (${NEXT_EXPIRE_SQL}) AS expire, (${NEXT_TIMEOUT_SQL}) AS deadline`;

type SweepMethods = Pick<
  Store,
  'jobsPromoteDue' | 'jobsExpireDue' | 'jobsTimeoutDue' | 'nextDueAt'
>;

export function createPgSweeps(ctx: PgContext): SweepMethods {
  const sweep = async (
    sql: string,
    due: number,
    limit: number,
    patchOf: (job: JobRecord) => JobPatch,
    now: number,
  ): Promise<JobRecord[]> => {
    if (limit <= 0) return [];
    return ctx.tx(async (t) => {
      // A timeout ends the running attempt; promote and expire end none (and write nothing).
      const ended = new PgEndedAttempts(t, now);
      const jobs = (await t.jobs(sql, [due, limit])).map((s) =>
        ended.transition(s, patchOf(s.job)),
      );
      await ended.write();
      return jobs;
    });
  };

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
      const [row] = await ctx.rows<{
        promote: number | null;
        expire: number | null;
        deadline: number | null;
      }>(ctx.pool, NEXT_DUE_SQL);
      const times = [
        row?.promote,
        row?.expire,
        row?.deadline == null ? null : row.deadline + graceMs,
      ];
      const due = times.filter((t): t is number => t !== null && t !== undefined);
      return due.length === 0 ? null : Math.min(...due);
    },
  };
}
