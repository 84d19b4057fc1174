import { cancelJob, retryJob, type JobRecord } from '@offload/core';
import { inIdOrder } from '../shared/job-rows.js';
import type { Store, SubmitResult } from '../store.js';
import type { SqliteContext, TxWriter } from './sqlite-context.js';
import { JOB_COLUMNS, type StoredJob } from './sqlite-rows.js';

type JobMethods = Pick<
  Store,
  | 'jobsSubmit'
  | 'jobGet'
  | 'jobsGet'
  | 'jobCancel'
  | 'jobRetry'
  | 'jobsPurgeFinished'
  | 'jobsRunningOnAgent'
>;

export const RUNNING_ON_AGENT_SQL = `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_running_agent WHERE agent_id = ? AND state = 'running' ORDER BY seq`;
/**
 * Several jobs by id in one statement: the ids as one JSON array (json_each walks it), each
 * a probe of the id index. One prepared text whatever the number of ids.
 */
export const BY_IDS_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))`;
/** Written exactly as jobs_finished's condition (ORs, not IN: see migration 003), so the index applies. */
export const PURGE_SQL =
  `SELECT ${JOB_COLUMNS} FROM jobs INDEXED BY jobs_finished WHERE (state = 'succeeded' OR state = 'failed' OR state = 'canceled' OR state = 'expired') ` +
  'AND finished_at < ? ORDER BY finished_at LIMIT ?';

/**
 * Which of `jobs` are new, before any is stored: a job whose idempotency key is used already
 * — by a stored job, or by one earlier in this batch — is answered with that job. `results`
 * holds every answer in input order; `created` the new records, to be stored in that order.
 */
export function planSubmit(
  w: TxWriter,
  jobs: readonly JobRecord[],
): { results: SubmitResult[]; created: JobRecord[] } {
  const results: SubmitResult[] = [];
  const created: JobRecord[] = [];
  const byKey = new Map<string, JobRecord>();
  for (const job of jobs) {
    const key = job.idempotencyKey;
    if (key !== null) {
      const existing =
        byKey.get(key) ??
        w.ctx.loadAll(`SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = ?`, key)[0]?.job;
      if (existing !== undefined) {
        results.push({ job: existing, created: false });
        continue;
      }
      byKey.set(key, job);
    }
    results.push({ job, created: true });
    created.push(job);
  }
  return { results, created };
}

export function createSqliteJobs(ctx: SqliteContext): JobMethods {
  return {
    async jobsSubmit({ jobs }) {
      return ctx.tx((w) => {
        const { results, created } = planSubmit(w, jobs);
        for (const job of created) w.insertJob(job);
        return results;
      });
    },

    async jobGet({ id }) {
      return ctx.loadById(id)?.job ?? null;
    },

    async jobsGet({ ids }) {
      if (ids.length === 0) return [];
      const found = ctx.loadAll(BY_IDS_SQL, JSON.stringify([...new Set(ids)]));
      return inIdOrder(
        ids,
        found.map((s) => s.job),
      );
    },

    async jobCancel({ id, now }) {
      return ctx.tx((w) => {
        const stored = ctx.mustLoad(id);
        const { patch, immediate } = cancelJob(stored.job, now);
        return { job: w.transition(stored, patch), immediate };
      });
    },

    async jobRetry({ id, now }) {
      return ctx.tx((w) => {
        const stored = ctx.mustLoad(id);
        return w.transition(stored, retryJob(stored.job, now));
      });
    },

    async jobsPurgeFinished({ before, limit }) {
      if (limit <= 0) return 0;
      return ctx.tx((w) => {
        const victims: StoredJob[] = ctx.loadAll(PURGE_SQL, before, limit);
        for (const v of victims) w.deleteJob(v);
        return victims.length;
      });
    },

    async jobsRunningOnAgent({ agentId }) {
      return ctx.loadAll(RUNNING_ON_AGENT_SQL, agentId).map((s) => s.job);
    },
  };
}
