import { cancelJob, retryJob, type JobRecord } from '@offload/core';
import { inIdOrder, JOB_COLUMNS, jobInsertParams } from '../shared/job-rows.js';
import type { Store, SubmitResult } from '../store.js';
import type { PgContext, PgTx } from './postgres-context.js';
import { columns, INSERT_JOBS_SQL, INSERT_WIDTH } from './postgres-rows.js';

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

export const RUNNING_ON_AGENT_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE agent_id = $1 AND state = 'running' ORDER BY seq`;
/**
 * Several jobs by id: one probe of jobs_id_key per id. The ids travel as one array, so the
 * text (a named statement) is the same whatever their number; no ORDER BY (the caller's
 * order is restored in memory, see inIdOrder).
 */
export const BY_IDS_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`;
export const BY_IDEMPOTENCY_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = ANY($1::text[])`;

/**
 * Retention: the oldest finished jobs, locked (SKIP LOCKED: two servers purging at once
 * take different jobs). Only the few columns the delete needs.
 */
export const PURGE_SQL =
  "SELECT seq, queue, state, tags FROM jobs WHERE state IN ('succeeded', 'failed', 'canceled', 'expired') " +
  'AND finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED';

const INSERT_TAGS_SQL =
  'INSERT INTO job_tags (key, value, job_seq) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])';
const DELETE_TAGS_SQL =
  'DELETE FROM job_tags t USING unnest($1::text[], $2::text[], $3::bigint[]) AS u(key, value, job_seq) ' +
  'WHERE t.key = u.key AND t.value = u.value AND t.job_seq = u.job_seq';

/** jobsSubmit's work, inside the caller's transaction (a submit alone, or a hand-off). */
export async function submitWithin(
  ctx: PgContext,
  t: PgTx,
  jobs: readonly JobRecord[],
): Promise<SubmitResult[]> {
  // The first job of the batch with a key stands for the later ones with that key.
  const firstWithKey = new Map<string, number>();
  const rows: unknown[][] = [];
  const inserted: number[] = [];
  const classOf = new Map<string, number>();
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    if (job.idempotencyKey !== null) {
      if (firstWithKey.has(job.idempotencyKey)) continue;
      firstWithKey.set(job.idempotencyKey, i);
    }
    const classId = await ctx.classes.idFor(t.client, job, t.createdClasses);
    classOf.set(job.id, classId);
    // Kept as given: a claim hands this text to the agent without parse or stringify.
    rows.push(jobInsertParams(job, classId, JSON.stringify(job.payload)));
    inserted.push(i);
  }
  const stored = await t.rows<{ id: string; seq: number }>(
    INSERT_JOBS_SQL,
    columns(rows, INSERT_WIDTH),
  );
  const seqById = new Map(stored.map((r) => [r.id, r.seq]));

  // Keys that were already taken: the existing jobs, read after the conflict resolved.
  const taken = inserted
    .map((i) => jobs[i]!)
    .filter((j) => j.idempotencyKey !== null && !seqById.has(j.id))
    .map((j) => j.idempotencyKey!);
  const existing = new Map<string, JobRecord>();
  if (taken.length > 0) {
    for (const s of await t.jobs(BY_IDEMPOTENCY_SQL, [taken]))
      existing.set(s.job.idempotencyKey!, s.job);
  }

  const tags: [string[], string[], number[]] = [[], [], []];
  const out = jobs.map((job, i): { job: JobRecord; created: boolean } => {
    const key = job.idempotencyKey;
    if (key !== null && firstWithKey.get(key) !== i) {
      const first = jobs[firstWithKey.get(key)!]!;
      return { job: existing.get(key) ?? first, created: false };
    }
    const seq = seqById.get(job.id);
    if (seq === undefined) {
      const found = key === null ? undefined : existing.get(key);
      if (found === undefined) throw new Error(`job ${job.id} was neither stored nor found`);
      return { job: found, created: false };
    }
    for (const [k, v] of Object.entries(job.tags)) {
      tags[0].push(k);
      tags[1].push(v);
      tags[2].push(seq);
    }
    t.created(job, classOf.get(job.id)!);
    return { job, created: true };
  });
  if (tags[0].length > 0) await t.rows(INSERT_TAGS_SQL, tags);
  return out;
}

export function createPgJobs(ctx: PgContext): JobMethods {
  return {
    async jobsSubmit({ jobs }) {
      if (jobs.length === 0) return [];
      return ctx.tx((t) => submitWithin(ctx, t, jobs));
    },

    async jobGet({ id }) {
      return (await ctx.loadById(ctx.pool, id))?.job ?? null;
    },

    async jobsGet({ ids }) {
      if (ids.length === 0) return [];
      const found = await ctx.jobs(ctx.pool, BY_IDS_SQL, [[...new Set(ids)]]);
      return inIdOrder(
        ids,
        found.map((s) => s.job),
      );
    },

    async jobCancel({ id, now }) {
      return ctx.tx(async (t) => {
        const stored = await t.mustLock(id);
        const { patch, immediate } = cancelJob(stored.job, now);
        return { job: t.transition(stored, patch), immediate };
      });
    },

    async jobRetry({ id, now }) {
      return ctx.tx(async (t) => {
        const stored = await t.mustLock(id);
        return t.transition(stored, retryJob(stored.job, now));
      });
    },

    async jobsPurgeFinished({ before, limit }) {
      if (limit <= 0) return 0;
      return ctx.tx(async (t) => purge(t, before, limit));
    },

    async jobsRunningOnAgent({ agentId }) {
      return (await ctx.jobs(ctx.pool, RUNNING_ON_AGENT_SQL, [agentId])).map((s) => s.job);
    },
  };
}

/** Deletes the victims with their tags, logs and attempts: five set-based statements whatever their number. */
async function purge(t: PgTx, before: number, limit: number): Promise<number> {
  const victims = await t.rows<{
    seq: number;
    queue: string;
    state: JobRecord['state'];
    tags: string;
  }>(PURGE_SQL, [before, limit]);
  if (victims.length === 0) return 0;
  const seqs = victims.map((v) => v.seq);
  const tags: [string[], string[], number[]] = [[], [], []];
  for (const v of victims) {
    for (const [k, val] of Object.entries(JSON.parse(v.tags) as Record<string, string>)) {
      tags[0].push(k);
      tags[1].push(val);
      tags[2].push(v.seq);
    }
    t.count(v.queue, v.state, -1);
  }
  if (tags[0].length > 0) await t.rows(DELETE_TAGS_SQL, tags);
  await t.rows('DELETE FROM job_logs WHERE job_seq = ANY($1::bigint[])', [seqs]);
  await t.rows('DELETE FROM job_attempts WHERE job_seq = ANY($1::bigint[])', [seqs]);
  await t.rows('DELETE FROM jobs WHERE seq = ANY($1::bigint[])', [seqs]);
  return victims.length;
}
